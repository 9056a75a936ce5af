//! The open redb database, reopened after an I/O error.
//!
//! After a failed write (a full disk, a pulled cable) redb refuses every
//! later transaction with `PreviousIo` until the database is closed and
//! opened again. A node that runs for months must not need a restart for
//! that: [`DbHandle`] remembers the failure, [`DbHandle::recover`] closes
//! and reopens the file (redb repairs it on open), and until then every
//! transaction gets the same `PreviousIo` error and readiness says so.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use redb::{
    Database, DatabaseError, ReadTransaction, ReadableDatabase, StorageError as RedbStorageError,
    TransactionError, WriteTransaction,
};

/// How a database is (re)opened: the data root's file, or in tests a
/// backend that can be made to fail.
pub trait Opener: Send + Sync {
    fn open(&self) -> Result<Database, DatabaseError>;
    /// Whether writing would work again (free space is back). Checked
    /// before a failed database is closed: a broken database still serves
    /// reads, a closed one nothing.
    fn writable(&self) -> std::io::Result<()>;
}

pub(crate) struct DbHandle {
    current: RwLock<Option<Arc<Database>>>,
    failed: AtomicBool,
    opener: Box<dyn Opener>,
}

/// redb's page cache: the registry's hot tables fit many times over. At
/// 75,000 descriptors an edge holds 150 MB with 32 MiB (162 MB with 64)
/// and applies a snapshot no slower (`bench sync`).
const CACHE_BYTES: usize = 32 << 20;

/// The registry file under the data root.
pub(crate) struct FileOpener {
    pub(crate) path: std::path::PathBuf,
}

impl Opener for FileOpener {
    fn open(&self) -> Result<Database, DatabaseError> {
        // redb caches up to 1 GiB by default, and keeps every page a large
        // batch wrote: on a small appliance that is most of its memory.
        Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&self.path)
    }

    /// Writes and syncs 1 MiB beside the registry (and removes it).
    fn writable(&self) -> std::io::Result<()> {
        use std::io::Write;
        let probe = self.path.with_extension("space-probe");
        let result = (|| {
            let mut f = std::fs::File::create(&probe)?;
            f.write_all(&vec![0u8; 1 << 20])?;
            f.sync_all()
        })();
        let _ = std::fs::remove_file(&probe);
        result
    }
}

fn previous_io() -> TransactionError {
    TransactionError::Storage(RedbStorageError::PreviousIo)
}

impl DbHandle {
    pub(crate) fn open(opener: Box<dyn Opener>) -> Result<Self, DatabaseError> {
        let db = opener.open()?;
        Ok(Self {
            current: RwLock::new(Some(Arc::new(db))),
            failed: AtomicBool::new(false),
            opener,
        })
    }

    fn database(&self) -> Result<Arc<Database>, TransactionError> {
        self.current
            .read()
            .expect("database lock")
            .clone()
            .ok_or_else(previous_io)
    }

    fn note<T>(&self, result: Result<T, TransactionError>) -> Result<T, TransactionError> {
        if let Err(TransactionError::Storage(RedbStorageError::PreviousIo)) = &result {
            self.failed.store(true, Ordering::SeqCst);
        }
        result
    }

    pub(crate) fn begin_write(&self) -> Result<WriteTransaction, TransactionError> {
        let db = self.database();
        self.note(db.and_then(|db| db.begin_write()))
    }

    pub(crate) fn begin_read(&self) -> Result<ReadTransaction, TransactionError> {
        let db = self.database();
        self.note(db.and_then(|db| db.begin_read()))
    }

    /// Whether an I/O error has left the database refusing transactions.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Closes and reopens a failed database once writing works again.
    /// `Ok(false)` when nothing had failed; an error while the cause lasts
    /// (the failed database keeps serving reads) — call again later.
    pub(crate) fn recover(&self) -> Result<bool, DatabaseError> {
        if !self.failed() {
            // A write may have failed without a later transaction having
            // asked yet: probe, so that recovery does not wait for one.
            let probe = self.database().and_then(|db| db.begin_write());
            match probe {
                Err(TransactionError::Storage(RedbStorageError::PreviousIo)) => {
                    self.failed.store(true, Ordering::SeqCst)
                }
                _ => return Ok(false),
            }
        }
        self.opener
            .writable()
            .map_err(|e| DatabaseError::Storage(RedbStorageError::Io(e)))?;
        let mut current = self.current.write().expect("database lock");
        // The old handle must be gone before the file can be opened again
        // (it holds the file's lock); a transaction still running on it
        // keeps it alive, and the open below then fails and is retried.
        drop(current.take());
        let db = self.opener.open()?;
        *current = Some(Arc::new(db));
        self.failed.store(false, Ordering::SeqCst);
        Ok(true)
    }
}
