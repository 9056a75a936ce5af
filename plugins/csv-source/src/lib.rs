//! `csv-source`: candidates from CSV text in the plugin's configuration, for
//! installs without internet access.
//!
//! Config: `{"csv": "name,wikidata_id,country,occupations,sitelinks,image_urls\n..."}`.
//! `name` is required; `occupations` and `image_urls` hold several values
//! separated by `;`. Rows whose country or occupations do not match the
//! query are skipped.

use facerec_plugin_sdk::{Candidate, Query, Source, register_source};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    csv: String,
}

#[derive(Deserialize)]
struct Row {
    name: String,
    #[serde(default)]
    id: String,
    wikidata_id: Option<String>,
    country: Option<String>,
    #[serde(default)]
    occupations: String,
    sitelinks: Option<u32>,
    #[serde(default)]
    image_urls: String,
    description: Option<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(';')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn matches(query: &Query, c: &Candidate) -> bool {
    let country_ok = match (&query.country, &c.country) {
        (Some(q), Some(c)) => q.eq_ignore_ascii_case(c),
        _ => true,
    };
    let occupation_ok = query.occupations.is_empty()
        || c.occupations
            .iter()
            .any(|o| query.occupations.iter().any(|q| q.eq_ignore_ascii_case(o)));
    country_ok && occupation_ok
}

struct CsvSource;

impl Source for CsvSource {
    fn generate(query: Query) -> Result<Vec<Candidate>, String> {
        let config: Config = query.config()?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(config.csv.as_bytes());
        let mut out = Vec::new();
        for (i, row) in reader.deserialize::<Row>().enumerate() {
            // Line numbers count the header as line 1.
            let row = row.map_err(|e| format!("csv line {}: {e}", i + 2))?;
            if row.name.trim().is_empty() {
                return Err(format!("csv line {}: empty name", i + 2));
            }
            let candidate = Candidate {
                id: row.id,
                name: row.name,
                wikidata_id: non_empty(row.wikidata_id),
                country: non_empty(row.country),
                occupations: split_list(&row.occupations),
                sitelinks: row.sitelinks,
                image_urls: split_list(&row.image_urls),
                description: non_empty(row.description),
                attributes: vec![],
            };
            if matches(&query, &candidate) {
                out.push(candidate);
            }
            if out.len() >= query.limit as usize {
                break;
            }
        }
        Ok(out)
    }
}

register_source!(CsvSource);
