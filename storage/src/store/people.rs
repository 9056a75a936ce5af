//! People of a domain and their pipeline status.

use chrono::Utc;
use redb::{ReadableTable, WriteTransaction};

use super::Store;
use super::codec::decode;
use super::rows::{put_person, read_domain};
use crate::code::{DomainCode, PersonId};
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

/// Adds or updates one person inside `txn` (see [`Store::upsert_person`]).
fn upsert_in(
    txn: &WriteTransaction,
    domain: &DomainCode,
    new: NewPerson,
    now: chrono::DateTime<Utc>,
) -> StorageResult<(Person, bool)> {
    let existing: Option<Person> = {
        let table = txn.open_table(PEOPLE)?;
        let got = table.get((domain.as_str(), new.id.as_str()))?;
        match got {
            Some(v) => Some(decode("people", format!("{domain}/{}", new.id), v.value())?),
            None => None,
        }
    };
    let created = existing.is_none();
    let previous_status = existing.as_ref().map(|p| p.status);
    let person = match existing {
        Some(mut p) => {
            p.display_name = new.display_name;
            p.wikidata_id = new.wikidata_id.or(p.wikidata_id);
            p.country = new.country.or(p.country);
            if !new.occupations.is_empty() {
                p.occupations = new.occupations;
            }
            p.sitelinks = new.sitelinks.or(p.sitelinks);
            for url in new.image_urls {
                if !p.image_urls.contains(&url) {
                    p.image_urls.push(url);
                }
            }
            p.updated_at = now;
            p
        }
        None => Person {
            domain: domain.clone(),
            id: new.id,
            display_name: new.display_name,
            status: new.status,
            wikidata_id: new.wikidata_id,
            country: new.country,
            occupations: new.occupations,
            sitelinks: new.sitelinks,
            image_urls: new.image_urls,
            created_at: now,
            updated_at: now,
        },
    };
    put_person(txn, &person, previous_status)?;
    Ok((person, created))
}

impl Store {
    /// Adds a person, or updates the descriptive fields (name, wikidata id,
    /// country, occupations, sitelinks) of an existing one. An existing
    /// person's status is kept: re-proposing a rejected candidate must not
    /// bring it back. Returns the stored person and whether it was new.
    pub fn upsert_person(
        &self,
        domain: &DomainCode,
        new: NewPerson,
    ) -> StorageResult<(Person, bool)> {
        let txn = self.db.begin_write()?;
        if read_domain(&txn.open_table(DOMAINS)?, domain)?.is_none() {
            return Err(StorageError::UnknownDomain(domain.to_string()));
        }
        let out = upsert_in(&txn, domain, new, Utc::now())?;
        txn.commit()?;
        Ok(out)
    }

    /// Stores proposed candidates in one transaction, deduplicated by
    /// wikidata id (a candidate whose item is already known updates that
    /// person, whatever its slug) and else by person id. Known people keep
    /// their status. Returns each stored person and whether it was new.
    pub fn add_candidates(
        &self,
        domain: &DomainCode,
        candidates: Vec<NewPerson>,
    ) -> StorageResult<Vec<(Person, bool)>> {
        let now = Utc::now();
        let txn = self.db.begin_write()?;
        if read_domain(&txn.open_table(DOMAINS)?, domain)?.is_none() {
            return Err(StorageError::UnknownDomain(domain.to_string()));
        }
        let mut by_item: std::collections::HashMap<String, PersonId> = Default::default();
        {
            let table = txn.open_table(PEOPLE)?;
            let d = domain.as_str();
            for row in table.range((d, "")..)? {
                let (key, value) = row?;
                if key.value().0 != d {
                    break;
                }
                let p: Person = decode("people", format!("{d}/{}", key.value().1), value.value())?;
                if let Some(q) = p.wikidata_id {
                    by_item.insert(q, p.id);
                }
            }
        }
        let mut out = Vec::with_capacity(candidates.len());
        for mut new in candidates {
            if let Some(known) = new.wikidata_id.as_ref().and_then(|q| by_item.get(q)) {
                new.id = known.clone();
            }
            let stored = upsert_in(&txn, domain, new, now)?;
            if let Some(q) = &stored.0.wikidata_id {
                by_item.insert(q.clone(), stored.0.id.clone());
            }
            out.push(stored);
        }
        txn.commit()?;
        Ok(out)
    }

    pub fn get_person(&self, domain: &DomainCode, id: &PersonId) -> StorageResult<Option<Person>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PEOPLE)?;
        match table.get((domain.as_str(), id.as_str()))? {
            Some(v) => Ok(Some(decode("people", format!("{domain}/{id}"), v.value())?)),
            None => Ok(None),
        }
    }

    /// A domain's people, optionally only those in `status`, ordered by id.
    pub fn list_people(
        &self,
        domain: &DomainCode,
        status: Option<PersonStatus>,
    ) -> StorageResult<Vec<Person>> {
        let txn = self.db.begin_read()?;
        let people = txn.open_table(PEOPLE)?;
        let d = domain.as_str();
        let mut out = Vec::new();
        match status {
            Some(s) => {
                let index = txn.open_table(PEOPLE_BY_STATUS)?;
                for item in index.range((d, s.as_str(), "")..)? {
                    let (k, _) = item?;
                    let (kd, ks, kp) = k.value();
                    if kd != d || ks != s.as_str() {
                        break;
                    }
                    if let Some(v) = people.get((d, kp))? {
                        out.push(decode("people", format!("{d}/{kp}"), v.value())?);
                    }
                }
            }
            None => {
                for item in people.range((d, "")..)? {
                    let (k, v) = item?;
                    let (kd, kp) = k.value();
                    if kd != d {
                        break;
                    }
                    out.push(decode("people", format!("{d}/{kp}"), v.value())?);
                }
            }
        }
        Ok(out)
    }

    /// Moves a person to `status`.
    pub fn set_person_status(
        &self,
        domain: &DomainCode,
        id: &PersonId,
        status: PersonStatus,
    ) -> StorageResult<Person> {
        let txn = self.db.begin_write()?;
        let person = super::rows::load_person(&txn, domain.as_str(), id.as_str())?;
        let person = super::rows::set_person_status_in(&txn, person, status)?;
        txn.commit()?;
        Ok(person)
    }
}
