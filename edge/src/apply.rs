//! Applying a verified batch on an edge: redb first (one transaction, see
//! `Store::apply_batch`), then the search index — patched for a delta,
//! rebuilt and swapped in for a snapshot. The index dump is saved
//! afterwards, off the sync path ([`save_dump`]).
//!
//! A crash between the two leaves redb ahead of the dump; the next start
//! sees the dump is stale and rebuilds it from redb (a large domain serves
//! the stale dump meanwhile, never answering a person erased since), so
//! the index never disagrees with the applied seq for long, and never by
//! half a batch.

use anyhow::Context;
use facerec_index::IndexSet;
use facerec_storage::{
    BatchMeta, DomainCode, IncomingBatch, NewEmbedding, PersonId, Store, SyncedPerson,
};

use facerec_sync::batch::{BatchContent, BatchManifest};

/// Turns verified content into what storage applies; any invalid person id
/// rejects the whole batch.
pub fn incoming(manifest: &BatchManifest, content: BatchContent) -> anyhow::Result<IncomingBatch> {
    let domain =
        DomainCode::parse(&manifest.domain).context("the batch names an invalid domain")?;
    let added = content
        .added
        .into_iter()
        .map(|p| {
            Ok(SyncedPerson {
                id: PersonId::parse(&p.person).with_context(|| {
                    format!("the batch adds an invalid person id {:?}", p.person)
                })?,
                display_name: p.display_name,
                wikidata_id: p.wikidata_id,
                embeddings: p
                    .embeddings
                    .into_iter()
                    .map(|e| NewEmbedding {
                        image_id: e.image_id,
                        vector: e.vector,
                    })
                    .collect(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let removed = content
        .removed
        .iter()
        .map(|r| {
            PersonId::parse(r)
                .with_context(|| format!("the batch removes an invalid person id {r:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(IncomingBatch {
        meta: BatchMeta {
            domain,
            seq: manifest.seq,
            id: manifest.id.clone(),
            kind: manifest.kind,
            created_at: manifest.created_at,
            people_added: manifest.people_added,
            people_removed: manifest.people_removed,
            descriptors: manifest.descriptors,
            content_hash: manifest.content_sha256.clone(),
            pack: manifest.pack.clone(),
        },
        added,
        removed,
    })
}

/// What an applied batch did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub seq: u64,
    pub descriptors_added: usize,
    /// A snapshot's search graph came from the hub (not built here).
    pub graph_from_hub: bool,
    pub searchable: std::time::Instant,
}

/// Applies `batch` to redb and the index (blocking). A snapshot's index is
/// the graph the hub shipped with it when that fits what was stored, and
/// is built here otherwise (an older hub, another graph format, a graph
/// of other descriptors).
pub fn apply(
    store: &Store,
    index: &IndexSet,
    batch: IncomingBatch,
    shipped: Option<facerec_sync::batch::ShippedIndex>,
) -> anyhow::Result<ApplyReport> {
    let domain = batch.meta.domain.clone();
    let seq = batch.meta.seq;
    let applied = store
        .apply_batch(batch)
        .with_context(|| format!("storing batch {seq} of '{domain}'"))?;
    let mut graph_from_hub = false;
    let descriptors_added = applied.added.len();
    if applied.replaced_all {
        // The index is made from what redb now holds: the batch's own copy
        // of the descriptors goes first (half a gigabyte at a million).
        drop(applied);
        // The parsed snapshot's memory, freed, goes back before the index
        // is made (glibc would keep it, and the peak would be both).
        facerec_node::memory::release_freed();
        match shipped.and_then(|s| s.usable()) {
            Some(graph) => graph_from_hub = index.install(&domain, &graph)?,
            None => index.rebuild(&domain)?,
        }
    } else {
        index.apply(&domain, applied.revision, &applied.added, &applied.removed)?;
    }
    let searchable = std::time::Instant::now();
    // What applying freed (the batch, a delta's old graph) goes back now,
    // not whenever the allocator would.
    facerec_node::memory::release_freed();
    Ok(ApplyReport {
        seq,
        descriptors_added,
        graph_from_hub,
        searchable,
    })
}

/// Saves the index dumps that are behind (blocking). The dump only saves
/// start-up time, so a failure is logged, not fatal; saving one of 75,000
/// descriptors takes about a second, which is why the subscriber runs it
/// beside the sync loop rather than in it.
pub fn save_dump(index: &IndexSet) {
    if let Err(e) = index.save_all() {
        tracing::warn!(error = %e, "could not save the search index dump");
    }
}
