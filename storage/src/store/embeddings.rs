//! Face embeddings per domain: the source of truth every search index is
//! built from (an index dump is only a cache of this table).
//!
//! Records are binary, not JSON: a million 128-d vectors must load in
//! seconds. Layout: `u16` person-id length, the id, `u64` image id
//! (0 = none), `u16` dimension, then the vector as little-endian `f32`.

use redb::ReadableTable;

use super::Store;
use super::rows::{bump_revision, read_domain};
use crate::code::{DomainCode, PersonId};
use crate::error::{StorageError, StorageResult};
use crate::schema::*;

/// The descriptor length facerec stores (dlib ResNet).
pub const EMBEDDING_DIM: usize = 128;

/// A domain's embeddings as one consistent read.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingSet {
    pub revision: u64,
    /// `None` only while the domain has never held an embedding.
    pub pack: Option<String>,
    pub embeddings: Vec<Embedding>,
}

/// A stored embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub id: u64,
    pub person: PersonId,
    pub image_id: Option<u64>,
    pub vector: Vec<f32>,
}

/// An embedding to add.
#[derive(Debug, Clone)]
pub struct NewEmbedding {
    pub image_id: Option<u64>,
    pub vector: Vec<f32>,
}

fn encode(person: &PersonId, image_id: Option<u64>, vector: &[f32]) -> Vec<u8> {
    let p = person.as_str().as_bytes();
    let mut out = Vec::with_capacity(2 + p.len() + 8 + 2 + vector.len() * 4);
    out.extend_from_slice(&(p.len() as u16).to_le_bytes());
    out.extend_from_slice(p);
    out.extend_from_slice(&image_id.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(vector.len() as u16).to_le_bytes());
    for v in vector {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn decode(domain: &str, id: u64, bytes: &[u8]) -> StorageResult<Embedding> {
    let corrupt = |reason: &str| StorageError::Corrupt {
        table: "embeddings",
        key: format!("{domain}/{id}"),
        reason: reason.to_string(),
    };
    let take = |at: usize, n: usize| {
        bytes
            .get(at..at + n)
            .ok_or_else(|| corrupt("record is truncated"))
    };
    let plen = u16::from_le_bytes(take(0, 2)?.try_into().expect("2 bytes")) as usize;
    let person =
        std::str::from_utf8(take(2, plen)?).map_err(|_| corrupt("person id is not UTF-8"))?;
    let person = PersonId::parse(person).map_err(|e| corrupt(&e.to_string()))?;
    let at = 2 + plen;
    let image = u64::from_le_bytes(take(at, 8)?.try_into().expect("8 bytes"));
    let dim = u16::from_le_bytes(take(at + 8, 2)?.try_into().expect("2 bytes")) as usize;
    let raw = take(at + 10, dim * 4)?;
    if bytes.len() != at + 10 + dim * 4 {
        return Err(corrupt("record has trailing bytes"));
    }
    let vector = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok(Embedding {
        id,
        person,
        image_id: (image != 0).then_some(image),
        vector,
    })
}

fn validate(vector: &[f32]) -> StorageResult<()> {
    if vector.len() != EMBEDDING_DIM {
        return Err(StorageError::InvalidField {
            field: "embedding",
            reason: format!("has {} values, expected {EMBEDDING_DIM}", vector.len()),
        });
    }
    if vector.iter().any(|v| !v.is_finite()) {
        return Err(StorageError::InvalidField {
            field: "embedding",
            reason: "holds NaN or infinity".into(),
        });
    }
    Ok(())
}

/// The pack of a domain's embeddings: its row, else `LEGACY_PACK` if it
/// holds any (stored before packs were recorded), else none.
pub(crate) fn pack_of<T: ReadableTable<&'static str, &'static str>>(
    packs: &T,
    embeddings: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    d: &str,
) -> StorageResult<Option<String>> {
    if let Some(p) = packs.get(d)? {
        return Ok(Some(p.value().to_string()));
    }
    let any = embeddings
        .range((d, 0u64)..=(d, u64::MAX))?
        .next()
        .is_some();
    Ok(any.then(|| crate::model::LEGACY_PACK.to_string()))
}

/// Makes `pack` the pack of `d`'s embeddings inside `txn`, refusing a
/// different one while the domain holds embeddings of another: this is
/// what keeps two packs' descriptors out of one domain.
pub(crate) fn claim_pack(txn: &redb::WriteTransaction, d: &str, pack: &str) -> StorageResult<()> {
    let mut packs = txn.open_table(EMBEDDING_PACKS)?;
    let stored = pack_of(&packs, &txn.open_table(EMBEDDINGS)?, d)?;
    match stored {
        Some(stored) if stored != pack => Err(StorageError::PackMismatch {
            domain: d.to_string(),
            stored,
            given: pack.to_string(),
        }),
        _ => {
            packs.insert(d, pack)?;
            Ok(())
        }
    }
}

/// Inserts `embeddings` of `person`, made with `pack`, inside `txn` (the
/// caller bumps the revision); returns their ids.
pub(crate) fn insert_embeddings(
    txn: &redb::WriteTransaction,
    d: &str,
    pack: &str,
    person: &PersonId,
    embeddings: &[NewEmbedding],
) -> StorageResult<Vec<u64>> {
    for e in embeddings {
        validate(&e.vector)?;
    }
    if !embeddings.is_empty() {
        claim_pack(txn, d, pack)?;
    }
    let mut ids = Vec::with_capacity(embeddings.len());
    let mut meta = txn.open_table(META)?;
    let mut table = txn.open_table(EMBEDDINGS)?;
    let mut by_person = txn.open_table(EMBEDDINGS_BY_PERSON)?;
    let mut next = meta
        .get(META_NEXT_EMBEDDING_ID)?
        .map(|v| v.value())
        .unwrap_or(1);
    for e in embeddings {
        table.insert((d, next), encode(person, e.image_id, &e.vector).as_slice())?;
        by_person.insert((d, person.as_str(), next), ())?;
        ids.push(next);
        next += 1;
    }
    meta.insert(META_NEXT_EMBEDDING_ID, next)?;
    Ok(ids)
}

/// Removes every embedding of `person` inside `txn`; returns how many.
pub(crate) fn delete_person_embeddings(
    txn: &redb::WriteTransaction,
    d: &str,
    p: &str,
) -> StorageResult<u64> {
    let mut by_person = txn.open_table(EMBEDDINGS_BY_PERSON)?;
    let mut ids = Vec::new();
    for item in by_person.range((d, p, 0u64)..=(d, p, u64::MAX))? {
        ids.push(item?.0.value().2);
    }
    let mut table = txn.open_table(EMBEDDINGS)?;
    for id in &ids {
        table.remove((d, *id))?;
        by_person.remove((d, p, *id))?;
    }
    Ok(ids.len() as u64)
}

/// Deletes a person's embeddings made from image `image_id`; how many.
pub(crate) fn delete_image_embeddings(
    txn: &redb::WriteTransaction,
    d: &str,
    person: &PersonId,
    image_id: u64,
) -> StorageResult<u64> {
    let p = person.as_str();
    let mut by_person = txn.open_table(EMBEDDINGS_BY_PERSON)?;
    let mut table = txn.open_table(EMBEDDINGS)?;
    let mut ids = Vec::new();
    for item in by_person.range((d, p, 0u64)..=(d, p, u64::MAX))? {
        let id = item?.0.value().2;
        if let Some(v) = table.get((d, id))?
            && decode(d, id, v.value())?.image_id == Some(image_id)
        {
            ids.push(id);
        }
    }
    for id in &ids {
        table.remove((d, *id))?;
        by_person.remove((d, p, *id))?;
    }
    Ok(ids.len() as u64)
}

impl Store {
    /// The revision of a domain's embeddings: it changes with every add or
    /// removal and never repeats (0 = never changed). An index dump is valid
    /// only for the revision it was made at.
    pub fn embedding_revision(&self, domain: &DomainCode) -> StorageResult<u64> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EMBEDDING_REVISIONS)?;
        Ok(table.get(domain.as_str())?.map(|v| v.value()).unwrap_or(0))
    }

    /// The model pack of a domain's stored embeddings (`None`: it holds
    /// none and has never been given a pack).
    pub fn embedding_pack(&self, domain: &DomainCode) -> StorageResult<Option<String>> {
        let txn = self.db.begin_read()?;
        pack_of(
            &txn.open_table(EMBEDDING_PACKS)?,
            &txn.open_table(EMBEDDINGS)?,
            domain.as_str(),
        )
    }

    /// Adds a person's embeddings, made with `pack`, in one transaction;
    /// returns their ids. The person must exist in the domain, and the
    /// domain's other embeddings must be of the same pack.
    pub fn add_embeddings(
        &self,
        domain: &DomainCode,
        pack: &str,
        person: &PersonId,
        embeddings: &[NewEmbedding],
    ) -> StorageResult<Vec<u64>> {
        for e in embeddings {
            validate(&e.vector)?;
        }
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        if read_domain(&txn.open_table(DOMAINS)?, domain)?.is_none() {
            return Err(StorageError::UnknownDomain(d.to_string()));
        }
        if txn.open_table(PEOPLE)?.get((d, person.as_str()))?.is_none() {
            return Err(StorageError::UnknownPerson {
                domain: d.to_string(),
                person: person.to_string(),
            });
        }
        let ids = insert_embeddings(&txn, d, pack, person, embeddings)?;
        bump_revision(&txn, d)?;
        txn.commit()?;
        Ok(ids)
    }

    /// Removes every embedding of a person; returns how many there were.
    pub fn remove_person_embeddings(
        &self,
        domain: &DomainCode,
        person: &PersonId,
    ) -> StorageResult<u64> {
        let (d, p) = (domain.as_str(), person.as_str());
        let txn = self.db.begin_write()?;
        let removed = delete_person_embeddings(&txn, d, p)?;
        if removed > 0 {
            bump_revision(&txn, d)?;
        }
        txn.commit()?;
        Ok(removed)
    }

    /// Every embedding of a domain, by id (what an index is built from).
    pub fn domain_embeddings(&self, domain: &DomainCode) -> StorageResult<Vec<Embedding>> {
        Ok(self.domain_embeddings_at_revision(domain)?.embeddings)
    }

    /// Every embedding of a domain with the revision they are the state of
    /// and their pack, read in one transaction (what an index rebuild
    /// starts from).
    pub fn domain_embeddings_at_revision(
        &self,
        domain: &DomainCode,
    ) -> StorageResult<EmbeddingSet> {
        let mut embeddings = Vec::new();
        let set = self.visit_domain_embeddings(domain, |e| embeddings.push(e))?;
        Ok(EmbeddingSet { embeddings, ..set })
    }

    /// Hands a domain's embeddings to `visit` one at a time, as one
    /// consistent read, and returns the set's revision and pack (its
    /// `embeddings` empty): what makes an index of a million descriptors
    /// without holding a second copy of them.
    pub fn visit_domain_embeddings(
        &self,
        domain: &DomainCode,
        mut visit: impl FnMut(Embedding),
    ) -> StorageResult<EmbeddingSet> {
        let d = domain.as_str();
        let txn = self.db.begin_read()?;
        let revision = txn
            .open_table(EMBEDDING_REVISIONS)?
            .get(d)?
            .map(|v| v.value())
            .unwrap_or(0);
        let table = txn.open_table(EMBEDDINGS)?;
        let pack = pack_of(&txn.open_table(EMBEDDING_PACKS)?, &table, d)?;
        for item in table.range((d, 0u64)..=(d, u64::MAX))? {
            let (k, v) = item?;
            visit(decode(d, k.value().1, v.value())?);
        }
        Ok(EmbeddingSet {
            revision,
            pack,
            embeddings: Vec::new(),
        })
    }

    /// Replaces every embedding of a domain by `people`'s, made with
    /// `pack`, and makes `pack` the domain's, in one transaction (the last
    /// step of re-embedding): before it the domain serves only its old
    /// descriptors, after it only the new. Returns the new revision.
    pub fn replace_embeddings(
        &self,
        domain: &DomainCode,
        pack: &str,
        people: &[(PersonId, Vec<NewEmbedding>)],
    ) -> StorageResult<u64> {
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        {
            let mut domains = txn.open_table(DOMAINS)?;
            let Some(mut record) = read_domain(&domains, domain)? else {
                return Err(StorageError::UnknownDomain(d.to_string()));
            };
            record.pack = pack.to_string();
            record.updated_at = chrono::Utc::now();
            domains.insert(d, super::codec::encode(&record).as_slice())?;
        }
        let holders: Vec<String> = {
            let by_person = txn.open_table(EMBEDDINGS_BY_PERSON)?;
            let mut holders: Vec<String> = Vec::new();
            for item in by_person.range((d, "", 0u64)..)? {
                let key = item?.0;
                let (dd, p, _) = key.value();
                if dd != d {
                    break;
                }
                if holders.last().map(String::as_str) != Some(p) {
                    holders.push(p.to_string());
                }
            }
            holders
        };
        for p in &holders {
            delete_person_embeddings(&txn, d, p)?;
        }
        txn.open_table(EMBEDDING_PACKS)?.insert(d, pack)?;
        for (person, embeddings) in people {
            if txn.open_table(PEOPLE)?.get((d, person.as_str()))?.is_none() {
                return Err(StorageError::UnknownPerson {
                    domain: d.to_string(),
                    person: person.to_string(),
                });
            }
            insert_embeddings(&txn, d, pack, person, embeddings)?;
        }
        let revision = bump_revision(&txn, d)?;
        txn.commit()?;
        Ok(revision)
    }

    /// A person's embeddings, by id.
    pub fn person_embeddings(
        &self,
        domain: &DomainCode,
        person: &PersonId,
    ) -> StorageResult<Vec<Embedding>> {
        let (d, p) = (domain.as_str(), person.as_str());
        let txn = self.db.begin_read()?;
        let by_person = txn.open_table(EMBEDDINGS_BY_PERSON)?;
        let table = txn.open_table(EMBEDDINGS)?;
        let mut out = Vec::new();
        for item in by_person.range((d, p, 0u64)..=(d, p, u64::MAX))? {
            let id = item?.0.value().2;
            if let Some(v) = table.get((d, id))? {
                out.push(decode(d, id, v.value())?);
            }
        }
        Ok(out)
    }

    /// How many embeddings a domain holds.
    pub fn embedding_count(&self, domain: &DomainCode) -> StorageResult<u64> {
        let d = domain.as_str();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EMBEDDINGS)?;
        let mut n = 0;
        for item in table.range((d, 0u64)..=(d, u64::MAX))? {
            item?;
            n += 1;
        }
        Ok(n)
    }
}
