//! The one way plugins (and the hub's image downloads) reach the network:
//! GET only, to allowlisted URLs only (redirects re-checked at every hop),
//! with a timeout and a response-size cap.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// Whole request, redirects included, in milliseconds.
    pub timeout_ms: u64,
    pub max_response_bytes: u64,
    pub max_redirects: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            timeout_ms: 15_000,
            max_response_bytes: 16 << 20,
            max_redirects: 5,
        }
    }
}

/// URL prefixes a domain's plugins may fetch, e.g.
/// `https://query.wikidata.org/sparql` or `https://*.wikimedia.org/`.
/// A URL matches an entry with the same scheme, host (a `*.` entry matches
/// any subdomain) and port, and a path starting with the entry's path.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<AllowEntry>,
}

#[derive(Debug, Clone)]
struct AllowEntry {
    scheme: String,
    host: String,
    any_subdomain: bool,
    port: Option<u16>,
    path: String,
}

impl Allowlist {
    /// Parses every entry; the error names the bad one.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let entries = entries
            .iter()
            .map(|e| AllowEntry::parse(e.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `Ok` with the parsed URL when it is allowed, else why not.
    pub fn check(&self, url: &str) -> Result<Url, String> {
        let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{url}: only http and https are allowed"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!("{url}: credentials in URLs are not allowed"));
        }
        if self.entries.iter().any(|e| e.matches(&parsed)) {
            Ok(parsed)
        } else if self.entries.is_empty() {
            Err(format!(
                "{url}: this domain allows no HTTP access (its http_allowlist is empty)"
            ))
        } else {
            Err(format!("{url}: not on this domain's http_allowlist"))
        }
    }
}

impl AllowEntry {
    fn parse(entry: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("http_allowlist entry {entry:?}: {why}");
        let (text, any_subdomain) = match entry.split_once("://*.") {
            Some((scheme, rest)) => (format!("{scheme}://{rest}"), true),
            None => (entry.to_string(), false),
        };
        let url = Url::parse(&text).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must be an http or https URL"));
        }
        let host = url.host_str().ok_or_else(|| bad("has no host"))?;
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(bad(
                "must be a plain URL prefix (no query, fragment or credentials)",
            ));
        }
        Ok(Self {
            scheme: url.scheme().to_string(),
            host: host.to_string(),
            any_subdomain,
            port: url.port_or_known_default(),
            path: url.path().to_string(),
        })
    }

    fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_ok = if self.any_subdomain {
            host.len() > self.host.len()
                && host.ends_with(&self.host)
                && host[..host.len() - self.host.len()].ends_with('.')
        } else {
            host == self.host
        };
        host_ok
            && url.scheme() == self.scheme
            && url.port_or_known_default() == self.port
            && path_within(url.path(), &self.path)
    }
}

/// Whether `path` is `prefix` or below it: `/sparql` admits `/sparql`,
/// `/sparql/x` and `/sparql?…`, never `/sparqlevil`.
fn path_within(path: &str, prefix: &str) -> bool {
    if prefix.is_empty() || prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[derive(Debug, Clone)]
pub struct FetchResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Where the body came from after redirects.
    pub final_url: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("denied: {0}")]
    Denied(String),
    #[error("timed out")]
    Timeout,
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
    #[error("failed: {0}")]
    Failed(String),
}

/// Request headers a caller may not set: they would let a plugin
/// impersonate the host or smuggle credentials.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "cookie",
    "proxy-authorization",
    "connection",
];

/// A blocking HTTP client bound to limits; cheap to clone.
#[derive(Clone)]
pub struct GuardedHttp {
    agent: ureq::Agent,
    limits: HttpLimits,
}

impl GuardedHttp {
    pub fn new(limits: HttpLimits) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(limits.timeout_ms)))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .user_agent(concat!("facerec/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent, limits }
    }

    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }

    /// GET `url` if `allow` permits it and every redirect target.
    pub fn get(
        &self,
        allow: &Allowlist,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<FetchResponse, FetchError> {
        let mut current = allow.check(url).map_err(FetchError::Denied)?;
        for _ in 0..=self.limits.max_redirects {
            let mut request = self.agent.get(current.as_str());
            for (name, value) in headers.iter().take(32) {
                let lower = name.to_ascii_lowercase();
                if FORBIDDEN_HEADERS.contains(&lower.as_str()) || value.len() > 4096 {
                    continue;
                }
                request = request.header(name.as_str(), value.as_str());
            }
            let mut response = request.call().map_err(map_error)?;
            let status = response.status().as_u16();
            if (300..400).contains(&status) {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Failed(format!("HTTP {status} without a Location"))
                    })?;
                let next = current
                    .join(location)
                    .map_err(|e| FetchError::Failed(format!("bad redirect {location:?}: {e}")))?;
                current = allow
                    .check(next.as_str())
                    .map_err(|why| FetchError::Denied(format!("redirect to {why}")))?;
                continue;
            }
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response
                .body_mut()
                .with_config()
                .limit(self.limits.max_response_bytes)
                .read_to_vec()
                .map_err(map_error)?;
            return Ok(FetchResponse {
                status,
                content_type,
                body,
                final_url: current.to_string(),
            });
        }
        Err(FetchError::Failed(format!(
            "more than {} redirects",
            self.limits.max_redirects
        )))
    }
}

fn map_error(e: ureq::Error) -> FetchError {
    match e {
        ureq::Error::Timeout(_) => FetchError::Timeout,
        ureq::Error::BodyExceedsLimit(n) => FetchError::TooLarge(n),
        other => FetchError::Failed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_scheme_host_port_and_path_prefix() {
        let allow = Allowlist::parse(&[
            "https://query.wikidata.org/sparql",
            "https://*.wikimedia.org/",
            "http://127.0.0.1:8099/",
        ])
        .unwrap();
        for ok in [
            "https://query.wikidata.org/sparql?query=x",
            "https://query.wikidata.org/sparql",
            "https://query.wikidata.org/sparql/sub",
            "https://upload.wikimedia.org/a.jpg",
            "https://commons.wikimedia.org/wiki/Special:FilePath/x.jpg",
            "http://127.0.0.1:8099/anything",
        ] {
            assert!(allow.check(ok).is_ok(), "{ok}");
        }
        for denied in [
            "http://query.wikidata.org/sparql",       // scheme
            "https://query.wikidata.org/other",       // path
            "https://query.wikidata.org/sparqlevil",  // prefix, not a path segment
            "https://query.wikidata.org/sparql.json", // the same
            "https://wikimedia.org.evil.com/",        // suffix trick
            "https://evilwikimedia.org/",             // no dot before the suffix
            "https://wikimedia.org/",                 // the bare domain is not a subdomain
            "http://127.0.0.1:8098/",                 // port
            "http://127.0.0.1:8099@evil.com/",        // userinfo trick
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(allow.check(denied).is_err(), "{denied}");
        }
        assert!(
            Allowlist::default()
                .check("https://x.org/")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            Allowlist::parse(&["ftp://x/"])
                .unwrap_err()
                .contains("ftp://x/")
        );
    }
}
