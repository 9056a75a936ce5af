//! Conveniences over the raw bindings: logging, HTTP, config parsing.

use serde::de::DeserializeOwned;

use crate::bindings::source::facerec::plugin::host;
use crate::{Candidate, Decision, HttpError, HttpResponse, Level, Query};

/// Writes a line to the daemon's log (tagged with this plugin and the domain).
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// GET `url` through the host. Only URLs on the domain's allowlist succeed.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    host::http_get(url, &headers)
}

impl Query {
    /// This plugin's JSON configuration, parsed into `T`; `{}` when none is
    /// configured. The error names the problem for the operator.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_str(&self.config).map_err(|e| format!("invalid plugin config: {e}"))
    }
}

impl Candidate {
    /// A candidate with only a name; fill in the rest as known.
    pub fn named(name: &str) -> Self {
        Self {
            id: String::new(),
            name: name.to_string(),
            wikidata_id: None,
            country: None,
            occupations: Vec::new(),
            sitelinks: None,
            image_urls: Vec::new(),
            description: None,
            attributes: Vec::new(),
        }
    }
}

impl Decision {
    pub fn keep(reason: impl Into<String>) -> Self {
        Self {
            keep: true,
            reason: reason.into(),
        }
    }
    pub fn drop(reason: impl Into<String>) -> Self {
        Self {
            keep: false,
            reason: reason.into(),
        }
    }
}
