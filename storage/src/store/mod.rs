//! [`Store`]: the redb registry. Opening checks the schema version; each
//! submodule adds the accessors of one table group as an `impl Store` block.

mod batches;
mod codec;
mod domains;
mod embeddings;
mod handle;
mod images;
mod people;
mod review;
mod rows;
mod synced;

use std::path::Path;

use redb::ReadableTable;

use handle::DbHandle;
pub use handle::Opener;

use crate::error::{StorageError, StorageResult};
use crate::layout::Layout;
use crate::schema::*;

pub use domains::DatasetGraph;
pub use embeddings::{EMBEDDING_DIM, Embedding, EmbeddingSet, NewEmbedding};
pub use review::PendingChanges;
pub use synced::{AppliedBatch, IncomingBatch, SyncedPerson};

/// The registry of one node. Cheap to share behind an `Arc`; every method is
/// blocking (call it off the async runtime's worker threads).
pub struct Store {
    pub(crate) db: DbHandle,
    layout: Layout,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.layout.root())
            .finish()
    }
}

fn open_error(path: &Path, e: redb::DatabaseError) -> StorageError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StorageError::Locked {
            path: path.to_path_buf(),
        },
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => StorageError::io(path, io),
        other => StorageError::Database(format!("{}: {other}", path.display())),
    }
}

impl Store {
    /// Opens (or creates) the registry under `data_root`.
    ///
    /// Fails with [`StorageError::Locked`] when another process has it open
    /// and [`StorageError::SchemaTooNew`] when a newer facerecd wrote it.
    pub fn open(data_root: impl AsRef<Path>) -> StorageResult<Self> {
        let layout = Layout::new(data_root.as_ref());
        std::fs::create_dir_all(layout.root()).map_err(|e| StorageError::io(layout.root(), e))?;
        let path = layout.database();
        Self::open_with(layout, Box::new(handle::FileOpener { path }))
    }

    /// Opens the registry through `open` (tests: a backend that fails on
    /// demand); `data_root` is still where the folders live.
    #[doc(hidden)]
    pub fn open_with_opener(
        data_root: impl AsRef<Path>,
        open: Box<dyn Opener>,
    ) -> StorageResult<Self> {
        let layout = Layout::new(data_root.as_ref());
        std::fs::create_dir_all(layout.root()).map_err(|e| StorageError::io(layout.root(), e))?;
        Self::open_with(layout, open)
    }

    fn open_with(layout: Layout, open: Box<dyn Opener>) -> StorageResult<Self> {
        let path = layout.database();
        let db = DbHandle::open(open).map_err(|e| open_error(&path, e))?;
        let store = Self { db, layout };
        store.init_schema()?;
        Ok(store)
    }

    /// Whether an I/O error (a full disk) has left the registry refusing
    /// every transaction until [`Store::recover`] reopens it.
    pub fn failed(&self) -> bool {
        self.db.failed()
    }

    /// Reopens the registry after an I/O error, once the cause has gone
    /// (space is free again). `Ok(false)` when it had not failed; an error
    /// when it still cannot be opened (call again later).
    pub fn recover(&self) -> StorageResult<bool> {
        let path = self.layout.database();
        self.db.recover().map_err(|e| open_error(&path, e))
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Creates missing tables and checks (or records) the schema version.
    fn init_schema(&self) -> StorageResult<()> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get(META_SCHEMA_VERSION)?.map(|v| v.value());
            match found {
                None => {
                    meta.insert(META_SCHEMA_VERSION, SCHEMA_VERSION)?;
                }
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StorageError::SchemaTooNew {
                        path: self.layout.database(),
                        found: v,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
            }
            txn.open_table(DOMAINS)?;
            txn.open_table(DOMAIN_DATASETS)?;
            txn.open_table(PEOPLE)?;
            txn.open_table(PEOPLE_BY_STATUS)?;
            txn.open_table(IMAGES)?;
            txn.open_table(IMAGES_BY_PERSON)?;
            txn.open_table(IMAGES_BY_SHA)?;
            txn.open_table(BATCHES)?;
            txn.open_table(EMBEDDINGS)?;
            txn.open_table(EMBEDDINGS_BY_PERSON)?;
            txn.open_table(EMBEDDING_REVISIONS)?;
            txn.open_table(EMBEDDING_PACKS)?;
            txn.open_table(PENDING_REMOVALS)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> StorageResult<u64> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta
            .get(META_SCHEMA_VERSION)?
            .map(|v| v.value())
            .unwrap_or(0))
    }

    /// Test and recovery hook: records another schema version.
    #[doc(hidden)]
    pub fn force_schema_version(&self, version: u64) -> StorageResult<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert(META_SCHEMA_VERSION, version)?;
        txn.commit()?;
        Ok(())
    }
}

// Narrow re-exports for the importer, which works inside one transaction.
pub(crate) use domains::put_datasets;

pub(crate) fn decode_domain(code: &str, bytes: &[u8]) -> StorageResult<crate::model::Domain> {
    codec::decode("domains", code, bytes)
}

pub(crate) fn encode_domain(domain: &crate::model::Domain) -> Vec<u8> {
    codec::encode(domain)
}

pub(crate) fn decode_links(
    code: &str,
    bytes: &[u8],
) -> StorageResult<Vec<crate::model::DatasetLink>> {
    codec::decode("domain_datasets", code, bytes)
}
