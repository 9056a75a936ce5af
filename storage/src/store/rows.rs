//! Row helpers that several table groups use inside one write
//! transaction: reading a domain record, bumping a domain's embedding
//! revision, writing a person with its status index. Kept apart so that
//! the table groups import these and not each other.

use chrono::Utc;
use redb::{ReadableTable, WriteTransaction};

use super::codec::{decode, encode};
use crate::code::DomainCode;
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

/// A domain record inside any transaction (None when it does not exist).
pub(crate) fn read_domain(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    code: &DomainCode,
) -> StorageResult<Option<Domain>> {
    match table.get(code.as_str())? {
        Some(v) => Ok(Some(decode("domains", code, v.value())?)),
        None => Ok(None),
    }
}

/// Records that `domain`'s embeddings changed in this transaction.
pub(crate) fn bump_revision(txn: &redb::WriteTransaction, domain: &str) -> StorageResult<u64> {
    let mut meta = txn.open_table(META)?;
    let next = meta
        .get(META_EMBEDDING_REVISION)?
        .map(|v| v.value())
        .unwrap_or(0)
        + 1;
    meta.insert(META_EMBEDDING_REVISION, next)?;
    txn.open_table(EMBEDDING_REVISIONS)?.insert(domain, next)?;
    Ok(next)
}

/// Writes `person` and keeps the status index in step, inside `txn`.
pub(crate) fn put_person(
    txn: &WriteTransaction,
    person: &Person,
    previous_status: Option<PersonStatus>,
) -> StorageResult<()> {
    let d = person.domain.as_str();
    let p = person.id.as_str();
    txn.open_table(PEOPLE)?
        .insert((d, p), encode(person).as_slice())?;
    let mut index = txn.open_table(PEOPLE_BY_STATUS)?;
    if let Some(old) = previous_status {
        index.remove((d, old.as_str(), p))?;
    }
    index.insert((d, person.status.as_str(), p), ())?;
    Ok(())
}

/// A person inside `txn`, or `UnknownPerson`.
pub(crate) fn load_person(txn: &WriteTransaction, d: &str, p: &str) -> StorageResult<Person> {
    let table = txn.open_table(PEOPLE)?;
    let got = table.get((d, p))?;
    match got {
        Some(v) => decode("people", format!("{d}/{p}"), v.value()),
        None => Err(StorageError::UnknownPerson {
            domain: d.to_string(),
            person: p.to_string(),
        }),
    }
}

pub(crate) fn set_person_status_in(
    txn: &WriteTransaction,
    mut person: Person,
    status: PersonStatus,
) -> StorageResult<Person> {
    let previous = person.status;
    person.status = status;
    person.updated_at = Utc::now();
    put_person(txn, &person, Some(previous))?;
    Ok(person)
}
