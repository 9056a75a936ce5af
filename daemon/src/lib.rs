//! facerecd: one daemon, two roles.
//!
//! - **hub** — the central training server: the domain registry, candidate
//!   generation, training and batch publishing.
//! - **edge** — a venue appliance: recognises faces against only its own
//!   domain (and the datasets it inherits).
//!
//! Both roles serve the same HTTP API ([`api`]); what differs is which
//! domains a node will touch ([`node::NodeScope`]). The CLI ([`cli`]) also
//! works on a stopped node's data root directly.

pub mod api;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod eval;
pub mod fsutil;
pub mod http_server;
pub mod hub;
pub mod live;
pub mod memory;
pub mod metrics;
pub mod migrate;
pub mod node;
pub mod recognition;
pub mod server;
pub mod sync;
