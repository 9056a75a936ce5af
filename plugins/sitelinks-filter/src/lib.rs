//! `sitelinks-filter`: keeps the candidates a small expression accepts.
//!
//! Config: `{"expression": "sitelinks >= 50 and occupation in [actor, athlete]"}`.
//! See [`expr`] for the language. Each decision's reason says which
//! comparison decided it, e.g. `sitelinks 12 < 50`.

mod expr;

use facerec_plugin_sdk::{Candidate, Decision, Filter, Query, register_filter};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    expression: String,
}

struct SitelinksFilter;

impl Filter for SitelinksFilter {
    fn filter(query: Query, candidates: Vec<Candidate>) -> Result<Vec<Decision>, String> {
        let config: Config = query.config()?;
        let expr = expr::parse(&config.expression)
            .map_err(|e| format!("expression {:?}: {e}", config.expression))?;
        Ok(candidates
            .iter()
            .map(|c| {
                let (keep, reason) = expr.eval(c);
                Decision { keep, reason }
            })
            .collect())
    }
}

register_filter!(SitelinksFilter);
