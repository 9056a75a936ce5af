//! The JSON payloads of the sync protocol, each in a versioned envelope:
//! `{"version": 1, "type": "head", ...}`. A receiver refuses a version it
//! does not know rather than guessing. Chunks are raw bytes (their topic
//! says what they are; the manifest's chunk plan carries their sha256).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::chunks::ChunkPlan;
use crate::batch::BatchManifest;

pub const PROTOCOL_VERSION: u32 = 1;

/// `domains/{d}/head`, retained: what the hub has published for a domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Head {
    pub domain: String,
    /// The latest batch seq (0 = none yet).
    pub seq: u64,
    /// Hex sha256 of the latest batch's content.
    pub content_sha256: Option<String>,
    /// The seq of the newest snapshot on the hub, if any.
    pub snapshot_seq: Option<u64>,
    /// Hex ed25519 key the hub signs with.
    pub public_key: String,
    pub published_at: DateTime<Utc>,
}

/// `domains/{d}/{batches|snapshots}/{seq}/manifest`: the signed manifest
/// and how its content is chunked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    pub manifest: BatchManifest,
    pub plan: ChunkPlan,
}

/// `domains/{d}/requests`: an edge asks the hub for what it lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub device_id: String,
    /// The last seq the edge has applied (0 = nothing).
    pub have_seq: u64,
    /// Segments of a batch being received that the edge asks for (a batch
    /// too large to push, or chunks that went missing). Older hubs ignore
    /// it and answer `have_seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<SegmentRequest>,
}

/// Segments of one batch, asked for by an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRequest {
    pub kind: facerec_storage::BatchKind,
    pub seq: u64,
    pub segments: Vec<u32>,
}

/// One domain as a device has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainSyncState {
    pub domain: String,
    pub applied_seq: u64,
    /// The hub's latest seq, as last heard (None before any head arrived).
    pub head_seq: Option<u64>,
    /// Searchable descriptors.
    pub descriptors: u64,
    /// The model pack of those descriptors (None: the domain holds none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
}

/// `devices/{id}/state`, retained; the broker publishes the Last Will
/// (`online: false`) when the device vanishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceState {
    pub device_id: String,
    pub online: bool,
    pub role: String,
    /// The facerecd version the device runs (the envelope's `version` is the protocol's).
    pub software_version: String,
    pub domains: Vec<DomainSyncState>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Head(Head),
    Announcement(Announcement),
    Request(SyncRequest),
    DeviceState(DeviceState),
    Definition(super::definitions::SignedDefinition),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    version: u32,
    #[serde(flatten)]
    message: Message,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a facerec message: {0}")]
    Malformed(String),
    #[error("protocol version {0} is not supported (this build speaks {PROTOCOL_VERSION})")]
    Version(u32),
}

impl Message {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            version: PROTOCOL_VERSION,
            message: self.clone(),
        })
        .expect("messages serialise")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let v: VersionOnly =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if v.version != PROTOCOL_VERSION {
            return Err(DecodeError::Version(v.version));
        }
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        Ok(envelope.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_unknown_versions_are_refused() {
        let msg = Message::Request(SyncRequest {
            device_id: "edge-1".into(),
            have_seq: 4,
            segments: None,
        });
        let bytes = msg.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#""version":1"#) && text.contains(r#""type":"request""#));
        assert_eq!(Message::decode(&bytes).unwrap(), msg);

        let future = text.replace(r#""version":1"#, r#""version":2"#);
        assert!(matches!(
            Message::decode(future.as_bytes()),
            Err(DecodeError::Version(2))
        ));
        assert!(matches!(
            Message::decode(b"\x00garbage"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Message::decode(br#"{"version":1,"type":"nonsense"}"#),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn every_message_kind_round_trips_with_one_version_key() {
        let state = Message::DeviceState(DeviceState {
            device_id: "edge-1".into(),
            online: true,
            role: "edge".into(),
            software_version: "0.1.0".into(),
            domains: vec![DomainSyncState {
                domain: "serbia".into(),
                applied_seq: 3,
                head_seq: Some(4),
                descriptors: 12,
                pack: Some("sface-v1".into()),
            }],
            updated_at: chrono::Utc::now(),
        });
        let head = Message::Head(Head {
            domain: "serbia".into(),
            seq: 4,
            content_sha256: Some("ab".into()),
            snapshot_seq: None,
            public_key: "cd".into(),
            published_at: chrono::Utc::now(),
        });
        for msg in [state, head] {
            let bytes = msg.encode();
            let text = String::from_utf8(bytes.clone()).unwrap();
            assert_eq!(text.matches(r#""version""#).count(), 1, "{text}");
            assert_eq!(Message::decode(&bytes).unwrap(), msg);
        }
    }
}
