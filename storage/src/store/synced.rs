//! An edge's side of batch sync: applying a verified batch from the hub to
//! the local registry in one transaction.
//!
//! Architecture invariant: an edge's people and embeddings change only here,
//! and only by whole batches in seq order; the batch's row in `batches` is
//! written in the same transaction, so "applied seq" can never disagree with
//! what is stored — a crash leaves the state before or after a batch.

use chrono::Utc;
use redb::ReadableTable;

use super::Store;
use super::batches::{insert_next_batch, last_seq};
use super::codec::encode;
use super::embeddings::{Embedding, NewEmbedding, delete_person_embeddings, insert_embeddings};
use super::rows::{bump_revision, load_person, put_person, read_domain, set_person_status_in};
use crate::code::{DomainCode, PersonId};
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

/// One person a batch brings, with every descriptor the hub holds for them.
#[derive(Debug, Clone)]
pub struct SyncedPerson {
    pub id: PersonId,
    pub display_name: String,
    pub wikidata_id: Option<String>,
    pub embeddings: Vec<NewEmbedding>,
}

/// A verified batch, ready to apply.
#[derive(Debug, Clone)]
pub struct IncomingBatch {
    pub meta: BatchMeta,
    pub added: Vec<SyncedPerson>,
    pub removed: Vec<PersonId>,
}

/// What applying changed, for the search index to follow.
#[derive(Debug, Clone, Default)]
pub struct AppliedBatch {
    /// The embedding revision after the batch.
    pub revision: u64,
    pub added: Vec<Embedding>,
    /// People whose earlier embeddings are gone (removed or replaced).
    pub removed: Vec<PersonId>,
    /// A snapshot replaced the domain's whole state: rebuild, don't patch.
    pub replaced_all: bool,
}

impl Store {
    /// The last batch seq applied to (or, on a hub, built for) a domain;
    /// 0 when none.
    pub fn applied_seq(&self, domain: &DomainCode) -> StorageResult<u64> {
        Ok(self.last_batch(domain)?.map_or(0, |b| b.seq))
    }

    /// Applies a delta (seq must be the applied seq + 1) or a snapshot (seq
    /// must be past the applied seq; it replaces every person of the domain)
    /// in one transaction. A person a delta adds replaces any earlier
    /// version of them; a removed person's embeddings are deleted.
    ///
    /// A delta's pack must be the pack of the domain's stored descriptors
    /// (else [`StorageError::PackMismatch`], and nothing changes).
    pub fn apply_batch(&self, batch: IncomingBatch) -> StorageResult<AppliedBatch> {
        let domain = batch.meta.domain.clone();
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        if read_domain(&txn.open_table(DOMAINS)?, &domain)?.is_none() {
            return Err(StorageError::UnknownDomain(d.to_string()));
        }
        let mut applied = AppliedBatch::default();
        match batch.meta.kind {
            BatchKind::Delta => insert_next_batch(&txn, &batch.meta)?,
            BatchKind::Snapshot => {
                let last = last_seq(&txn.open_table(BATCHES)?, d)?;
                if batch.meta.seq <= last {
                    return Err(StorageError::Conflict(format!(
                        "snapshot at seq {} of '{d}' is not past the applied seq {last}",
                        batch.meta.seq
                    )));
                }
                applied.removed = remove_everyone(&txn, d)?;
                applied.replaced_all = true;
                // A snapshot may bring another pack (a re-embedded domain):
                // it replaces every descriptor, so it may switch.
                txn.open_table(EMBEDDING_PACKS)?
                    .insert(d, batch.meta.pack.as_str())?;
                txn.open_table(BATCHES)?
                    .insert((d, batch.meta.seq), encode(&batch.meta).as_slice())?;
            }
        }
        let now = Utc::now();
        for gone in &batch.removed {
            if delete_person_embeddings(&txn, d, gone.as_str())? > 0 {
                applied.removed.push(gone.clone());
            }
            if let Ok(person) = load_person(&txn, d, gone.as_str()) {
                set_person_status_in(&txn, person, PersonStatus::Deleted)?;
            }
        }
        for person in batch.added {
            if delete_person_embeddings(&txn, d, person.id.as_str())? > 0 {
                applied.removed.push(person.id.clone());
            }
            let previous = load_person(&txn, d, person.id.as_str()).ok();
            let stored = Person {
                domain: domain.clone(),
                id: person.id.clone(),
                display_name: person.display_name,
                status: PersonStatus::Production,
                wikidata_id: person.wikidata_id,
                country: None,
                occupations: vec![],
                sitelinks: None,
                image_urls: vec![],
                created_at: previous.as_ref().map_or(now, |p| p.created_at),
                updated_at: now,
            };
            put_person(&txn, &stored, previous.map(|p| p.status))?;
            let ids = insert_embeddings(&txn, d, &batch.meta.pack, &person.id, &person.embeddings)?;
            applied.added.extend(
                ids.into_iter()
                    .zip(person.embeddings)
                    .map(|(id, e)| Embedding {
                        id,
                        person: person.id.clone(),
                        image_id: e.image_id,
                        vector: e.vector,
                    }),
            );
        }
        applied.revision = bump_revision(&txn, d)?;
        txn.commit()?;
        Ok(applied)
    }
}

/// Deletes every person of a domain and their embeddings (a snapshot's
/// first step); returns who had embeddings.
fn remove_everyone(txn: &redb::WriteTransaction, d: &str) -> StorageResult<Vec<PersonId>> {
    let ids: Vec<String> = {
        let table = txn.open_table(PEOPLE)?;
        let mut ids = Vec::new();
        for row in table.range((d, "")..)? {
            let (key, _) = row?;
            if key.value().0 != d {
                break;
            }
            ids.push(key.value().1.to_string());
        }
        ids
    };
    let mut removed = Vec::new();
    let mut people = txn.open_table(PEOPLE)?;
    let mut by_status = txn.open_table(PEOPLE_BY_STATUS)?;
    for p in &ids {
        if delete_person_embeddings(txn, d, p)? > 0
            && let Ok(id) = PersonId::parse(p)
        {
            removed.push(id);
        }
        people.remove((d, p.as_str()))?;
        for status in PersonStatus::ALL {
            by_status.remove((d, status.as_str(), p.as_str()))?;
        }
    }
    Ok(removed)
}
