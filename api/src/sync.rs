//! Batch sync status: what this node has applied (an edge) or published (a
//! hub) per domain.

use axum::Json;
use axum::extract::State;

use super::{ApiError, AppState};
use crate::auth::Client;
use facerec_sync::messages::{DeviceState, DomainSyncState};

/// This node's sync state: an edge's applied and last-heard head seq per
/// domain, or a hub's latest batch per domain; only the domains the token
/// may see.
#[utoipa::path(get, path = "/api/sync", tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = DeviceState)))]
pub async fn sync_status(
    State(state): State<AppState>,
    client: Client,
) -> Result<Json<DeviceState>, ApiError> {
    let mut view = match &state.sync_status {
        Some(status) => status.read().expect("status lock").clone(),
        None => {
            let domains = state
                .storage(move |s| {
                    let mut out = Vec::new();
                    for d in s.list_domains()? {
                        let seq = s.applied_seq(&d.domain_code)?;
                        out.push(DomainSyncState {
                            domain: d.domain_code.to_string(),
                            applied_seq: seq,
                            head_seq: Some(seq),
                            descriptors: s.embedding_count(&d.domain_code)?,
                            pack: s.embedding_pack(&d.domain_code)?,
                        });
                    }
                    Ok(out)
                })
                .await?;
            DeviceState {
                device_id: state
                    .publisher
                    .as_ref()
                    .map(|p| p.device_id().to_string())
                    .unwrap_or_default(),
                online: state.publisher.is_some(),
                role: state.node.role.to_string(),
                software_version: env!("CARGO_PKG_VERSION").into(),
                domains,
                updated_at: chrono::Utc::now(),
            }
        }
    };
    view.domains.retain(|d| {
        facerec_storage::DomainCode::parse(&d.domain).is_ok_and(|code| client.may_access(&code))
    });
    Ok(Json(view))
}

/// One edge's progress on a domain, as its retained device state says.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EdgeProgress {
    pub device_id: String,
    pub online: bool,
    pub software_version: String,
    /// The last batch of the domain the edge applied.
    pub applied_seq: u64,
    /// The domain's last batch on this hub.
    pub hub_seq: u64,
    /// Batches the edge is behind (`hub_seq - applied_seq`, 0 when current).
    pub lag: u64,
    /// Searchable descriptors on the edge.
    pub descriptors: u64,
    pub pack: Option<String>,
    /// When the edge last reported its state.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The edges that follow a domain and which of its batches each applied
/// (from their retained device states on the broker).
#[utoipa::path(get, path = "/api/domains/{code}/edges", tag = "training", security(("bearer" = [])),
    params(("code" = String, Path, description = "Domain code")),
    responses(
        (status = 200, body = [EdgeProgress]),
        (status = 403, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::Problem, content_type = "application/problem+json", description = "An edge, or a hub without MQTT"),
    ))]
pub async fn domain_edges(
    State(state): State<AppState>,
    client: Client,
    super::extract::ApiPath(code): super::extract::ApiPath<String>,
) -> Result<Json<Vec<EdgeProgress>>, ApiError> {
    let code = super::extract::domain_code(&code)?;
    client.authorize(&code)?;
    state.require_hub()?;
    let Some(publisher) = &state.publisher else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "this hub publishes no batches (MQTT is off), so no edge reports to it",
        ));
    };
    let domain = code.clone();
    let hub_seq = state
        .storage(move |s| {
            s.domain(&domain)?;
            s.applied_seq(&domain)
        })
        .await?;
    let edges = publisher
        .fleet()
        .devices()
        .into_iter()
        .filter_map(|device| {
            let d = device
                .domains
                .iter()
                .find(|d| d.domain == code.as_str())?
                .clone();
            Some(EdgeProgress {
                device_id: device.device_id,
                online: device.online,
                software_version: device.software_version,
                applied_seq: d.applied_seq,
                hub_seq,
                lag: hub_seq.saturating_sub(d.applied_seq),
                descriptors: d.descriptors,
                pack: d.pack,
                updated_at: device.updated_at,
            })
        })
        .collect();
    Ok(Json(edges))
}
