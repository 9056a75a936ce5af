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
    if name.chars().count() > MAX_NAME_CHARS || !printable(name) {
        return Err(format!(
            "name must be at most {MAX_NAME_CHARS} printable characters"
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

/// The output as a whole (size, count) must fit, or the call fails; then
/// each row is checked on its own.
pub(crate) fn check_candidates(
    candidates: Vec<Candidate>,
    limits: &PluginLimits,
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
    let mut out = Generated::default();
    for (index, c) in candidates.into_iter().enumerate() {
        match check_candidate(&c) {
            Ok(()) => out.candidates.push(c),
            Err(reason) => out.rejected.push(RejectedCandidate {
                index,
                name: truncate(&c.name, 60)
                    .chars()
                    .filter(|ch| !ch.is_control())
                    .collect(),
                wikidata_id: c.wikidata_id.filter(|q| q.len() <= 12 && printable(q)),
                reason,
            }),
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
