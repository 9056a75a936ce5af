//! Images of a domain's people, deduplicated by content hash.

use chrono::Utc;
use redb::ReadableTable;

use super::Store;
use super::codec::{decode, encode};
use crate::code::{DomainCode, PersonId};
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

impl Store {
    /// Records an image of an existing person. If the domain already holds a
    /// live (not erased) image with the same sha256, nothing is written and
    /// that image is returned with `false`.
    pub fn add_image(&self, domain: &DomainCode, new: NewImage) -> StorageResult<(Image, bool)> {
        if !is_sha256_hex(&new.sha256) {
            return Err(StorageError::InvalidField {
                field: "sha256",
                reason: "must be 64 lowercase hex digits".into(),
            });
        }
        let d = domain.as_str();
        let txn = self.db.begin_write()?;
        if txn
            .open_table(PEOPLE)?
            .get((d, new.person.as_str()))?
            .is_none()
        {
            return Err(StorageError::UnknownPerson {
                domain: d.to_string(),
                person: new.person.to_string(),
            });
        }
        let existing = txn
            .open_table(IMAGES_BY_SHA)?
            .get((d, new.sha256.as_str()))?
            .map(|v| v.value());
        if let Some(id) = existing {
            let images = txn.open_table(IMAGES)?;
            let image: Image = match images.get((d, id))? {
                Some(v) => decode("images", format!("{d}/{id}"), v.value())?,
                None => {
                    return Err(StorageError::Corrupt {
                        table: "images_by_sha",
                        key: format!("{d}/{}", new.sha256),
                        reason: format!("points at missing image {id}"),
                    });
                }
            };
            // An erased image's bytes may come back, for anyone: the new
            // image takes the hash over; the erased row stays as it was.
            if image.status != ImageStatus::Deleted {
                return Ok((image, false));
            }
        }
        let id = {
            let mut meta = txn.open_table(META)?;
            let next = meta
                .get(META_NEXT_IMAGE_ID)?
                .map(|v| v.value())
                .unwrap_or(1);
            meta.insert(META_NEXT_IMAGE_ID, next + 1)?;
            next
        };
        let now = Utc::now();
        let image = Image {
            id,
            domain: domain.clone(),
            person: new.person,
            source: new.source,
            source_url: new.source_url,
            sha256: new.sha256,
            path: new.path,
            status: ImageStatus::New,
            reason: None,
            created_at: now,
            updated_at: now,
        };
        txn.open_table(IMAGES)?
            .insert((d, id), encode(&image).as_slice())?;
        txn.open_table(IMAGES_BY_PERSON)?
            .insert((d, image.person.as_str(), id), ())?;
        txn.open_table(IMAGES_BY_SHA)?
            .insert((d, image.sha256.as_str()), id)?;
        txn.commit()?;
        Ok((image, true))
    }

    pub fn get_image(&self, domain: &DomainCode, id: u64) -> StorageResult<Option<Image>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(IMAGES)?;
        match table.get((domain.as_str(), id))? {
            Some(v) => Ok(Some(decode("images", format!("{domain}/{id}"), v.value())?)),
            None => Ok(None),
        }
    }

    /// A person's images, by id.
    pub fn person_images(
        &self,
        domain: &DomainCode,
        person: &PersonId,
    ) -> StorageResult<Vec<Image>> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(IMAGES_BY_PERSON)?;
        let images = txn.open_table(IMAGES)?;
        let (d, p) = (domain.as_str(), person.as_str());
        let mut out = Vec::new();
        for item in index.range((d, p, 0u64)..)? {
            let (k, _) = item?;
            let (kd, kp, id) = k.value();
            if kd != d || kp != p {
                break;
            }
            if let Some(v) = images.get((d, id))? {
                out.push(decode("images", format!("{d}/{id}"), v.value())?);
            }
        }
        Ok(out)
    }

    /// Sets an image's status and the reason for it.
    pub fn set_image_status(
        &self,
        domain: &DomainCode,
        id: u64,
        status: ImageStatus,
        reason: Option<String>,
    ) -> StorageResult<Image> {
        let txn = self.db.begin_write()?;
        let image = super::review::set_image_status_in(&txn, domain.as_str(), id, status, reason)?;
        txn.commit()?;
        Ok(image)
    }
}
