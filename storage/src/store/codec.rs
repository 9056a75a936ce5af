//! JSON encoding of records, with decode errors that name the record.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{StorageError, StorageResult};

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records always serialize")
}

pub(crate) fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: impl std::fmt::Display,
    bytes: &[u8],
) -> StorageResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt {
        table,
        key: key.to_string(),
        reason: e.to_string(),
    })
}
