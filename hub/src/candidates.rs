//! Candidate generation: the domain's source plugins propose people, its
//! filter plugins keep or drop them, and the survivors are stored as
//! `candidate` people (deduplicated by wikidata id).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use facerec_plugin_host::{
    Allowlist, Candidate, Grants, PluginError, PluginHost, PluginKind, Query,
};
use facerec_storage::{
    Domain, DomainCode, NewPerson, PersonId, PersonStatus, PluginRef, StorageError, Store,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::slug::person_id;

/// The filter run for a domain's `filter` expression when it lists no
/// filter plugins.
pub const EXPRESSION_FILTER: &str = "sitelinks-filter";
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 5000;

/// What to generate; unset fields come from the domain.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CandidateRequest {
    /// ISO 3166-1 alpha-2 code or Wikidata item; defaults to the domain's `default_country`.
    pub country: Option<String>,
    /// One occupation; defaults to the domain's `default_occupations`.
    pub occupation: Option<String>,
    /// At most this many candidates per source (default 100, max 5000).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PluginRun {
    pub plugin: String,
    #[schema(value_type = String, example = "source")]
    pub kind: PluginKind,
    pub elapsed_ms: f64,
    /// Candidates the plugin received (filters) or 0 (sources).
    pub input: usize,
    /// Candidates it returned (sources) or kept (filters).
    pub output: usize,
    /// Set when the plugin failed; a failed source is skipped.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StageCounts {
    /// Returned by all sources together.
    pub generated: usize,
    /// Left after merging duplicates across sources (same wikidata id or id).
    pub unique: usize,
    /// Kept by every filter.
    pub kept: usize,
    pub dropped: usize,
    /// Stored as new people.
    pub new: usize,
    /// Already known to the domain (their status is kept).
    pub known: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateView {
    pub person_id: String,
    pub name: String,
    pub wikidata_id: Option<String>,
    pub country: Option<String>,
    pub occupations: Vec<String>,
    pub sitelinks: Option<u32>,
    pub image_urls: Vec<String>,
    /// The person's status in the domain (`candidate` unless already reviewed).
    pub status: PersonStatus,
    /// Whether this run added the person.
    pub new: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DroppedCandidate {
    pub name: String,
    pub wikidata_id: Option<String>,
    pub filter: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateReport {
    pub domain: String,
    pub country: Option<String>,
    pub occupations: Vec<String>,
    pub counts: StageCounts,
    pub plugins: Vec<PluginRun>,
    pub candidates: Vec<CandidateView>,
    pub dropped: Vec<DroppedCandidate>,
}

#[derive(Debug, thiserror::Error)]
pub enum CandidateError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("domain '{0}' has no candidate sources configured (set plugins.sources)")]
    NoSources(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("every source failed; first: {0}")]
    AllSourcesFailed(PluginError),
    /// A filter failed: nothing is stored (a candidate is stored only once
    /// every filter has judged it), and the error says what the sources
    /// had returned.
    #[error("{error}; nothing was stored: {sources}")]
    Filter {
        error: PluginError,
        /// What the sources returned, for the operator.
        sources: String,
    },
}

/// "the sources returned 37 candidates (wikidata-source 30, csv-source 7,
/// 2 rows set aside), 35 after merging duplicates".
fn sources_summary(runs: &[PluginRun], counts: &StageCounts, set_aside: usize) -> String {
    let per: Vec<String> = runs
        .iter()
        .map(|r| match &r.error {
            Some(_) => format!("{} failed", r.plugin),
            None => format!("{} {}", r.plugin, r.output),
        })
        .collect();
    format!(
        "the sources returned {} candidates ({}{}), {} after merging duplicates",
        counts.generated,
        per.join(", "),
        if set_aside > 0 {
            format!(", {set_aside} rows set aside")
        } else {
            String::new()
        },
        counts.unique
    )
}

/// Checks a domain's filters as they would run: each filter plugin is
/// called with its configuration and no candidates, so a filter that
/// cannot work (a bad expression, an unknown plugin, a config it refuses)
/// is refused when it is written, not at the next candidate run. The
/// plugin's own parser is the judge. Blocking.
pub fn check_filters(host: &PluginHost, domain: &Domain) -> Result<(), String> {
    let grants = Grants {
        domain: domain.domain_code.to_string(),
        http: Arc::new(Allowlist::default()),
    };
    for filter in filters_of(domain) {
        let query = query_for(domain, &CandidateRequest::default(), &filter.config);
        host.filter(&filter.name, &grants, &query, &[])
            .map_err(|e| format!("filter `{}`: {e}", filter.name))?;
    }
    Ok(())
}

/// The domain's filter plugins: listed ones, else its `filter` expression.
fn filters_of(domain: &Domain) -> Vec<PluginRef> {
    if !domain.plugins.filters.is_empty() {
        return domain.plugins.filters.clone();
    }
    domain
        .filter
        .iter()
        .map(|expression| PluginRef {
            name: EXPRESSION_FILTER.into(),
            config: serde_json::json!({ "expression": expression }),
        })
        .collect()
}

fn query_for(domain: &Domain, req: &CandidateRequest, config: &serde_json::Value) -> Query {
    Query {
        domain: domain.domain_code.to_string(),
        country: req
            .country
            .clone()
            .or_else(|| domain.default_country.clone()),
        occupations: match &req.occupation {
            Some(o) => vec![o.clone()],
            None => domain.default_occupations.clone(),
        },
        limit: req.limit.unwrap_or(DEFAULT_LIMIT),
        config: config.to_string(),
    }
}

/// The id for a candidate whose name makes `id`. Two people of one name
/// with different Wikidata ids are two people — never merged — so the
/// second one (in the store or earlier in this run) gets `{id}_{qid}`.
/// Without a Wikidata id on either side nothing tells them apart, and the
/// name decides.
fn distinct_id(
    store: &Store,
    code: &DomainCode,
    id: PersonId,
    qid: Option<&str>,
    taken: &mut HashMap<PersonId, Option<String>>,
) -> Result<PersonId, StorageError> {
    let owner = match taken.get(&id) {
        Some(owner) => Some(owner.clone()),
        None => store.get_person(code, &id)?.map(|p| p.wikidata_id),
    };
    let id = match (owner, qid) {
        (Some(Some(theirs)), Some(ours)) if !theirs.eq_ignore_ascii_case(ours) => {
            let suffix = format!("_{}", ours.to_ascii_lowercase());
            let stem: String = id
                .as_str()
                .chars()
                .take(PersonId::MAX_LEN.saturating_sub(suffix.len()))
                .collect();
            PersonId::parse(&format!("{stem}{suffix}")).unwrap_or(id)
        }
        _ => id,
    };
    taken.insert(id.clone(), qid.map(str::to_string));
    Ok(id)
}

fn key_of(c: &Candidate) -> String {
    c.wikidata_id
        .clone()
        .unwrap_or_else(|| format!("name:{}", c.name.trim().to_lowercase()))
}

/// Runs the whole stage for `code`. Blocking: call from a blocking thread.
pub fn generate(
    store: &Store,
    host: &PluginHost,
    code: &DomainCode,
    req: &CandidateRequest,
) -> Result<CandidateReport, CandidateError> {
    if req.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(CandidateError::InvalidRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let domain = store.domain(code)?;
    if domain.plugins.sources.is_empty() {
        return Err(CandidateError::NoSources(code.to_string()));
    }
    let allow =
        Allowlist::parse(&domain.plugins.http_allowlist).map_err(CandidateError::InvalidRequest)?;
    let grants = Grants {
        domain: code.to_string(),
        http: Arc::new(allow),
    };
    let base_query = query_for(&domain, req, &serde_json::Value::Null);
    let mut runs = Vec::new();
    let mut counts = StageCounts::default();

    let mut merged: Vec<Candidate> = Vec::new();
    let mut seen = HashSet::new();
    let mut first_error = None;
    let mut dropped = Vec::new();
    for source in &domain.plugins.sources {
        let started = Instant::now();
        let result = host.generate(
            &source.name,
            &grants,
            &query_for(&domain, req, &source.config),
        );
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        match result {
            Ok(found) => {
                runs.push(PluginRun {
                    plugin: source.name.clone(),
                    kind: PluginKind::Source,
                    elapsed_ms,
                    input: 0,
                    output: found.candidates.len(),
                    error: None,
                });
                counts.generated += found.candidates.len();
                // A row the host could not use is reported, not fatal.
                dropped.extend(found.rejected.into_iter().map(|r| DroppedCandidate {
                    name: r.name,
                    wikidata_id: r.wikidata_id,
                    filter: source.name.clone(),
                    reason: format!(
                        "row {} of the source's output is unusable: {}",
                        r.index, r.reason
                    ),
                }));
                for c in found.candidates {
                    if seen.insert(key_of(&c)) {
                        merged.push(c);
                    }
                }
            }
            Err(e) => {
                runs.push(PluginRun {
                    plugin: source.name.clone(),
                    kind: PluginKind::Source,
                    elapsed_ms,
                    input: 0,
                    output: 0,
                    error: Some(e.to_string()),
                });
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error
        && runs.iter().all(|r| r.error.is_some())
    {
        return Err(CandidateError::AllSourcesFailed(e));
    }
    counts.unique = merged.len();
    let from_sources = sources_summary(&runs, &counts, dropped.len());

    for filter in filters_of(&domain) {
        let started = Instant::now();
        let input = merged.len();
        let decisions = host
            .filter(
                &filter.name,
                &grants,
                &query_for(&domain, req, &filter.config),
                &merged,
            )
            .map_err(|error| CandidateError::Filter {
                error,
                sources: from_sources.clone(),
            })?;
        let mut kept = Vec::with_capacity(merged.len());
        for (c, d) in merged.into_iter().zip(decisions) {
            if d.keep {
                kept.push(c);
            } else {
                dropped.push(DroppedCandidate {
                    name: c.name,
                    wikidata_id: c.wikidata_id,
                    filter: filter.name.clone(),
                    reason: d.reason,
                });
            }
        }
        runs.push(PluginRun {
            plugin: filter.name.clone(),
            kind: PluginKind::Filter,
            elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
            input,
            output: kept.len(),
            error: None,
        });
        merged = kept;
    }
    counts.kept = merged.len();
    counts.dropped = dropped.len();

    let mut people = Vec::with_capacity(merged.len());
    let mut taken = HashMap::new();
    for c in &merged {
        let Some(id) = (if c.id.is_empty() {
            person_id(&c.name, c.wikidata_id.as_deref())
        } else {
            facerec_storage::PersonId::parse(&c.id)
                .ok()
                .or_else(|| person_id(&c.name, c.wikidata_id.as_deref()))
        }) else {
            dropped.push(DroppedCandidate {
                name: c.name.clone(),
                wikidata_id: c.wikidata_id.clone(),
                filter: "host".into(),
                reason: "no usable person id can be made from the name".into(),
            });
            continue;
        };
        let id = distinct_id(store, code, id, c.wikidata_id.as_deref(), &mut taken)?;
        people.push(NewPerson {
            id,
            display_name: c.name.trim().to_string(),
            status: PersonStatus::Candidate,
            wikidata_id: c.wikidata_id.clone(),
            country: c.country.clone(),
            occupations: c.occupations.clone(),
            sitelinks: c.sitelinks,
            image_urls: c.image_urls.clone(),
        });
    }
    let stored = store.add_candidates(code, people)?;
    let candidates: Vec<CandidateView> = stored
        .into_iter()
        .map(|(p, new)| {
            if new {
                counts.new += 1;
            } else {
                counts.known += 1;
            }
            CandidateView {
                person_id: p.id.to_string(),
                name: p.display_name,
                wikidata_id: p.wikidata_id,
                country: p.country,
                occupations: p.occupations,
                sitelinks: p.sitelinks,
                image_urls: p.image_urls,
                status: p.status,
                new,
            }
        })
        .collect();
    tracing::info!(domain = %code, generated = counts.generated, kept = counts.kept,
        new = counts.new, known = counts.known, "candidates generated");
    Ok(CandidateReport {
        domain: code.to_string(),
        country: base_query.country,
        occupations: base_query.occupations,
        counts,
        plugins: runs,
        candidates,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_with_two_wikidata_ids_makes_two_people() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .create_domain(facerec_storage::NewDomain::named("serbia"))
            .unwrap();
        let code = DomainCode::parse("serbia").unwrap();
        let john = PersonId::parse("john_smith").unwrap();
        store
            .add_candidates(
                &code,
                vec![NewPerson {
                    wikidata_id: Some("Q9009".into()),
                    ..NewPerson::named(john.clone(), "John Smith", PersonStatus::Candidate)
                }],
            )
            .unwrap();
        let mut taken = HashMap::new();
        // The same person again: the same id.
        let same = distinct_id(&store, &code, john.clone(), Some("Q9009"), &mut taken).unwrap();
        assert_eq!(same, john);
        // Another John Smith: his own id, in the store or within a run.
        let mut taken = HashMap::new();
        let other = distinct_id(&store, &code, john.clone(), Some("Q3306"), &mut taken).unwrap();
        assert_eq!(other.as_str(), "john_smith_q3306");
        let third = distinct_id(&store, &code, other.clone(), Some("Q77"), &mut taken).unwrap();
        assert_eq!(third.as_str(), "john_smith_q3306_q77");
        // Nothing to tell them apart: the name decides.
        let unknown = distinct_id(&store, &code, john.clone(), None, &mut HashMap::new()).unwrap();
        assert_eq!(unknown, john);
    }
}
