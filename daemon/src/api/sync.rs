//! Batch sync status: what this node has applied (an edge) or published (a
//! hub) per domain.

use axum::Json;
use axum::extract::State;

use super::{ApiError, AppState};
use crate::auth::Client;
use crate::sync::messages::{DeviceState, DomainSyncState};

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
