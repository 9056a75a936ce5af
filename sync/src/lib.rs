//! The sync protocol both roles share (`docs/mqtt.md`): what a batch is and
//! how it is signed, how it travels over MQTT, and the MQTT transport.
//!
//! - [`batch`], [`keys`]: the batch format, its ed25519 signature and
//!   verification; the hub's key file.
//! - [`topics`], [`messages`], [`chunks`]: the protocol — pure types and
//!   functions: the topic tree, the versioned envelope, segment transfer.
//! - [`definitions`]: signed domain definitions, so an edge learns its
//!   registry from the hub.
//! - [`client`]: rumqttc options (limits, persistent session, TLS) and the
//!   reconnecting event-loop task; [`config`]: the `[mqtt]` settings;
//!   [`broker`]: the embedded rumqttd broker.
//!
//! The two ends live apart: the hub's publisher in `facerec-hub`, the
//! edge's subscriber in `facerec-edge`. Architecture invariant: this crate
//! imports neither; a format both roles read is defined here, once.

pub mod batch;
pub mod broker;
pub mod chunks;
pub mod client;
pub mod config;
pub mod definitions;
pub mod keys;
pub mod messages;
pub mod topics;
