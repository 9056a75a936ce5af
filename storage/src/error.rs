use std::path::PathBuf;

use thiserror::Error;

pub type StorageResult<T> = Result<T, StorageError>;

/// Every way a storage call can fail. Variants that a client can cause carry
/// enough detail to be shown to it as-is.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("invalid domain code {code:?}: {reason}")]
    InvalidDomainCode { code: String, reason: String },
    #[error("invalid person id {id:?}: {reason}")]
    InvalidPersonId { id: String, reason: String },
    #[error("invalid value for {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("domain '{0}' does not exist")]
    UnknownDomain(String),
    #[error("domain '{0}' already exists")]
    DomainExists(String),
    #[error("person '{person}' does not exist in domain '{domain}'")]
    UnknownPerson { domain: String, person: String },
    #[error("image {id} does not exist in domain '{domain}'")]
    UnknownImage { domain: String, id: u64 },
    #[error("{0}")]
    Conflict(String),
    #[error(
        "domain '{domain}' holds descriptors of model pack '{stored}', not '{given}': descriptors of two packs are never mixed (re-embed the domain to change its pack)"
    )]
    PackMismatch {
        domain: String,
        stored: String,
        given: String,
    },
    #[error("invalid datasets for '{domain}': {reason}")]
    InvalidDatasets { domain: String, reason: String },
    #[error(
        "the database {path} has schema version {found}, newer than this facerecd supports ({supported}); upgrade facerecd"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error(
        "the database {path} is in use by another process (is a facerecd hub or edge running on this data root?)"
    )]
    Locked { path: PathBuf },
    #[error("stored record {table}/{key} is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(String),
    /// The database file could not be written (a full disk, a failing
    /// device); until it is reopened every write is refused like this.
    #[error("the registry cannot be written: {0}")]
    Unwritable(String),
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Whether a redb storage error means the file cannot be written.
fn unwritable(e: &redb::StorageError) -> bool {
    matches!(
        e,
        redb::StorageError::Io(_) | redb::StorageError::PreviousIo
    )
}

macro_rules! from_redb {
    ($($t:ty => $storage:pat => $inner:ident),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                match &e {
                    $storage if unwritable($inner) => StorageError::Unwritable(e.to_string()),
                    _ => StorageError::Database(e.to_string()),
                }
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError => redb::DatabaseError::Storage(s) => s,
    redb::TransactionError => redb::TransactionError::Storage(s) => s,
    redb::TableError => redb::TableError::Storage(s) => s,
    redb::StorageError => s => s,
    redb::CommitError => redb::CommitError::Storage(s) => s
);

impl From<redb::Error> for StorageError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(_) | redb::Error::PreviousIo => StorageError::Unwritable(e.to_string()),
            _ => StorageError::Database(e.to_string()),
        }
    }
}
