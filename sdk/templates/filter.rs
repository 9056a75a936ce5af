//! {{name}}: a facerec candidate filter.
//!
//! Keeps candidates with at least `min_sitelinks` Wikipedia editions, from
//! the domain's config for this plugin: `{"min_sitelinks": 20}`. Replace
//! the rule in `decide` with your own.

use facerec_plugin_sdk::{Candidate, Decision, Filter, Query, register_filter};
use serde::Deserialize;

/// This plugin's config in a domain's `plugins.filters[].config`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Config {
    min_sitelinks: u32,
}

fn decide(config: &Config, c: &Candidate) -> Decision {
    match c.sitelinks {
        Some(n) if n >= config.min_sitelinks => {
            Decision::keep(format!("sitelinks {n} >= {}", config.min_sitelinks))
        }
        Some(n) => Decision::drop(format!("sitelinks {n} < {}", config.min_sitelinks)),
        None if config.min_sitelinks == 0 => Decision::keep("no minimum"),
        None => Decision::drop("sitelinks unknown"),
    }
}

struct Plugin;

impl Filter for Plugin {
    /// One decision per candidate, in order.
    fn filter(query: Query, candidates: Vec<Candidate>) -> Result<Vec<Decision>, String> {
        let config: Config = query.config()?;
        Ok(candidates.iter().map(|c| decide(&config, c)).collect())
    }
}

register_filter!(Plugin);
