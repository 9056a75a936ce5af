//! Live recognition on an edge: cameras → detect → track → recognise →
//! events (docs/live.md).
//!
//! - `config.rs` — `[[camera]]` settings.
//! - `tracker/` — tracks (predicted boxes, re-verification), the identity
//!   vote, and the track events.
//! - `scene.rs` — scene cuts, which end every track.
//! - `look.rs` — a face's look, whose change has a track re-verified now.
//! - `pipeline.rs` — one camera's analysis loop and its live view.
//! - `events.rs` — the event payload and the in-process bus.
//! - `mqtt.rs` — forwards events to `devices/{id}/events`.
//! - `recognition.rs` — one face → descriptors of the route's packs →
//!   the index search; shared with `/api/recognize`.
//!
//! The frame sources themselves are the `facerec-camera` crate.

pub mod chips;
pub mod config;
pub mod events;
pub mod look;
pub mod mqtt;
pub mod pipeline;
pub mod recognition;
pub mod scene;
pub mod tracker;

use std::sync::Arc;

use anyhow::bail;
use facerec_storage::DomainCode;

pub use config::{CameraConfig, LiveSettings};
pub use events::{EventBus, LiveEvent};
pub use pipeline::{CameraRuntime, LiveDeps};

/// The running cameras of an edge and the bus their events go out on.
#[derive(Clone)]
pub struct Live {
    pub cameras: Arc<Vec<Arc<CameraRuntime>>>,
    pub bus: EventBus,
}

impl Live {
    pub fn camera(&self, id: &str) -> Option<&Arc<CameraRuntime>> {
        self.cameras.iter().find(|c| c.id == id)
    }

    /// Each camera's id and source status, for metrics.
    pub fn source_statuses(&self) -> Vec<(String, facerec_camera::SourceStatus)> {
        self.cameras
            .iter()
            .map(|c| (c.id.clone(), c.source_status()))
            .collect()
    }
}

/// Checks every camera against what this edge serves, then starts them.
pub fn start(
    cameras: &[CameraConfig],
    primary: Option<&DomainCode>,
    deps: LiveDeps,
) -> anyhow::Result<Live> {
    let mut seen = std::collections::HashSet::new();
    let mut planned = Vec::new();
    for camera in cameras {
        camera.validate().map_err(anyhow::Error::msg)?;
        if camera.settings.reid_window_ms.is_some() {
            tracing::warn!(camera = %camera.id, "reid_window_ms no longer does anything: a face back within lost_after_ms keeps its track; remove the setting");
        }
        if !seen.insert(camera.id.clone()) {
            bail!("two cameras are named `{}`", camera.id);
        }
        let domain = match &camera.domain {
            Some(d) => {
                DomainCode::parse(d).map_err(|e| anyhow::anyhow!("camera `{}`: {e}", camera.id))?
            }
            None => primary.cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "camera `{}` names no domain and the node has none",
                    camera.id
                )
            })?,
        };
        if !deps.index.served().contains(&domain) {
            bail!(
                "camera `{}` recognises in `{domain}`, which this edge does not serve (it serves {})",
                camera.id,
                deps.index
                    .served()
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        planned.push((camera, domain));
    }
    let bus = deps.bus.clone();
    let runtimes = planned
        .into_iter()
        .map(|(camera, domain)| pipeline::start(camera, domain, deps.clone()))
        .collect();
    Ok(Live {
        cameras: Arc::new(runtimes),
        bus,
    })
}
