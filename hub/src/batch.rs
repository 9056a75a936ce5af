//! Building a domain's batches on the hub: what was approved or erased
//! since the last batch as the next delta, or the whole production state as
//! a snapshot, signed with the hub's key ([`facerec_sync::batch`] is the
//! format both roles share).
//!
//! A batch is made real in two steps: its files (a leftover of a crashed
//! build of the same seq is replaced), then one registry transaction that
//! records it and moves its people to production.

use std::path::Path;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use facerec_storage::{BatchKind, BatchMeta, DomainCode, PersonId, Store};
use facerec_sync::batch::{
    BatchContent, BatchEmbedding, BatchManifest, BatchPerson, ShippedIndex, batch_dir, sign,
    snapshot_dir,
};

/// The pack of a domain's descriptors: what it stores, else (none yet) the
/// pack the domain names.
fn pack_of(store: &Store, domain: &DomainCode) -> anyhow::Result<String> {
    Ok(match store.embedding_pack(domain)? {
        Some(p) => p,
        None => store.domain(domain)?.pack,
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    facerec_storage::files::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn person_entry(
    store: &Store,
    domain: &DomainCode,
    person: &PersonId,
) -> anyhow::Result<BatchPerson> {
    let p = store
        .get_person(domain, person)?
        .with_context(|| format!("person '{person}' vanished"))?;
    let embeddings = store
        .person_embeddings(domain, person)?
        .into_iter()
        .map(|e| BatchEmbedding {
            id: e.id,
            image_id: e.image_id,
            vector: e.vector,
        })
        .collect();
    Ok(BatchPerson {
        person: person.to_string(),
        display_name: p.display_name,
        wikidata_id: p.wikidata_id,
        embeddings,
    })
}

fn write_batch_files(
    dir: &Path,
    content: &[u8],
    manifest: &BatchManifest,
) -> anyhow::Result<Vec<u8>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let manifest_json = serde_json::to_vec_pretty(manifest)?;
    write_atomic(&dir.join("descriptors.json"), content)?;
    write_atomic(&dir.join("batch_metadata.json"), &manifest_json)?;
    Ok(manifest_json)
}

/// Every production person of the domain, as the content of batch `seq`,
/// with their search graph.
fn production_content(
    store: &Store,
    domain: &DomainCode,
    seq: u64,
) -> anyhow::Result<BatchContent> {
    let mut added = Vec::new();
    for person in store.list_people(domain, Some(facerec_storage::PersonStatus::Production))? {
        added.push(person_entry(store, domain, &person.id)?);
    }
    let mut content = BatchContent {
        domain: domain.to_string(),
        seq,
        added,
        removed: vec![],
        index: None,
    };
    content.index = ShippedIndex::of(&content);
    Ok(content)
}

/// Makes a signed batch real: its files first (a leftover of a crashed
/// build of this seq is replaced), then the one transaction that records
/// it and publishes `pending`.
fn commit(
    store: &Store,
    domain: &DomainCode,
    dir: &Path,
    bytes: &[u8],
    manifest: &BatchManifest,
    pending: &facerec_storage::PendingChanges,
) -> anyhow::Result<()> {
    let manifest_json = write_batch_files(dir, bytes, manifest)?;
    std::fs::create_dir_all(store.layout().batch_manifests())?;
    write_atomic(
        &store.layout().batch_manifest(domain, &manifest.id),
        &manifest_json,
    )?;
    store.commit_batch(
        &BatchMeta {
            domain: domain.clone(),
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
        pending,
    )?;
    Ok(())
}

/// Builds a snapshot of what the domain has published up to its last batch
/// (every person in production), for new or far-behind edges: applying it
/// replaces an edge's state with the state after batch `seq`. A snapshot is
/// derived data (like an index dump): it is written beside the batches and
/// can be rebuilt at any time.
pub fn build_snapshot(
    store: &Store,
    domain: &DomainCode,
    key: &SigningKey,
) -> anyhow::Result<BatchManifest> {
    let Some(last) = store.last_batch(domain)? else {
        bail!("domain '{domain}' has no batch yet: build one before a snapshot");
    };
    let content = production_content(store, domain, last.seq)?;
    let (bytes, manifest) = sign(key, &content, BatchKind::Snapshot, &pack_of(store, domain)?)?;
    write_batch_files(&snapshot_dir(store, domain, last.seq), &bytes, &manifest)?;
    tracing::info!(domain = %domain, seq = last.seq, people = manifest.people_added, "snapshot built");
    Ok(manifest)
}

/// Publishes the domain's whole production state as the *next* batch seq,
/// a snapshot: what re-embedding ends with. Every edge applies it whole
/// (its seq is past theirs) and so switches to the new descriptors at once;
/// a delta could not, as its pack differs from what edges hold. `None`
/// when the domain has never published a batch (the next delta carries
/// everything).
pub fn build_switch_snapshot(
    store: &Store,
    domain: &DomainCode,
    key: &SigningKey,
) -> anyhow::Result<Option<BatchManifest>> {
    let Some(last) = store.last_batch(domain)? else {
        return Ok(None);
    };
    let seq = last.seq + 1;
    let content = production_content(store, domain, seq)?;
    let (bytes, manifest) = sign(key, &content, BatchKind::Snapshot, &pack_of(store, domain)?)?;
    let dir = snapshot_dir(store, domain, seq);
    commit(store, domain, &dir, &bytes, &manifest, &Default::default())?;
    tracing::info!(domain = %domain, seq, pack = %manifest.pack, people = manifest.people_added, "snapshot published as the next batch");
    Ok(Some(manifest))
}

/// Builds the next delta batch of `domain`, or `None` when nothing was
/// approved or erased since the last one.
pub fn build_delta(
    store: &Store,
    domain: &DomainCode,
    key: &SigningKey,
) -> anyhow::Result<Option<BatchManifest>> {
    let pending = store.pending_changes(domain)?;
    if pending.is_empty() {
        return Ok(None);
    }
    let seq = store.last_batch(domain)?.map_or(0, |b| b.seq) + 1;
    let mut added = Vec::with_capacity(pending.approved.len());
    for person in &pending.approved {
        added.push(person_entry(store, domain, person)?);
    }
    let content = BatchContent {
        domain: domain.to_string(),
        seq,
        removed: pending.removed.iter().map(PersonId::to_string).collect(),
        added,
        index: None,
    };
    let (bytes, manifest) = sign(key, &content, BatchKind::Delta, &pack_of(store, domain)?)?;
    commit(
        store,
        domain,
        &batch_dir(store, domain, seq),
        &bytes,
        &manifest,
        &pending,
    )?;
    tracing::info!(domain = %domain, seq, added = manifest.people_added,
        removed = manifest.people_removed, "batch built");
    Ok(Some(manifest))
}
