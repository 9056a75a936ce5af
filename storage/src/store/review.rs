//! Review, erasure and batch bookkeeping: the state changes that move people
//! between staging, production and removal, each in one transaction.

use chrono::Utc;
use redb::{ReadableTable, WriteTransaction};

use super::Store;
use super::batches::insert_next_batch;
use super::codec::{decode, encode};
use super::embeddings::{
    NewEmbedding, delete_image_embeddings, delete_person_embeddings, insert_embeddings,
};
use super::rows::read_domain;
use super::rows::{bump_revision, load_person, set_person_status_in};
use crate::code::{DomainCode, PersonId};
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

pub(crate) fn set_image_status_in(
    txn: &WriteTransaction,
    d: &str,
    id: u64,
    status: ImageStatus,
    reason: Option<String>,
) -> StorageResult<Image> {
    let mut table = txn.open_table(IMAGES)?;
    let mut image: Image = match table.get((d, id))? {
        Some(v) => decode("images", format!("{d}/{id}"), v.value())?,
        None => {
            return Err(StorageError::UnknownImage {
                domain: d.to_string(),
                id,
            });
        }
    };
    image.status = status;
    image.reason = reason;
    image.updated_at = Utc::now();
    table.insert((d, id), encode(&image).as_slice())?;
    Ok(image)
}

/// What the next batch of a domain would carry.
#[derive(Debug, Clone, Default)]
pub struct PendingChanges {
    /// Approved since the last batch.
    pub approved: Vec<PersonId>,
    /// Erased since the last batch.
    pub removed: Vec<PersonId>,
}

impl PendingChanges {
    pub fn is_empty(&self) -> bool {
        self.approved.is_empty() && self.removed.is_empty()
    }
}

impl Store {
    /// Approves staged faces of a person in one transaction: each face's
    /// descriptor becomes a production embedding, its image `approved`, and
    /// the person `approved` (awaiting the next batch). Returns the new
    /// embedding ids.
    pub fn approve_faces(
        &self,
        domain: &DomainCode,
        pack: &str,
        person: &PersonId,
        faces: &[NewEmbedding],
    ) -> StorageResult<Vec<u64>> {
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        if read_domain(&txn.open_table(DOMAINS)?, domain)?.is_none() {
            return Err(StorageError::UnknownDomain(d.to_string()));
        }
        let p = load_person(&txn, d, person.as_str())?;
        if p.status == PersonStatus::Deleted {
            return Err(StorageError::Conflict(format!(
                "person '{person}' of '{d}' was erased"
            )));
        }
        let ids = insert_embeddings(&txn, d, pack, person, faces)?;
        for face in faces {
            if let Some(id) = face.image_id {
                set_image_status_in(&txn, d, id, ImageStatus::Approved, None)?;
            }
        }
        if !ids.is_empty() {
            bump_revision(&txn, d)?;
        }
        set_person_status_in(&txn, p, PersonStatus::Approved)?;
        // Re-approving someone erased earlier cancels the pending removal.
        txn.open_table(PENDING_REMOVALS)?
            .remove((d, person.as_str()))?;
        txn.commit()?;
        Ok(ids)
    }

    /// Rejects images (and, with `whole_person`, the person) on review.
    pub fn reject(
        &self,
        domain: &DomainCode,
        person: &PersonId,
        image_ids: &[u64],
        reason: &str,
        whole_person: bool,
    ) -> StorageResult<()> {
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        let p = load_person(&txn, d, person.as_str())?;
        for id in image_ids {
            set_image_status_in(
                &txn,
                d,
                *id,
                ImageStatus::Rejected,
                Some(reason.to_string()),
            )?;
        }
        if whole_person {
            set_person_status_in(&txn, p, PersonStatus::Rejected)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Takes one face away from a person after review ("not this
    /// person"), in one transaction: the image's embeddings are deleted,
    /// the image is rejected with `reason`, and a person already published
    /// becomes `approved` again, so the next batch sends the faces left
    /// (an edge replaces a person's faces with a batch's). Returns how many
    /// faces the person keeps. Files are the caller's to delete after this
    /// commits.
    pub fn remove_face(
        &self,
        domain: &DomainCode,
        person: &PersonId,
        image_id: u64,
        reason: &str,
    ) -> StorageResult<u64> {
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        let stored = load_person(&txn, d, person.as_str())?;
        let image = {
            let table = txn.open_table(IMAGES)?;
            let got = table.get((d, image_id))?;
            match got {
                Some(v) => decode::<Image>("images", format!("{d}/{image_id}"), v.value())?,
                None => {
                    return Err(StorageError::UnknownImage {
                        domain: d.to_string(),
                        id: image_id,
                    });
                }
            }
        };
        if &image.person != person {
            return Err(StorageError::Conflict(format!(
                "image {image_id} is not one of '{person}''s photos"
            )));
        }
        if delete_image_embeddings(&txn, d, person, image_id)? == 0 {
            return Err(StorageError::Conflict(format!(
                "image {image_id} of '{person}' is not one of the person's approved faces"
            )));
        }
        bump_revision(&txn, d)?;
        set_image_status_in(
            &txn,
            d,
            image_id,
            ImageStatus::Rejected,
            Some(reason.to_string()),
        )?;
        if stored.status == PersonStatus::Production {
            set_person_status_in(&txn, stored, PersonStatus::Approved)?;
        }
        let left = {
            let by_person = txn.open_table(EMBEDDINGS_BY_PERSON)?;
            by_person
                .range((d, person.as_str(), 0u64)..=(d, person.as_str(), u64::MAX))?
                .count() as u64
        };
        txn.commit()?;
        Ok(left)
    }

    /// Erases a person in one transaction: embeddings removed, images and
    /// person marked `deleted`, and a removal queued for the next batch if
    /// the person had ever been published. Files are the caller's to delete
    /// after this commits.
    pub fn erase_person(
        &self,
        domain: &DomainCode,
        person: &PersonId,
    ) -> StorageResult<Vec<Image>> {
        let (d, p) = (domain.as_str(), person.as_str());
        let txn = self.db.begin_write()?;
        let stored = load_person(&txn, d, p)?;
        let published = matches!(stored.status, PersonStatus::Production)
            || txn.open_table(PENDING_REMOVALS)?.get((d, p))?.is_some();
        if delete_person_embeddings(&txn, d, p)? > 0 {
            bump_revision(&txn, d)?;
        }
        let ids: Vec<u64> = {
            let index = txn.open_table(IMAGES_BY_PERSON)?;
            let mut ids = Vec::new();
            for item in index.range((d, p, 0u64)..=(d, p, u64::MAX))? {
                ids.push(item?.0.value().2);
            }
            ids
        };
        let mut images = Vec::with_capacity(ids.len());
        for id in ids {
            images.push(set_image_status_in(
                &txn,
                d,
                id,
                ImageStatus::Deleted,
                Some("erased".into()),
            )?);
        }
        set_person_status_in(&txn, stored, PersonStatus::Deleted)?;
        if published {
            txn.open_table(PENDING_REMOVALS)?.insert((d, p), ())?;
        }
        txn.commit()?;
        Ok(images)
    }

    /// People approved or erased since the domain's last batch.
    pub fn pending_changes(&self, domain: &DomainCode) -> StorageResult<PendingChanges> {
        let d = domain.as_str();
        let txn = self.db.begin_read()?;
        let mut out = PendingChanges::default();
        let by_status = txn.open_table(PEOPLE_BY_STATUS)?;
        let approved = PersonStatus::Approved.as_str();
        for item in by_status.range((d, approved, "")..)? {
            let (k, _) = item?;
            let (kd, ks, kp) = k.value();
            if kd != d || ks != approved {
                break;
            }
            out.approved.push(PersonId::parse(kp)?);
        }
        let removals = txn.open_table(PENDING_REMOVALS)?;
        for item in removals.range((d, "")..)? {
            let (k, _) = item?;
            let (kd, kp) = k.value();
            if kd != d {
                break;
            }
            out.removed.push(PersonId::parse(kp)?);
        }
        Ok(out)
    }

    /// Records a built batch and what it published in one transaction: its
    /// approved people become `production`, its removals are no longer
    /// pending. Refused if the seq does not follow the last one.
    pub fn commit_batch(&self, batch: &BatchMeta, published: &PendingChanges) -> StorageResult<()> {
        let d = batch.domain.as_str();
        let txn = self.db.begin_write()?;
        insert_next_batch(&txn, batch)?;
        if batch.kind == BatchKind::Delta {
            for person in &published.approved {
                let p = load_person(&txn, d, person.as_str())?;
                if p.status == PersonStatus::Approved {
                    set_person_status_in(&txn, p, PersonStatus::Production)?;
                }
            }
            let mut removals = txn.open_table(PENDING_REMOVALS)?;
            for person in &published.removed {
                removals.remove((d, person.as_str()))?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}
