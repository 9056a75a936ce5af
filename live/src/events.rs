//! Recognition events: what integrations receive, on MQTT
//! (`facerec/v1/devices/{id}/events`) and over SSE (`GET /api/events`).
//! docs/events.md describes the payload.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
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

impl From<facerec_vision::BBox> for EventBox {
    fn from(b: facerec_vision::BBox) -> Self {
        Self {
            x1: b.x1,
            y1: b.y1,
            x2: b.x2,
            y2: b.y2,
        }
    }
}

impl From<EventBox> for facerec_vision::BBox {
    fn from(b: EventBox) -> Self {
        Self {
            x1: b.x1,
            y1: b.y1,
            x2: b.x2,
            y2: b.y2,
        }
    }
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

/// An event as the bus carries it: with its place in this process's
/// order of events, for readers that resume (`Last-Event-ID`).
#[derive(Debug)]
pub struct Sequenced {
    pub seq: u64,
    pub event: LiveEvent,
}

impl std::ops::Deref for Sequenced {
    type Target = LiveEvent;
    fn deref(&self) -> &LiveEvent {
        &self.event
    }
}

/// Where a reader was: the SSE id of the last event it received,
/// `{boot}-{seq}`. `boot` names this run of the process, so an id from
/// before a restart is recognised as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub boot: u64,
    pub seq: u64,
}

impl Cursor {
    pub fn parse(id: &str) -> Option<Self> {
        let (boot, seq) = id.trim().split_once('-')?;
        Some(Self {
            boot: boot.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.boot, self.seq)
    }
}

/// Events kept per camera for readers that reconnect, by default.
pub const DEFAULT_HISTORY: usize = 256;

struct History {
    next_seq: u64,
    by_camera: HashMap<String, VecDeque<Arc<Sequenced>>>,
}

/// Fans events out to every reader (MQTT, SSE clients, tests), and keeps
/// the latest `history` events of each camera so that a reader that
/// reconnects gets what it missed.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Sequenced>>,
    boot: u64,
    history: usize,
    kept: Arc<Mutex<History>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(DEFAULT_HISTORY)
    }
}

impl EventBus {
    pub fn new(history: usize) -> Self {
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            tx: broadcast::channel(BUS_CAPACITY).0,
            boot,
            history,
            kept: Arc::new(Mutex::new(History {
                next_seq: 1,
                by_camera: HashMap::new(),
            })),
        }
    }

    pub fn send(&self, event: LiveEvent) {
        let mut kept = self.kept.lock().expect("history lock");
        let e = Arc::new(Sequenced {
            seq: kept.next_seq,
            event,
        });
        kept.next_seq += 1;
        if self.history > 0 {
            let ring = kept.by_camera.entry(e.camera.clone()).or_default();
            if ring.len() == self.history {
                ring.pop_front();
            }
            ring.push_back(e.clone());
        }
        // Sent under the lock, so that a reader subscribing meanwhile sees
        // each event either in the history or live, never both or neither.
        // No reader is fine: events are counted either way.
        let _ = self.tx.send(e);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Sequenced>> {
        self.tx.subscribe()
    }

    /// The SSE id of an event.
    pub fn cursor(&self, e: &Sequenced) -> Cursor {
        Cursor {
            boot: self.boot,
            seq: e.seq,
        }
    }

    /// Subscribes, and returns the kept events of `cameras` after `after`
    /// (oldest first): all of them when `after` is from before this
    /// process started. The receiver then yields only newer events.
    pub fn resume(
        &self,
        after: Cursor,
        cameras: &[String],
    ) -> (Vec<Arc<Sequenced>>, broadcast::Receiver<Arc<Sequenced>>) {
        let kept = self.kept.lock().expect("history lock");
        let rx = self.tx.subscribe();
        let from = if after.boot == self.boot {
            after.seq
        } else {
            0
        };
        let mut missed: Vec<Arc<Sequenced>> = cameras
            .iter()
            .filter_map(|c| kept.by_camera.get(c))
            .flat_map(|ring| ring.iter().filter(|e| e.seq > from).cloned())
            .collect();
        missed.sort_by_key(|e| e.seq);
        (missed, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(camera: &str, track: u64) -> LiveEvent {
        LiveEvent {
            version: 1,
            kind: EventKind::TrackAppeared,
            event_id: format!("{camera}-{track}"),
            device_id: "d".into(),
            camera: camera.into(),
            track_id: track,
            status: "unknown",
            person: None,
            matched_domain: None,
            domain: "serbia".into(),
            distance: None,
            confidence: 0.0,
            votes: 2,
            samples: 2,
            previous: None,
            reason: None,
            bbox: EventBox {
                x1: 0.0,
                y1: 0.0,
                x2: 1.0,
                y2: 1.0,
            },
            frame_seq: 1,
            captured_at: Utc::now(),
            emitted_at: Utc::now(),
            latency_ms: 0.0,
        }
    }

    #[test]
    fn a_reader_resumes_after_its_last_event_within_the_kept_history() {
        let bus = EventBus::new(3);
        let mut first = bus.subscribe();
        for t in 1..=5 {
            bus.send(event("door", t));
            bus.send(event("yard", t));
        }
        let seen = first.try_recv().unwrap();
        let third_door = {
            first.try_recv().unwrap();
            first.try_recv().unwrap()
        };
        assert_eq!(
            (third_door.camera.as_str(), third_door.track_id),
            ("door", 2)
        );
        let cursor = bus.cursor(&third_door);
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        let (missed, _) = bus.resume(cursor, &["door".into()]);
        // door 3, 4, 5 (door 1 and 2 are out of the 3 kept anyway).
        let tracks: Vec<u64> = missed.iter().map(|e| e.track_id).collect();
        assert_eq!(tracks, vec![3, 4, 5]);
        // An id from an earlier run: everything kept, in order.
        let old = Cursor {
            boot: cursor.boot - 1,
            seq: 99,
        };
        let (missed, mut live) = bus.resume(old, &["door".into(), "yard".into()]);
        assert_eq!(missed.len(), 6);
        assert!(missed.windows(2).all(|w| w[0].seq < w[1].seq));
        assert!(seen.seq < missed[0].seq);
        bus.send(event("door", 6));
        assert_eq!(live.try_recv().unwrap().track_id, 6, "then live ones");
        assert!(Cursor::parse("abc").is_none());
    }
}
