//! Errors as RFC 9457 `application/problem+json`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use facerec_storage::StorageError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when only the status matters).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What exactly went wrong, for a person to read.
    pub detail: String,
    /// The request body's field the problem is about, when it is about
    /// one (an extension member: forms show `detail` next to that field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// The body field at fault, if one is (see [`Problem::field`]).
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            field: None,
        }
    }
    /// Names the body field the problem is about.
    pub fn at_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: "about:blank".into(),
            title: self.status.canonical_reason().unwrap_or("Error").into(),
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        use StorageError as E;
        let field = match &e {
            E::InvalidDomainCode { .. } | E::DomainExists(_) => Some("domain_code"),
            E::InvalidField { field, .. } => Some(*field),
            E::InvalidDatasets { .. } => Some("datasets"),
            E::PackMismatch { .. } => Some("pack"),
            _ => None,
        };
        let error = match e {
            E::InvalidDomainCode { .. }
            | E::InvalidPersonId { .. }
            | E::InvalidField { .. }
            | E::InvalidDatasets { .. } => ApiError::unprocessable(e.to_string()),
            E::UnknownDomain(_) | E::UnknownPerson { .. } | E::UnknownImage { .. } => {
                ApiError::not_found(e.to_string())
            }
            E::DomainExists(_) | E::Conflict(_) | E::PackMismatch { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            E::Locked { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            E::Unwritable(_) => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the registry cannot be written (is the disk full?); nothing was changed, and \
the node reopens it by itself once writing works again",
                )
            }
            E::SchemaTooNew { .. } | E::Corrupt { .. } | E::Io { .. } | E::Database(_) => {
                // The detail may name server paths: log it, answer generically.
                tracing::error!(error = %e, "storage failure");
                ApiError::internal("internal storage error; the server log has the details")
            }
        };
        match field {
            Some(f) => error.at_field(f),
            None => error,
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match &r {
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => r.status(),
        };
        ApiError::new(status, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

/// Any error response that is not problem+json yet — a layer's plain-text
/// 413, a framework rejection — becomes one with the same status, its text
/// as the detail. Clients parse one error shape everywhere.
pub async fn problems_everywhere(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = match (status, text.as_str()) {
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            "the body is over this endpoint's size limit".to_string()
        }
        (_, "") => status.canonical_reason().unwrap_or("error").to_lowercase(),
        (_, t) => t.to_string(),
    };
    let mut fixed = ApiError::new(status, detail).into_response();
    // Keep what the original said about retrying or authenticating.
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
        if let Some(v) = parts.headers.get(&name) {
            fixed.headers_mut().insert(name, v.clone());
        }
    }
    fixed
}

/// A body that grew past a limit while streaming (a chunked upload) shows
/// up as an I/O error deep in an extractor's error chain.
pub fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.to_string().contains("length limit exceeded") {
            return true;
        }
        current = e.source();
    }
    false
}
