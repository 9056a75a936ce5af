//! {{name}}: a facerec candidate source.
//!
//! Proposes the people listed in the domain's config for this plugin:
//! `{"people": [{"name": "Ada Lovelace", "wikidata_id": "Q7259"}]}`.
//! Replace the body of `generate` with your own lookup; `http_get` reaches
//! the URLs on the domain's `http_allowlist` (see the SDK's README).

use facerec_plugin_sdk::{Candidate, Level, Query, Source, log, register_source};
use serde::Deserialize;

/// This plugin's config in a domain's `plugins.sources[].config`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    people: Vec<Person>,
}

#[derive(Deserialize)]
struct Person {
    name: String,
    wikidata_id: Option<String>,
    #[serde(default)]
    image_urls: Vec<String>,
}

struct Plugin;

impl Source for Plugin {
    fn generate(query: Query) -> Result<Vec<Candidate>, String> {
        let config: Config = query.config()?;
        // println! goes nowhere: log through the host.
        log(
            Level::Info,
            &format!("{} people configured for {}", config.people.len(), query.domain),
        );
        let candidates = config
            .people
            .into_iter()
            .take(query.limit as usize)
            .map(|p| {
                let mut c = Candidate::named(&p.name);
                c.wikidata_id = p.wikidata_id;
                c.country = query.country.clone();
                c.image_urls = p.image_urls;
                c
            })
            .collect();
        Ok(candidates)
    }
}

register_source!(Plugin);
