//! Batch sync between the hub and edges over MQTT (protocol in
//! `docs/mqtt.md`).
//!
//! - [`topics`], [`messages`], [`chunks`]: the protocol — pure types and
//!   functions shared by both sides;
//! - [`client`]: rumqttc options (limits, persistent session, TLS) and the
//!   reconnecting event-loop task; [`config`]: the `[mqtt]` settings;
//! - [`broker`]: the embedded rumqttd broker;
//! - [`definitions`]: signed domain definitions, so an edge learns its
//!   registry from the hub;
//! - [`publisher`] (hub) and [`subscriber`] + [`apply`] (edge): the two
//!   tokio tasks, each owning its MQTT client.

pub mod apply;
pub mod broker;
pub mod chunks;
pub mod client;
pub mod config;
pub mod definitions;
pub mod fleet;
pub mod messages;
pub mod publisher;
pub mod subscriber;
pub mod topics;
