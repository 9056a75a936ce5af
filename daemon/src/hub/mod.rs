//! The hub's training pipeline, one stage per module: candidates (plugins)
//! → acquisition → processing → review → batches.

pub mod acquire;
pub mod candidates;
pub mod process;
pub mod slug;
