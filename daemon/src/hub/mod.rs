//! The hub's training pipeline, one stage per module: candidates (plugins)
//! → acquisition → processing → review → batches.

pub mod acquire;
pub mod batch;
pub mod candidates;
pub mod jobs;
pub mod keys;
pub mod process;
pub mod reembed;
pub mod review;
pub mod slug;
