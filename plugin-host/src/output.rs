//! Checks what a plugin returns before anything else sees it: total size,
//! count, and fields a person or the storage layer would choke on.

use url::Url;

use crate::bindings::{Candidate, Decision};
use crate::error::PluginErrorKind;
use crate::limits::PluginLimits;

const MAX_NAME_CHARS: usize = 300;
const MAX_URL_LEN: usize = 2048;
const MAX_LIST: usize = 64;
const MAX_REASON_CHARS: usize = 500;

fn candidate_bytes(c: &Candidate) -> usize {
    c.id.len()
        + c.name.len()
        + c.wikidata_id.as_ref().map_or(0, String::len)
        + c.country.as_ref().map_or(0, String::len)
        + c.occupations.iter().map(String::len).sum::<usize>()
        + c.image_urls.iter().map(String::len).sum::<usize>()
        + c.description.as_ref().map_or(0, String::len)
        + c.attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

fn check_candidate(c: &Candidate) -> Result<(), String> {
    let name = c.name.trim();
    if name.is_empty() {
        return Err("empty name".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the name holds a control character (U+{:04X})",
            c as u32
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if let Some(q) = &c.wikidata_id {
        let ok = q.len() > 1
            && q.len() <= 12
            && q.starts_with('Q')
            && q[1..].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(format!("wikidata id {q:?} is not like Q42"));
        }
    }
    if c.occupations.len() > MAX_LIST
        || c.image_urls.len() > MAX_LIST
        || c.attributes.len() > MAX_LIST
    {
        return Err(format!(
            "more than {MAX_LIST} occupations, image URLs or attributes"
        ));
    }
    if !c.occupations.iter().all(|o| printable(o) && o.len() <= 200) {
        return Err("an occupation is too long or not printable".into());
    }
    for u in &c.image_urls {
        let ok = u.len() <= MAX_URL_LEN
            && Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"));
        if !ok {
            return Err(format!(
                "image URL {:?} is not an http(s) URL",
                truncate(u, 80)
            ));
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// A candidate a source returned that the host set aside, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedCandidate {
    /// Its place in the plugin's output.
    pub index: usize,
    /// Its name, shortened and stripped of control characters.
    pub name: String,
    pub wikidata_id: Option<String>,
    pub reason: String,
}

/// What a source plugin returned: the usable candidates, and the rows set
/// aside. One bad row costs that row, not the run.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub candidates: Vec<Candidate>,
    pub rejected: Vec<RejectedCandidate>,
}

fn rejected(index: usize, c: &Candidate, reason: String) -> RejectedCandidate {
    RejectedCandidate {
        index,
        name: truncate(&c.name, 60)
            .chars()
            .filter(|ch| !ch.is_control())
            .collect(),
        wikidata_id: c
            .wikidata_id
            .clone()
            .filter(|q| q.len() <= 12 && printable(q)),
        reason,
    }
}

/// Rows whose `id` another row uses for a different person (another
/// Wikidata id, or none against one): which of them the id belongs to is
/// unknowable, so none of them is used — an id never merges two people.
/// Rows repeating one person (same id, same Wikidata id) are kept; the
/// host deduplicates them.
fn conflicting_ids(candidates: &[Candidate]) -> std::collections::HashMap<usize, String> {
    let mut by_id: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, c) in candidates.iter().enumerate() {
        if !c.id.is_empty() {
            by_id.entry(c.id.as_str()).or_default().push(i);
        }
    }
    let mut out = std::collections::HashMap::new();
    for (id, rows) in by_id {
        let first = &candidates[rows[0]].wikidata_id;
        if rows.len() > 1 && rows.iter().any(|&r| &candidates[r].wikidata_id != first) {
            let list: Vec<String> = rows.iter().map(usize::to_string).collect();
            for &r in &rows {
                out.insert(
                    r,
                    format!(
                        "id {:?} is used by rows {} for different people (ids must be unique)",
                        truncate(id, 60),
                        list.join(", ")
                    ),
                );
            }
        }
    }
    out
}

/// The output as a whole (size, count) must fit, or the call fails; then
/// each row is checked on its own, rows sharing an id for different people
/// are set aside, and rows past the query's `limit` too.
pub(crate) fn check_candidates(
    candidates: Vec<Candidate>,
    limits: &PluginLimits,
    limit: u32,
) -> Result<Generated, PluginErrorKind> {
    let bytes: usize = candidates.iter().map(candidate_bytes).sum();
    if bytes > limits.max_output_bytes {
        return Err(PluginErrorKind::OutputTooLarge {
            bytes,
            cap: limits.max_output_bytes,
        });
    }
    if candidates.len() > limits.max_candidates {
        return Err(PluginErrorKind::InvalidOutput(format!(
            "{} candidates is over the cap of {}",
            candidates.len(),
            limits.max_candidates
        )));
    }
    let mut conflicts = conflicting_ids(&candidates);
    let mut out = Generated::default();
    for (index, c) in candidates.into_iter().enumerate() {
        let verdict = check_candidate(&c).and_then(|()| match conflicts.remove(&index) {
            Some(reason) => Err(reason),
            None => Ok(()),
        });
        let verdict = verdict.and_then(|()| {
            if out.candidates.len() >= limit as usize {
                Err(format!("past the query's limit of {limit} candidates"))
            } else {
                Ok(())
            }
        });
        match verdict {
            Ok(()) => out.candidates.push(c),
            Err(reason) => out.rejected.push(rejected(index, &c, reason)),
        }
    }
    Ok(out)
}

/// One decision per candidate; over-long reasons are shortened, not refused.
pub(crate) fn check_decisions(
    decisions: &mut [Decision],
    expected: usize,
    limits: &PluginLimits,
) -> Result<(), PluginErrorKind> {
    let bytes: usize = decisions.iter().map(|d| d.reason.len() + 1).sum();
    if bytes > limits.max_output_bytes {
        return Err(PluginErrorKind::OutputTooLarge {
            bytes,
            cap: limits.max_output_bytes,
        });
    }
    if decisions.len() != expected {
        return Err(PluginErrorKind::InvalidOutput(format!(
            "{} decisions for {expected} candidates",
            decisions.len()
        )));
    }
    for d in decisions.iter_mut() {
        if d.reason.chars().count() > MAX_REASON_CHARS || !printable(&d.reason) {
            d.reason = d
                .reason
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_REASON_CHARS)
                .collect();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, name: &str, qid: Option<&str>) -> Candidate {
        Candidate {
            id: id.into(),
            name: name.into(),
            wikidata_id: qid.map(str::to_string),
            country: None,
            occupations: vec![],
            sitelinks: None,
            image_urls: vec![],
            description: None,
            attributes: vec![],
        }
    }

    #[test]
    fn an_id_shared_by_two_people_is_used_by_neither() {
        let rows = vec![
            person("ana", "Ana Ivanović", Some("Q9009")),
            person("ana", "Ana Other", Some("Q3306")),
            person("novak", "Novak Đoković", Some("Q5812")),
            person("novak", "Novak Đoković", Some("Q5812")),
        ];
        let out = check_candidates(rows, &PluginLimits::default(), 100).unwrap();
        let kept: Vec<&str> = out.candidates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            kept,
            ["Novak Đoković", "Novak Đoković"],
            "one person twice is kept"
        );
        assert_eq!(out.rejected.len(), 2);
        for r in &out.rejected {
            assert!(
                r.reason.contains(r#"id "ana" is used by rows 0, 1"#),
                "{}",
                r.reason
            );
        }
    }

    #[test]
    fn the_query_limit_is_enforced_and_reported() {
        let rows = vec![
            person("", "", None),
            person("", "A", None),
            person("", "B", None),
            person("", "C", None),
        ];
        let out = check_candidates(rows, &PluginLimits::default(), 2).unwrap();
        let kept: Vec<&str> = out.candidates.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(kept, ["A", "B"], "an invalid row does not use up the limit");
        let reasons: Vec<&str> = out.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["empty name", "past the query's limit of 2 candidates"]
        );
        assert_eq!(out.rejected[1].index, 3);
    }

    #[test]
    fn a_control_character_in_a_name_is_named_as_such() {
        let out = check_candidates(
            vec![person("", "Ana\u{7}", None)],
            &PluginLimits::default(),
            10,
        )
        .unwrap();
        assert_eq!(
            out.rejected[0].reason,
            "the name holds a control character (U+0007)"
        );
        assert_eq!(out.rejected[0].name, "Ana");
    }
}
