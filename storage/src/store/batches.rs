//! Batch metadata: the sequence of what a domain has published.

use redb::ReadableTable;

use super::Store;
use super::codec::{decode, encode};
use super::rows::read_domain;
use crate::code::DomainCode;
use crate::error::{StorageError, StorageResult};
use crate::model::*;
use crate::schema::*;

/// Inserts `batch` inside `txn` if its seq follows the last one exactly, so
/// two builders racing on one domain cannot both publish seq N.
pub(crate) fn insert_next_batch(
    txn: &redb::WriteTransaction,
    batch: &BatchMeta,
) -> StorageResult<()> {
    let d = batch.domain.as_str();
    let mut table = txn.open_table(BATCHES)?;
    let last = last_seq(&table, d)?;
    if batch.seq != last + 1 {
        return Err(StorageError::Conflict(format!(
            "batch seq {} for '{d}' does not follow the last recorded seq {last}",
            batch.seq
        )));
    }
    table.insert((d, batch.seq), encode(batch).as_slice())?;
    Ok(())
}

impl Store {
    /// Records a built batch. Its seq must follow the last one exactly, so two
    /// builders racing on one domain cannot both publish seq N.
    pub fn record_batch(&self, batch: &BatchMeta) -> StorageResult<()> {
        let d = batch.domain.as_str();
        let txn = self.db.begin_write()?;
        if read_domain(&txn.open_table(DOMAINS)?, &batch.domain)?.is_none() {
            return Err(StorageError::UnknownDomain(d.to_string()));
        }
        insert_next_batch(&txn, batch)?;
        txn.commit()?;
        Ok(())
    }

    /// A domain's batches in seq order.
    pub fn list_batches(&self, domain: &DomainCode) -> StorageResult<Vec<BatchMeta>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BATCHES)?;
        let d = domain.as_str();
        let mut out = Vec::new();
        for item in table.range((d, 0u64)..)? {
            let (k, v) = item?;
            let (kd, seq) = k.value();
            if kd != d {
                break;
            }
            out.push(decode("batches", format!("{d}/{seq}"), v.value())?);
        }
        Ok(out)
    }

    pub fn last_batch(&self, domain: &DomainCode) -> StorageResult<Option<BatchMeta>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BATCHES)?;
        let d = domain.as_str();
        let last = last_seq(&table, d)?;
        if last == 0 {
            return Ok(None);
        }
        match table.get((d, last))? {
            Some(v) => Ok(Some(decode("batches", format!("{d}/{last}"), v.value())?)),
            None => Ok(None),
        }
    }
}

pub(crate) fn last_seq(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    d: &str,
) -> StorageResult<u64> {
    let mut range = table.range((d, 0u64)..=(d, u64::MAX))?;
    match range.next_back() {
        Some(item) => Ok(item?.0.value().1),
        None => Ok(0),
    }
}
