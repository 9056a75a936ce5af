use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
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

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub role: String,
    /// Domains this node serves whose data it can read.
    pub domains: usize,
    /// An edge: whether its batch sync is connected to the broker (an edge
    /// that is not still recognises with the index it has).
    pub sync_connected: Option<bool>,
    /// An edge: domains whose search index is a stale dump (after a crash
    /// mid-batch), served at once while the current one is rebuilt behind
    /// it; people erased since are never answered meanwhile.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catching_up: Vec<String>,
}

/// Readiness: the registry answers and accepts writes (and, on an edge,
/// the search indexes are loaded — they are before the node listens).
/// Needs no token; 503 with a problem when the registry cannot be read or
/// an I/O error (a full disk) has it refusing writes until it is reopened,
/// which the node does by itself once writing works again.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, body = super::Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, super::ApiError> {
    if state.store.failed() {
        return Err(super::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the registry hit an I/O error (is the disk full?) and refuses writes; it is reopened \
as soon as writing works again",
        ));
    }
    let domains = state.storage(|s| s.list_domains()).await.map_err(|e| {
        super::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the registry cannot be read: {}", e.detail),
        )
    })?;
    let served = domains
        .iter()
        .filter(|d| state.node.serves(&d.domain_code))
        .count();
    Ok(Json(Readiness {
        status: "ready",
        role: state.node.role.to_string(),
        domains: served,
        sync_connected: state
            .sync_status
            .as_ref()
            .map(|s| s.read().expect("status lock").online),
        catching_up: state
            .index
            .as_ref()
            .map(|i| i.catching_up().iter().map(|d| d.to_string()).collect())
            .unwrap_or_default(),
    }))
}

/// Prometheus metrics (text format): recognition requests, latency and
/// faces; batches applied and rejected; per served domain the applied and
/// head seq and the searchable descriptors. Needs an admin token (domain
/// names are other clients' business).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(
    State(state): State<AppState>,
    client: crate::auth::Client,
) -> Result<impl IntoResponse, super::ApiError> {
    client.require_admin()?;
    let mut rows: Vec<(String, u64, Option<u64>, Option<u64>)> = match &state.sync_status {
        Some(status) => status
            .read()
            .expect("status lock")
            .domains
            .iter()
            .map(|d| (d.domain.clone(), d.applied_seq, d.head_seq, None))
            .collect(),
        None => {
            let node = state.node.clone();
            state
                .storage(move |s| {
                    let mut out = Vec::new();
                    for d in s.list_domains()? {
                        if node.serves(&d.domain_code) {
                            out.push((
                                d.domain_code.to_string(),
                                s.applied_seq(&d.domain_code)?,
                                None,
                                None,
                            ));
                        }
                    }
                    Ok(out)
                })
                .await?
        }
    };
    if let Some(index) = &state.index {
        for row in &mut rows {
            if let Ok(code) = facerec_storage::DomainCode::parse(&row.0) {
                row.3 = index.get(&code).ok().map(|i| i.len() as u64);
            }
        }
    }
    if let Some(live) = &state.live {
        state.metrics.live.refresh(&live.source_statuses());
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&rows),
    ))
}
