//! The hub's review console at `/`: one HTML page, a script and a style
//! sheet, compiled into the binary. The page holds no data: it asks for a
//! token (or takes `#token=…`) and then calls the same API as any client,
//! so every domain check of the API applies to it unchanged.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::AppState;

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/app.js");
const STYLE: &str = include_str!("console/app.css");

/// Scripts and styles only from the hub itself; pictures also from the
/// `blob:` URLs the script makes of fetched crops; never framed.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The review console (a hub); an edge has no training to review and
/// sends `/` to its live view.
#[utoipa::path(get, path = "/", tag = "operations",
    responses(
        (status = 200, content_type = "text/html", body = String, description = "The console (hub)"),
        (status = 303, description = "To /live (edge)"),
    ))]
pub async fn console_page(State(state): State<AppState>) -> Response {
    if state.plugins.is_none() {
        return Redirect::to("/live").into_response();
    }
    asset(PAGE, "text/html; charset=utf-8")
}

pub async fn console_script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn console_style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}
