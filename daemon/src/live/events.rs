//! Recognition events: what integrations receive, on MQTT
//! (`facerec/v1/devices/{id}/events`) and over SSE (`GET /api/events`).
//! docs/events.md describes the payload.

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

/// Events kept for slow readers; one that falls further behind skips ahead
/// (and is told how many it missed) instead of slowing the cameras.
const BUS_CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A new face track was decided (recognised or unknown).
    TrackAppeared,
    /// The vote over a track's samples moved to another identity.
    IdentityChanged,
    /// A decided track has not been seen for `lost_after_ms`.
    TrackLost,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TrackAppeared => "track_appeared",
            EventKind::IdentityChanged => "identity_changed",
            EventKind::TrackLost => "track_lost",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventPerson {
    pub id: String,
    pub name: String,
    pub wikidata_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct EventBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiveEvent {
    /// Payload version (1).
    pub version: u32,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Unique per device: `{camera}-{track}-{n}`.
    pub event_id: String,
    pub device_id: String,
    pub camera: String,
    /// Stable for as long as the face stays in view.
    pub track_id: u64,
    /// `recognized` or `unknown`.
    pub status: &'static str,
    /// Who (absent when unknown).
    pub person: Option<EventPerson>,
    /// The domain the match came from: the camera's own or an inherited one.
    pub matched_domain: Option<String>,
    /// The domain the camera recognises in.
    pub domain: String,
    /// Descriptor distance of the best agreeing sample (same person < 0.6).
    pub distance: Option<f32>,
    /// 0–100.
    pub confidence: f32,
    /// Samples that agreed / samples considered.
    pub votes: usize,
    pub samples: usize,
    /// For `identity_changed`: who the track was before.
    pub previous: Option<EventPerson>,
    /// For `track_lost`: `left` (not seen for `lost_after_ms`),
    /// `face_changed` (another face took its box), `scene_cut`, or
    /// `stopped` (the source ended or the camera stopped).
    pub reason: Option<&'static str>,
    #[serde(rename = "box")]
    pub bbox: EventBox,
    pub frame_seq: u64,
    /// When the frame that produced this event was captured.
    pub captured_at: DateTime<Utc>,
    pub emitted_at: DateTime<Utc>,
    /// Capture to emission, in milliseconds.
    pub latency_ms: f64,
}

impl LiveEvent {
    pub fn captured(t: SystemTime) -> DateTime<Utc> {
        DateTime::<Utc>::from(t)
    }
}

/// Fans events out to every reader (MQTT, SSE clients, tests).
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(BUS_CAPACITY).0,
        }
    }

    pub fn send(&self, event: LiveEvent) {
        // No reader is fine: events are counted either way.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }
}
