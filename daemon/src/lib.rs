//! facerecd: the one binary of facerec, in two roles.
//!
//! - **hub** — the central training server ([`facerec_hub`]);
//! - **edge** — a venue appliance ([`facerec_edge`] for its batch sync,
//!   [`facerec_live`] for its cameras).
//!
//! This crate only wires the others: the CLI ([`cli`]) and what each
//! command does ([`commands`]), the configuration ([`config`]) and node
//! start-up ([`server`]). The HTTP API both roles serve is [`facerec_api`].
//!
//! Architecture invariant: no other crate imports this one, and the
//! serving path ([`server`]) never reaches into a command module (the
//! bench harness is a command; the server does not know it exists).

pub mod cli;
pub mod commands;
pub mod config;
pub mod server;
