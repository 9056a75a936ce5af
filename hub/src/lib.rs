//! The hub: the training pipeline, one stage per module, and the hub's end
//! of batch sync.
//!
//! candidates ([`candidates`], from WASM plugins) →
//! acquisition ([`acquire`]) → processing ([`process`]) → review
//! ([`review`]) → batches ([`batch`]) → [`publisher`] (MQTT), which also
//! keeps the edges' reported states ([`fleet`]). [`reembed`] moves a
//! domain to another model pack; [`jobs`] tracks long work for the API;
//! [`migrate`] brings an older install's tree in.
//!
//! Architecture invariant: the hub never imports an edge crate
//! (`facerec-edge`, `facerec-live`); what both roles read is in
//! `facerec-sync`.

pub mod acquire;
pub mod batch;
pub mod candidates;
pub mod fleet;
pub mod jobs;
pub mod migrate;
pub mod process;
pub mod publisher;
pub mod reembed;
pub mod review;
pub mod slug;
