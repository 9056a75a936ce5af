//! Axum extractors whose rejections are problem+json like every other error.

use axum::extract::{FromRequest, FromRequestParts};
use facerec_storage::DomainCode;

use super::ApiError;

/// `Json<T>` with problem+json rejections (400 bad syntax, 415 wrong content
/// type, 422 wrong shape).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Parses a `{code}` path segment; an invalid code is a 422 naming the reason.
pub fn domain_code(raw: &str) -> Result<DomainCode, ApiError> {
    DomainCode::parse(raw).map_err(ApiError::from)
}
