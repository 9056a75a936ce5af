//! The topic tree under a configurable prefix (default `facerec/v1`):
//!
//! ```text
//! {prefix}/domains/{domain}/head                        retained: latest seq, snapshot seq, hash
//! {prefix}/domains/{domain}/definition                  retained: the signed registry entry
//! {prefix}/domains/{domain}/batches/{seq}/manifest      a delta's signed manifest + chunk list
//! {prefix}/domains/{domain}/batches/{seq}/chunks/{n}    raw content bytes, ≤ 128 KiB each
//! {prefix}/domains/{domain}/snapshots/{seq}/manifest    a snapshot's, likewise
//! {prefix}/domains/{domain}/snapshots/{seq}/chunks/{n}
//! {prefix}/domains/{domain}/requests                    an edge asks the hub to (re)publish
//! {prefix}/devices/{device_id}/state                  retained: an edge's state (Last Will: offline)
//! {prefix}/devices/{device_id}/events                 recognition events
//! ```

use facerec_storage::{BatchKind, DomainCode};

pub const DEFAULT_PREFIX: &str = "facerec/v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

/// One published batch: a delta or a snapshot of a domain at a seq.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchRef {
    pub domain: DomainCode,
    pub kind: BatchKind,
    pub seq: u64,
}

pub fn kind_level(kind: BatchKind) -> &'static str {
    match kind {
        BatchKind::Delta => "batches",
        BatchKind::Snapshot => "snapshots",
    }
}

/// What an incoming topic names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    Head(DomainCode),
    Definition(DomainCode),
    Manifest(BatchRef),
    Chunk(BatchRef, u32),
    Request(DomainCode),
    DeviceState(String),
    DeviceEvents(String),
}

/// Device ids become topic levels: keep them to safe characters.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Topics {
    /// A prefix of one or more non-empty levels without MQTT wildcards.
    pub fn new(prefix: &str) -> Result<Self, String> {
        let prefix = prefix.trim_end_matches('/');
        let ok = !prefix.is_empty()
            && !prefix.starts_with('/')
            && prefix
                .split('/')
                .all(|level| !level.is_empty() && !level.contains(['+', '#', '\0']));
        if ok {
            Ok(Self {
                prefix: prefix.to_string(),
            })
        } else {
            Err(format!(
                "MQTT topic prefix {prefix:?} must be non-empty levels separated by '/', without '+' or '#'"
            ))
        }
    }

    pub fn head(&self, d: &DomainCode) -> String {
        format!("{}/domains/{d}/head", self.prefix)
    }
    pub fn manifest(&self, b: &BatchRef) -> String {
        format!(
            "{}/domains/{}/{}/{}/manifest",
            self.prefix,
            b.domain,
            kind_level(b.kind),
            b.seq
        )
    }
    pub fn chunk(&self, b: &BatchRef, n: u32) -> String {
        format!(
            "{}/domains/{}/{}/{}/chunks/{n}",
            self.prefix,
            b.domain,
            kind_level(b.kind),
            b.seq
        )
    }
    pub fn definition(&self, d: &DomainCode) -> String {
        format!("{}/domains/{d}/definition", self.prefix)
    }
    pub fn requests(&self, d: &DomainCode) -> String {
        format!("{}/domains/{d}/requests", self.prefix)
    }
    /// What an edge subscribes to for one of its domains — nothing wider
    /// (and not the requests of other edges).
    pub fn edge_filters(&self, d: &DomainCode) -> [String; 4] {
        [
            self.head(d),
            self.definition(d),
            format!("{}/domains/{d}/batches/#", self.prefix),
            format!("{}/domains/{d}/snapshots/#", self.prefix),
        ]
    }
    /// What the hub subscribes to: every domain's requests.
    pub fn hub_filter(&self) -> String {
        format!("{}/domains/+/requests", self.prefix)
    }
    /// Every device's retained state (the hub reads its edges').
    pub fn device_states_filter(&self) -> String {
        format!("{}/devices/+/state", self.prefix)
    }
    pub fn device_state(&self, device: &str) -> String {
        format!("{}/devices/{device}/state", self.prefix)
    }
    pub fn device_events(&self, device: &str) -> String {
        format!("{}/devices/{device}/events", self.prefix)
    }

    /// Parses a topic of this tree; anything else (another prefix, a bad
    /// domain code, extra levels) is `None`.
    pub fn parse(&self, topic: &str) -> Option<Topic> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let levels: Vec<&str> = rest.split('/').collect();
        match levels.as_slice() {
            ["domains", d, "head"] => Some(Topic::Head(DomainCode::parse(d).ok()?)),
            ["domains", d, "definition"] => Some(Topic::Definition(DomainCode::parse(d).ok()?)),
            ["domains", d, "requests"] => Some(Topic::Request(DomainCode::parse(d).ok()?)),
            ["domains", d, kind, seq, "manifest"] => {
                Some(Topic::Manifest(batch_ref(d, kind, seq)?))
            }
            ["domains", d, kind, seq, "chunks", n] => {
                Some(Topic::Chunk(batch_ref(d, kind, seq)?, n.parse().ok()?))
            }
            ["devices", id, "state"] if valid_device_id(id) => {
                Some(Topic::DeviceState(id.to_string()))
            }
            ["devices", id, "events"] if valid_device_id(id) => {
                Some(Topic::DeviceEvents(id.to_string()))
            }
            _ => None,
        }
    }
}

fn batch_ref(domain: &str, kind: &str, seq: &str) -> Option<BatchRef> {
    let kind = match kind {
        "batches" => BatchKind::Delta,
        "snapshots" => BatchKind::Snapshot,
        _ => return None,
    };
    Some(BatchRef {
        domain: DomainCode::parse(domain).ok()?,
        kind,
        seq: seq.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_strangers_are_ignored() {
        let t = Topics::new("facerec/v1/").unwrap();
        let d = DomainCode::parse("serbia").unwrap();
        assert_eq!(t.head(&d), "facerec/v1/domains/serbia/head");
        assert_eq!(t.parse(&t.head(&d)), Some(Topic::Head(d.clone())));
        let delta = BatchRef {
            domain: d.clone(),
            kind: BatchKind::Delta,
            seq: 7,
        };
        let snapshot = BatchRef {
            kind: BatchKind::Snapshot,
            ..delta.clone()
        };
        assert_eq!(
            t.chunk(&delta, 3),
            "facerec/v1/domains/serbia/batches/7/chunks/3"
        );
        assert_eq!(
            t.parse(&t.chunk(&delta, 3)),
            Some(Topic::Chunk(delta.clone(), 3))
        );
        assert_eq!(
            t.parse(&t.manifest(&snapshot)),
            Some(Topic::Manifest(snapshot.clone()))
        );
        assert_eq!(t.parse(&t.requests(&d)), Some(Topic::Request(d.clone())));
        assert_eq!(
            t.parse(&t.device_state("edge-ljubljana-1")),
            Some(Topic::DeviceState("edge-ljubljana-1".into()))
        );
        assert_eq!(t.edge_filters(&d)[2], "facerec/v1/domains/serbia/batches/#");
        assert_eq!(
            t.parse(&t.definition(&d)),
            Some(Topic::Definition(d.clone()))
        );
        assert_eq!(t.hub_filter(), "facerec/v1/domains/+/requests");
        for stranger in [
            "other/v1/domains/serbia/head",
            "facerec/v1/domains/Serbia/head",
            "facerec/v1/domains/../head",
            "facerec/v1/domains/serbia/head/extra",
            "facerec/v1/domains/serbia/batches/x/manifest",
            "facerec/v1/domains/serbia/other/1/manifest",
            "facerec/v1/devices/a+b/state",
        ] {
            assert_eq!(t.parse(stranger), None, "{stranger}");
        }
        assert!(Topics::new("facerec/#").is_err());
        assert!(Topics::new("").is_err());
        assert!(Topics::new("a//b").is_err());
    }
}
