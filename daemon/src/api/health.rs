use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// `hub` or `edge`.
    pub role: String,
    pub version: &'static str,
}

/// Liveness: the process is up and serving HTTP. Needs no token.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        role: state.node.role.to_string(),
        version: env!("CARGO_PKG_VERSION"),
    })
}
