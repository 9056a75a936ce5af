//! Token hashes from the config and their constant-time lookup.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use facerec_storage::DomainCode;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// One `[[tokens]]` entry of the config file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Shown in logs; never the token itself.
    pub name: String,
    /// Hex sha256 of the token (`facerecd token hash` prints it).
    pub sha256: String,
    /// Domains the token may use; `["*"]` for all.
    #[serde(default)]
    pub domains: Vec<String>,
    /// May create, change and delete domains. Implies every domain.
    #[serde(default)]
    pub admin: bool,
}

impl TokenConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        self.entry().map(|_| ())
    }

    fn entry(&self) -> anyhow::Result<TokenEntry> {
        let hash: [u8; 32] = hex::decode(self.sha256.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| {
                format!(
                    "token {:?}: sha256 must be 64 hex digits (see `facerecd token hash`)",
                    self.name
                )
            })?;
        let scope = if self.admin || self.domains.iter().any(|d| d == "*") {
            TokenScope::Any
        } else {
            if self.domains.is_empty() {
                bail!(
                    "token {:?} lists no domains (use [\"*\"] for all)",
                    self.name
                );
            }
            let set = self
                .domains
                .iter()
                .map(|d| DomainCode::parse(d).with_context(|| format!("token {:?}", self.name)))
                .collect::<anyhow::Result<BTreeSet<_>>>()?;
            TokenScope::Domains(set)
        };
        Ok(TokenEntry {
            name: self.name.clone(),
            hash,
            scope,
            admin: self.admin,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    Any,
    Domains(BTreeSet<DomainCode>),
}

impl TokenScope {
    pub fn allows(&self, d: &DomainCode) -> bool {
        match self {
            TokenScope::Any => true,
            TokenScope::Domains(set) => set.contains(d),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub name: String,
    hash: [u8; 32],
    pub scope: TokenScope,
    pub admin: bool,
}

impl TokenEntry {
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

#[derive(Debug, Clone, Default)]
pub struct TokenTable {
    entries: Vec<TokenEntry>,
}

impl TokenTable {
    pub fn from_config(tokens: &[TokenConfig]) -> anyhow::Result<Self> {
        Ok(Self {
            entries: tokens
                .iter()
                .map(TokenConfig::entry)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn has_admin(&self) -> bool {
        self.entries.iter().any(|e| e.admin)
    }

    /// The entry whose token hashes to `hash`.
    pub fn by_hash(&self, hash: &[u8; 32]) -> Option<&TokenEntry> {
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.hash.ct_eq(hash)) {
                found = Some(entry);
            }
        }
        found
    }

    /// Finds the entry for a presented token. Every entry is compared, in
    /// constant time, so timing reveals neither which entry matched nor how
    /// much of a hash did.
    pub fn authenticate(&self, presented: &str) -> Option<&TokenEntry> {
        let hash = hash_token(presented);
        let mut found = None;
        for entry in &self.entries {
            if bool::from(entry.hash.ct_eq(&hash)) {
                found = Some(entry);
            }
        }
        found
    }
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: 32 bytes from the OS RNG, hex, prefixed `frc_` so it
/// is recognisable in secret scanners.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("frc_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(name: &str, token: &str, domains: &[&str], admin: bool) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            sha256: hex::encode(hash_token(token)),
            domains: domains.iter().map(|s| s.to_string()).collect(),
            admin,
        }
    }

    #[test]
    fn authenticates_by_hash_only() {
        let table = TokenTable::from_config(&[
            cfg("rs", "secret-rs", &["serbia"], false),
            cfg("ops", "secret-ops", &[], true),
        ])
        .unwrap();
        assert_eq!(table.authenticate("secret-rs").unwrap().name, "rs");
        assert!(table.authenticate("secret-ops").unwrap().admin);
        assert!(table.authenticate("secret-r").is_none());
        assert!(table.authenticate("").is_none());
        let serbia = DomainCode::parse("serbia").unwrap();
        let greece = DomainCode::parse("greece").unwrap();
        let rs = table.authenticate("secret-rs").unwrap();
        assert!(rs.scope.allows(&serbia) && !rs.scope.allows(&greece));
    }

    #[test]
    fn rejects_bad_entries() {
        let mut bad = cfg("x", "t", &["serbia"], false);
        bad.sha256 = "abc".into();
        assert!(
            TokenTable::from_config(&[bad])
                .unwrap_err()
                .to_string()
                .contains("64 hex")
        );
        assert!(TokenTable::from_config(&[cfg("x", "t", &[], false)]).is_err());
        assert!(TokenTable::from_config(&[cfg("x", "t", &["../x"], false)]).is_err());
    }

    #[test]
    fn generated_tokens_differ() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
    }
}
