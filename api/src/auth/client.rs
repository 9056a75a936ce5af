//! The [`Client`] extractor: resolves a request to a token and, optionally,
//! one narrowed domain.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use facerec_storage::DomainCode;

use super::tokens::TokenScope;
use crate::{ApiError, AppState};
use facerec_node::NodeScope;

pub const CLIENT_DOMAIN_HEADER: &str = "x-client-domain";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Client {
    pub name: String,
    pub admin: bool,
    /// The sha256 of the bearer token, which an access token refers to.
    pub token_hash: [u8; 32],
    scope: TokenScope,
    /// Set by `X-Client-Domain` or the Host subdomain: the only domain this
    /// request may touch.
    pub narrowed: Option<DomainCode>,
    node: std::sync::Arc<NodeScope>,
}

impl Client {
    /// Whether this request may read or use `domain`: the token allows it,
    /// the request did not narrow to another one, and this node serves it.
    pub fn may_access(&self, domain: &DomainCode) -> bool {
        self.scope.allows(domain)
            && self.narrowed.as_ref().is_none_or(|n| n == domain)
            && self.node.serves(domain)
    }

    /// 403 unless [`may_access`](Self::may_access). The answer is the same
    /// whether or not the domain exists, so it reveals nothing.
    pub fn authorize(&self, domain: &DomainCode) -> Result<(), ApiError> {
        if !self.node.serves(domain) {
            return Err(ApiError::forbidden(format!(
                "this {} node does not serve domain '{domain}'",
                self.node.role
            )));
        }
        if self.may_access(domain) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this client may not access domain '{domain}'"
            )))
        }
    }

    /// 403 unless the token is an admin token.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "managing the domain registry needs an admin token",
            ))
        }
    }
}

impl Client {
    /// The caller holding `entry`'s token, before any narrowing.
    fn of(entry: &super::TokenEntry, state: &AppState) -> Self {
        Client {
            name: entry.name.clone(),
            admin: entry.admin,
            token_hash: entry.hash(),
            scope: entry.scope.clone(),
            narrowed: None,
            node: state.node.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?;
        let entry = state.tokens.authenticate(token).ok_or_else(|| {
            tracing::info!(target: "facerec::auth", "rejected an unknown token");
            ApiError::unauthorized("the bearer token is not valid")
        })?;
        let from_header = header_domain(&parts.headers)?;
        let from_host = host_domain(&parts.headers, &state.public_hosts)?;
        let narrowed = match (from_header, from_host) {
            (Some(h), Some(s)) if h != s => {
                return Err(ApiError::forbidden(format!(
                    "X-Client-Domain '{h}' conflicts with the subdomain '{s}'"
                )));
            }
            (h, s) => h.or(s),
        };
        let client = Client::of(entry, state);
        // Narrowing can only pick a domain the token already allows.
        if let Some(d) = &narrowed {
            client.authorize(d)?;
        }
        Ok(Client { narrowed, ..client })
    }
}

/// A caller of an event stream: a bearer token as for any request, or a
/// short-lived `?access_token=` (see [`super::access`]) for a browser's
/// `EventSource`, which cannot send headers.
#[derive(Debug, Clone)]
pub struct StreamClient(pub Client);

impl FromRequestParts<AppState> for StreamClient {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Client::from_request_parts(parts, state)
                .await
                .map(StreamClient);
        }
        let presented = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("access_token="))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing `Authorization: Bearer <token>` header or `?access_token=`",
                )
            })?;
        let grant = state
            .access_tokens
            .verify(presented)
            .map_err(ApiError::unauthorized)?;
        let entry = state.tokens.by_hash(&grant.token_hash).ok_or_else(|| {
            ApiError::unauthorized("the access token's bearer token is no longer valid")
        })?;
        let client = Client::of(entry, state);
        if let Some(d) = &grant.narrowed {
            client.authorize(d)?;
        }
        Ok(StreamClient(Client {
            narrowed: grant.narrowed,
            ..client
        }))
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

fn header_domain(headers: &HeaderMap) -> Result<Option<DomainCode>, ApiError> {
    let mut values = headers.get_all(CLIENT_DOMAIN_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // Two domains in one request would let a proxy and the client disagree
    // on which one counts.
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "X-Client-Domain is given more than once: send one",
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("X-Client-Domain is not valid text"))?;
    DomainCode::parse(text.trim())
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("X-Client-Domain: {e}")))
}

/// `serbia.facerec.example.com` → `serbia` when `facerec.example.com` is a
/// configured public host. Other hosts (an IP, localhost, the bare public
/// host) narrow nothing.
fn host_domain(
    headers: &HeaderMap,
    public_hosts: &[String],
) -> Result<Option<DomainCode>, ApiError> {
    if public_hosts.is_empty() {
        return Ok(None);
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return Ok(None);
    };
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    for public in public_hosts {
        if let Some(label) = host
            .strip_suffix(public.as_str())
            .and_then(|p| p.strip_suffix('.'))
        {
            return DomainCode::parse(label).map(Some).map_err(|e| {
                ApiError::bad_request(format!(
                    "the Host subdomain {label:?} is not a domain code: {e}"
                ))
            });
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn subdomain_of_a_public_host_narrows() {
        let hosts = vec!["facerec.example.com".to_string()];
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("serbia.facerec.example.com:8443"),
        );
        assert_eq!(host_domain(&h, &hosts).unwrap().unwrap().as_str(), "serbia");
        h.insert(
            header::HOST,
            HeaderValue::from_static("facerec.example.com"),
        );
        assert!(host_domain(&h, &hosts).unwrap().is_none());
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(host_domain(&h, &hosts).unwrap().is_none());
        h.insert(
            header::HOST,
            HeaderValue::from_static("a.b.facerec.example.com"),
        );
        assert!(host_domain(&h, &hosts).is_err());
        h.insert(
            header::HOST,
            HeaderValue::from_static("evilfacerec.example.com"),
        );
        assert!(host_domain(&h, &hosts).unwrap().is_none());
    }
}
