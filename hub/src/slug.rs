//! Person ids from display names: `Novak Đoković` → `novak_dokovic`,
//! `Никола Јокић` → `nikola_jokic`.

use facerec_storage::PersonId;

/// A valid person id for `name`, or from the wikidata id when the name has
/// no usable letters.
pub fn person_id(name: &str, wikidata_id: Option<&str>) -> Option<PersonId> {
    let latin: String = name.to_lowercase().chars().map(serbian_latin).collect();
    let ascii = deunicode::deunicode(&latin).to_ascii_lowercase();
    let mut slug = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    let slug: String = slug.chars().take(PersonId::MAX_LEN).collect();
    PersonId::parse(&slug)
        .ok()
        .or_else(|| wikidata_id.and_then(|q| PersonId::parse(&q.to_ascii_lowercase()).ok()))
}

/// Serbian Cyrillic letters as Serbian Latin writes them (deunicode's
/// generic transliteration would make `ћ` "tsh"); deunicode then folds the
/// diacritics.
fn serbian_latin(c: char) -> char {
    match c {
        'ђ' => 'đ',
        'ћ' => 'ć',
        'ч' => 'č',
        'ж' => 'ž',
        'ш' => 'š',
        'ј' => 'j',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_script_become_ascii_slugs() {
        let id = |n: &str| person_id(n, None).map(|p| p.to_string());
        assert_eq!(id("Novak Đoković").as_deref(), Some("novak_dokovic"));
        assert_eq!(id("Никола Јокић").as_deref(), Some("nikola_jokic"));
        assert_eq!(
            id("  Ana   Ivanović (tennis) ").as_deref(),
            Some("ana_ivanovic_tennis")
        );
        assert_eq!(id("../../etc/passwd").as_deref(), Some("etc_passwd"));
        assert_eq!(person_id("???", Some("Q42")).unwrap().as_str(), "q42");
        assert!(person_id("", None).is_none());
    }
}
