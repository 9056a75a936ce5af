//! The hub's view of its edges, from their retained device states
//! (`{prefix}/devices/{id}/state`): which batch each has applied per
//! domain, and whether it is online. The review console's publish page
//! reads it to show who has a batch and how far behind each edge is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use facerec_sync::messages::DeviceState;

#[derive(Clone, Debug, Default)]
pub struct Fleet {
    devices: Arc<Mutex<BTreeMap<String, DeviceState>>>,
}

impl Fleet {
    /// Keeps a device's latest state (an older one never replaces a newer
    /// one: the broker may replay a retained state after a live one).
    pub fn record(&self, state: DeviceState) {
        let mut devices = self.devices.lock().expect("fleet lock");
        match devices.get(&state.device_id) {
            Some(known) if known.updated_at > state.updated_at => {}
            _ => {
                devices.insert(state.device_id.clone(), state);
            }
        }
    }

    /// A device whose retained state was cleared.
    pub fn forget(&self, device_id: &str) {
        self.devices.lock().expect("fleet lock").remove(device_id);
    }

    /// Every edge's state, by device id.
    pub fn devices(&self) -> Vec<DeviceState> {
        self.devices
            .lock()
            .expect("fleet lock")
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn state(id: &str, seq: u64, at: chrono::DateTime<Utc>) -> DeviceState {
        DeviceState {
            device_id: id.into(),
            online: true,
            role: "edge".into(),
            software_version: "0".into(),
            domains: vec![facerec_sync::messages::DomainSyncState {
                domain: "serbia".into(),
                applied_seq: seq,
                head_seq: Some(seq),
                descriptors: 1,
                pack: None,
            }],
            updated_at: at,
        }
    }

    #[test]
    fn a_replayed_older_state_does_not_replace_a_newer_one() {
        let fleet = Fleet::default();
        let now = Utc::now();
        fleet.record(state("edge-1", 5, now));
        fleet.record(state("edge-1", 3, now - Duration::seconds(10)));
        assert_eq!(fleet.devices()[0].domains[0].applied_seq, 5);
        fleet.record(state("edge-1", 6, now + Duration::seconds(1)));
        assert_eq!(fleet.devices()[0].domains[0].applied_seq, 6);
        fleet.forget("edge-1");
        assert!(fleet.devices().is_empty());
    }
}
