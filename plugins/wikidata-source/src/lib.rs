//! `wikidata-source`: notable people by country of citizenship and
//! occupation, from Wikidata's SPARQL endpoint, most-linked first.
//!
//! Config (all optional):
//! `{"endpoint": "https://query.wikidata.org/sparql", "language": "en",
//!   "limit": 200, "user_agent": "...", "occupation_ids": {"chef": "Q3499072"}}`.
//! The domain's allowlist must include the endpoint, and
//! `https://commons.wikimedia.org/` for the photos to be downloadable later.

mod sparql;

use facerec_plugin_sdk::{Candidate, Level, Query, Source, http_get, log, register_source};
use serde::Deserialize;
use std::collections::BTreeMap;

const DEFAULT_ENDPOINT: &str = "https://query.wikidata.org/sparql";
const DEFAULT_USER_AGENT: &str =
    "facerec-wikidata-source/0.1 (on-premise face recognition; candidate generation)";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    endpoint: Option<String>,
    language: Option<String>,
    limit: Option<u32>,
    user_agent: Option<String>,
    /// Extra occupation labels → Wikidata items, beside the built-in ones.
    occupation_ids: BTreeMap<String, String>,
}

struct WikidataSource;

impl Source for WikidataSource {
    fn generate(query: Query) -> Result<Vec<Candidate>, String> {
        let config: Config = query.config()?;
        let limit = config
            .limit
            .map_or(query.limit, |l| l.min(query.limit))
            .max(1);
        let country = query
            .country
            .as_deref()
            .ok_or("a country is needed: set the domain's default_country or pass one")?;
        let occupations = query
            .occupations
            .iter()
            .map(|o| sparql::occupation_item(o, &config.occupation_ids))
            .collect::<Result<Vec<_>, _>>()?;
        let language = config.language.as_deref().unwrap_or("en");
        let text = sparql::build(country, &occupations, language, limit)?;
        let endpoint = config.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        let url = format!(
            "{endpoint}?format=json&query={}",
            sparql::percent_encode(&text)
        );
        log(
            Level::Info,
            &format!(
                "querying {endpoint} for {country} / {:?}",
                query.occupations
            ),
        );
        let user_agent = config.user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT);
        let response = http_get(
            &url,
            &[
                ("accept", "application/sparql-results+json"),
                ("user-agent", user_agent),
            ],
        )
        .map_err(|e| format!("{endpoint}: {}", sparql::describe(&e)))?;
        if response.status != 200 {
            let snippet = String::from_utf8_lossy(&response.body[..response.body.len().min(200)])
                .into_owned();
            return Err(format!(
                "{endpoint} answered HTTP {}: {snippet}",
                response.status
            ));
        }
        let mut people = sparql::parse_results(&response.body, country)?;
        people.truncate(limit as usize);
        Ok(people)
    }
}

register_source!(WikidataSource);
