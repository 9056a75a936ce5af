//! Per-domain face search.
//!
//! Each loaded domain has a [`DomainIndex`]: an in-memory HNSW graph
//! (hnsw_rs, Euclidean distance) over the embeddings redb holds for it. A
//! query is answered per person — the k nearest embeddings grouped by whom
//! they belong to — and an [`IndexSet`] walks a domain's own index first,
//! then the domains it inherits, by priority. hnsw_rs builds whole graphs
//! on all cores; they are kept, searched, grown by deltas (`insert.rs`) and
//! dumped (`graph_file.rs`) in one compact layout (`graph.rs`).
//!
//! Architecture invariants: the index is a cache of redb and can always be
//! rebuilt from it; nothing on the query path touches files; a node only
//! holds (and only answers for) the domains it serves.

mod domain;
mod graph;
mod graph_file;
mod insert;
mod persist;
mod score;
mod set;
mod vectors;

pub use domain::{DomainIndex, PersonHit, ShippedGraph};
pub use persist::{DumpProblem, Manifest};
pub use score::{SearchParams, confidence};
pub use set::{
    IndexError, IndexOptions, IndexSet, IndexSource, LoadReport, Match, PackQuery, SearchOutcome,
};
