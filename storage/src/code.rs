//! Validated identifiers that end up in file paths and topic names.
//!
//! Both types can only be built through validation, so a value of either type
//! is always safe to join onto a path: no separators, no dots, no uppercase,
//! nothing outside ASCII.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::StorageError;

/// A domain (tenant) code: `^[a-z][a-z0-9_]{1,49}$`, e.g. `serbia`, `sports_global`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DomainCode(String);

impl DomainCode {
    pub const MAX_LEN: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidDomainCode {
            code: raw.chars().take(64).collect(),
            reason: reason.to_string(),
        };
        if raw.is_empty() {
            return Err(invalid("it is empty"));
        }
        if raw.len() < 2 {
            return Err(invalid("it must be at least 2 characters long"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(invalid("it is longer than 50 characters"));
        }
        let mut chars = raw.chars();
        let first = chars.next().expect("non-empty");
        if !first.is_ascii_lowercase() {
            return Err(invalid("it must start with a lowercase letter a-z"));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(invalid(&format!(
                "character {bad:?} is not allowed (only a-z, 0-9 and _)"
            )));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DomainCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        DomainCode::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for DomainCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A person's id within a domain: a slug `^[a-z0-9][a-z0-9_-]{0,99}$`,
/// e.g. `novak_djokovic`. Used as a folder name under the domain's paths.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PersonId(String);

impl PersonId {
    pub const MAX_LEN: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidPersonId {
            id: raw.chars().take(64).collect(),
            reason: reason.to_string(),
        };
        if raw.is_empty() {
            return Err(invalid("it is empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(invalid("it is longer than 100 characters"));
        }
        let first = raw.chars().next().expect("non-empty");
        if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
            return Err(invalid("it must start with a-z or 0-9"));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(invalid(&format!(
                "character {bad:?} is not allowed (only a-z, 0-9, _ and -)"
            )));
        }
        Ok(Self(raw.to_string()))
    }

    /// Derives an id from a display name: `"Novak Đoković"` → `novak_dokovic`.
    /// Returns `None` when nothing usable is left (e.g. a name in a script
    /// with no ASCII transliteration here); callers then fall back to an
    /// external id such as the Wikidata QID.
    pub fn slugify(name: &str) -> Option<Self> {
        let mut slug = String::with_capacity(name.len());
        for c in name.chars() {
            let mapped = fold_latin(c);
            for m in mapped.chars() {
                if m.is_ascii_alphanumeric() {
                    slug.push(m.to_ascii_lowercase());
                } else if !slug.ends_with('_') && !slug.is_empty() {
                    slug.push('_');
                }
            }
        }
        let slug = slug.trim_end_matches('_');
        let slug: String = slug.chars().take(Self::MAX_LEN).collect();
        Self::parse(slug.trim_end_matches('_')).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Folds the Latin letters with diacritics common in the product's markets
/// (South Slavic, Greek names are usually given in Latin by Wikidata too).
fn fold_latin(c: char) -> String {
    let s = match c {
        'đ' | 'Đ' => "dj",
        'ž' | 'Ž' => "z",
        'š' | 'Š' => "s",
        'č' | 'Č' | 'ć' | 'Ć' => "c",
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => "a",
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "e",
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => "i",
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => "o",
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => "u",
        'ñ' | 'Ñ' => "n",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => return c.to_string(),
    };
    s.to_string()
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PersonId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        PersonId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_design_codes() {
        for ok in [
            "serbia",
            "greece",
            "sports_global",
            "ab",
            "a1",
            &"a".repeat(50),
        ] {
            assert!(DomainCode::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_unsafe_or_malformed_codes() {
        let long = "a".repeat(51);
        for bad in [
            "",
            "a",
            "../x",
            "Serbia",
            "1serbia",
            "_x",
            "srbija-rs",
            "srb ija",
            "ser/bia",
            "србија",
            "serbia\0",
            "séerbia",
            &long,
        ] {
            let err = DomainCode::parse(bad).unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidDomainCode { .. }),
                "{bad:?} gave {err}"
            );
        }
    }

    #[test]
    fn error_names_the_reason() {
        let err = DomainCode::parse("Serbia").unwrap_err().to_string();
        assert!(err.contains("lowercase"), "{err}");
        let err = DomainCode::parse("../x").unwrap_err().to_string();
        assert!(err.contains("start with"), "{err}");
    }

    #[test]
    fn person_slugs() {
        assert_eq!(
            PersonId::slugify("Novak Đoković").unwrap().as_str(),
            "novak_djokovic"
        );
        assert_eq!(
            PersonId::slugify("  Ana -- Ivanović ").unwrap().as_str(),
            "ana_ivanovic"
        );
        assert!(PersonId::slugify("Γιάννης").is_none());
        assert!(PersonId::parse("../etc").is_err());
        assert!(PersonId::parse("a/b").is_err());
        assert!(PersonId::parse("q42").is_ok());
    }
}
