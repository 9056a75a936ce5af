//! A registry survives an I/O error (a full disk) without a restart: every
//! transaction is refused while the error lasts, nothing half-written is
//! kept, and once space is back it is reopened with everything committed.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use facerec_storage::{DomainCode, NewDomain, Opener, Store};
use redb::backends::FileBackend;
use redb::{BackendError, Database, StorageBackend};

/// redb's file backend whose writes fail with "no space left on device"
/// while `full` is set.
#[derive(Debug)]
struct FillableDisk {
    file: FileBackend,
    full: Arc<AtomicBool>,
}

impl FillableDisk {
    fn check(&self) -> std::io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for FillableDisk {
    fn len(&self) -> std::io::Result<u64> {
        self.file.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.file.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.check()?;
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.file.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.file.close()
    }
    fn try_lock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(a, b)
    }
    fn try_lock_shared_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(a, b)
    }
    fn lock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(a, b)
    }
    fn lock_shared_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(a, b)
    }
    fn unlock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(a, b)
    }
    fn query_lock_range(&self, a: Bound<u64>, b: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(a, b)
    }
}

struct FillableOpener {
    path: std::path::PathBuf,
    full: Arc<AtomicBool>,
}

impl Opener for FillableOpener {
    fn open(&self) -> Result<Database, redb::DatabaseError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)?;
        Database::builder().create_with_backend(FillableDisk {
            file: FileBackend::new(file)?,
            full: self.full.clone(),
        })
    }
    fn writable(&self) -> std::io::Result<()> {
        let disk = FillableDisk {
            file: FileBackend::new(std::fs::File::open(&self.path)?)
                .map_err(std::io::Error::other)?,
            full: self.full.clone(),
        };
        disk.check()
    }
}

fn open_fillable(root: &Path, full: Arc<AtomicBool>) -> Store {
    let path = root.join("facerec.redb");
    Store::open_with_opener(root, Box::new(FillableOpener { path, full })).unwrap()
}

fn codes(store: &Store) -> Vec<String> {
    store
        .list_domains()
        .unwrap()
        .into_iter()
        .map(|d| d.domain_code.to_string())
        .collect()
}

#[test]
fn a_full_disk_is_survived_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let store = open_fillable(dir.path(), full.clone());
    store.create_domain(NewDomain::named("serbia")).unwrap();
    assert!(!store.failed());

    full.store(true, Ordering::SeqCst);
    assert!(store.create_domain(NewDomain::named("greece")).is_err());
    // redb now refuses everything until the database is reopened.
    let refused = store
        .create_domain(NewDomain::named("croatia"))
        .unwrap_err();
    assert!(store.failed(), "{refused}");
    // Reopening while the disk is still full fails and is tried again;
    // meanwhile what is committed can still be read.
    assert!(store.recover().is_err());
    assert!(store.failed());
    assert_eq!(codes(&store), ["serbia"]);

    full.store(false, Ordering::SeqCst);
    assert!(store.recover().unwrap(), "reopened");
    assert!(!store.failed());
    assert_eq!(codes(&store), ["serbia"], "nothing half-written was kept");
    store.create_domain(NewDomain::named("croatia")).unwrap();
    assert!(!store.recover().unwrap(), "nothing to recover any more");
    drop(store);

    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(codes(&reopened), ["croatia", "serbia"]);
    assert!(
        reopened
            .get_domain(&DomainCode::parse("greece").unwrap())
            .unwrap()
            .is_none()
    );
}
