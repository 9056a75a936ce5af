//! What every facerec node has, whatever its role: the role itself and the
//! set of domains it serves ([`NodeScope`]), the Prometheus registry
//! ([`metrics`]) and giving freed memory back ([`memory`]).
//!
//! Kept apart so that the hub's, the edge's and the API's crates can share
//! these without importing each other.

pub mod memory;
pub mod metrics;
mod scope;

pub use scope::{NodeScope, Role};
