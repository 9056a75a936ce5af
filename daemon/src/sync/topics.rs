//! The topic tree under a configurable prefix (default `facerec/v1`):
//!
//! ```text
//! {prefix}/domains/{domain}/head                      retained: latest seq, snapshot seq, hash
//! {prefix}/domains/{domain}/batches/{seq}/manifest    the signed manifest + chunk list
//! {prefix}/domains/{domain}/batches/{seq}/chunks/{n}  raw content bytes, ≤ 128 KiB each
//! {prefix}/devices/{device_id}/state                  retained: an edge's state (Last Will: offline)
//! {prefix}/devices/{device_id}/events                 recognition events
//! ```

use facerec_storage::DomainCode;

pub const DEFAULT_PREFIX: &str = "facerec/v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

/// What an incoming topic names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    Head(DomainCode),
    Manifest(DomainCode, u64),
    Chunk(DomainCode, u64, u32),
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
    pub fn manifest(&self, d: &DomainCode, seq: u64) -> String {
        format!("{}/domains/{d}/batches/{seq}/manifest", self.prefix)
    }
    pub fn chunk(&self, d: &DomainCode, seq: u64, n: u32) -> String {
        format!("{}/domains/{d}/batches/{seq}/chunks/{n}", self.prefix)
    }
    /// What an edge subscribes to for one of its domains — nothing wider.
    pub fn domain_filter(&self, d: &DomainCode) -> String {
        format!("{}/domains/{d}/#", self.prefix)
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
            ["domains", d, "batches", seq, "manifest"] => Some(Topic::Manifest(
                DomainCode::parse(d).ok()?,
                seq.parse().ok()?,
            )),
            ["domains", d, "batches", seq, "chunks", n] => Some(Topic::Chunk(
                DomainCode::parse(d).ok()?,
                seq.parse().ok()?,
                n.parse().ok()?,
            )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_strangers_are_ignored() {
        let t = Topics::new("facerec/v1/").unwrap();
        let d = DomainCode::parse("serbia").unwrap();
        assert_eq!(t.head(&d), "facerec/v1/domains/serbia/head");
        assert_eq!(t.parse(&t.head(&d)), Some(Topic::Head(d.clone())));
        assert_eq!(
            t.parse(&t.chunk(&d, 7, 3)),
            Some(Topic::Chunk(d.clone(), 7, 3))
        );
        assert_eq!(
            t.parse(&t.manifest(&d, 7)),
            Some(Topic::Manifest(d.clone(), 7))
        );
        assert_eq!(
            t.parse(&t.device_state("edge-ljubljana-1")),
            Some(Topic::DeviceState("edge-ljubljana-1".into()))
        );
        assert_eq!(t.domain_filter(&d), "facerec/v1/domains/serbia/#");
        for stranger in [
            "other/v1/domains/serbia/head",
            "facerec/v1/domains/Serbia/head",
            "facerec/v1/domains/../head",
            "facerec/v1/domains/serbia/head/extra",
            "facerec/v1/domains/serbia/batches/x/manifest",
            "facerec/v1/devices/a+b/state",
        ] {
            assert_eq!(t.parse(stranger), None, "{stranger}");
        }
        assert!(Topics::new("facerec/#").is_err());
        assert!(Topics::new("").is_err());
        assert!(Topics::new("a//b").is_err());
    }
}
