//! The edge's end of batch sync: [`subscriber`] follows the hub's batches
//! for the edge's own domains only (verify, order, ask for gaps, pull large
//! batches by segment), and [`apply`] makes each one real — one registry
//! transaction, then the search index patched or rebuilt, then its dump.
//!
//! Architecture invariants: an edge's crate never opens another domain's
//! data (every topic it subscribes to and every batch it applies is checked
//! against its [`facerec_node::NodeScope`]); it never imports the hub's
//! crate (the batch format and keys are `facerec-sync`'s).

pub mod apply;
pub mod definitions;
pub mod subscriber;
