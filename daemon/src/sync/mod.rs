//! Batch sync between the hub and edges over MQTT: the topic tree, the
//! payload envelope and the chunking of batches (issue 7). This module is
//! the protocol only — pure functions and types, no network — so both the
//! hub's publisher and the edge's subscriber share one definition of it.
//! The protocol is documented in `docs/mqtt.md` once the transport lands.

pub mod broker;
pub mod chunks;
pub mod client;
pub mod topics;
