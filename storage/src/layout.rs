//! The data root's folder layout, derived from domain codes.
//!
//! ```text
//! {root}/facerec.redb                         the registry (redb)
//! {root}/training/{domain}/                   raw acquired images
//! {root}/trainingPass/{domain}/{person}/      staging: accepted chips + descriptors
//! {root}/recognized_faces_prod/{domain}/      approved production data
//! {root}/recognized_faces_batched/{domain}/   built batches (batch_NNNN/)
//! {root}/training_batches/{domain}_{id}.json  batch manifests
//! {root}/index/{domain}/                      HNSW dumps (a cache of redb)
//! {root}/incoming/                            batches being received (spooled)
//! {root}/secrets/                             node keys and bootstrap tokens
//! ```

use std::path::{Path, PathBuf};

use crate::code::DomainCode;
use crate::error::{StorageError, StorageResult};

pub const DATABASE_FILE: &str = "facerec.redb";

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join(DATABASE_FILE)
    }

    pub fn training(&self, d: &DomainCode) -> PathBuf {
        self.root.join("training").join(d.as_str())
    }

    pub fn staging(&self, d: &DomainCode) -> PathBuf {
        self.root.join("trainingPass").join(d.as_str())
    }

    pub fn production(&self, d: &DomainCode) -> PathBuf {
        self.root.join("recognized_faces_prod").join(d.as_str())
    }

    pub fn batched(&self, d: &DomainCode) -> PathBuf {
        self.root.join("recognized_faces_batched").join(d.as_str())
    }

    pub fn batch_manifests(&self) -> PathBuf {
        self.root.join("training_batches")
    }

    /// `training_batches/{domain}_{id}.json`.
    pub fn batch_manifest(&self, d: &DomainCode, batch_id: &str) -> PathBuf {
        self.batch_manifests()
            .join(format!("{}_{batch_id}.json", d.as_str()))
    }

    pub fn index(&self, d: &DomainCode) -> PathBuf {
        self.root.join("index").join(d.as_str())
    }

    /// Where an edge spools batches it is receiving; emptied at start.
    pub fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }

    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }

    /// The four per-domain folders, in the order they are listed in docs.
    pub fn domain_dirs(&self, d: &DomainCode) -> [PathBuf; 4] {
        [
            self.training(d),
            self.staging(d),
            self.production(d),
            self.batched(d),
        ]
    }

    /// Creates the domain's folders and the shared manifest folder. Idempotent.
    pub fn create_domain_dirs(&self, d: &DomainCode) -> StorageResult<()> {
        for dir in self.domain_dirs(d).iter().chain([&self.batch_manifests()]) {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        }
        Ok(())
    }

    /// Removes the domain's folders and manifests (only on an explicit purge).
    pub fn remove_domain_dirs(&self, d: &DomainCode) -> StorageResult<()> {
        for dir in self.domain_dirs(d).iter().chain([&self.index(d)]) {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(dir, e)),
            }
        }
        let prefix = format!("{}_", d.as_str());
        let manifests = self.batch_manifests();
        if let Ok(entries) = std::fs::read_dir(&manifests) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                // `{domain}_{id}.json` where id is numeric: a prefix match alone
                // would also catch `{domain}_other_{id}.json` of another domain.
                let is_ours = name
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(".json"))
                    .is_some_and(|id| {
                        !id.is_empty()
                            && id
                                .chars()
                                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == '-')
                    });
                if is_ours {
                    let path = entry.path();
                    std::fs::remove_file(&path).map_err(|e| StorageError::io(&path, e))?;
                }
            }
        }
        Ok(())
    }

    /// Removes the domain's folders if (and only if) they are empty.
    pub fn remove_empty_domain_dirs(&self, d: &DomainCode) {
        for dir in self.domain_dirs(d) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_design() {
        let l = Layout::new("/data");
        let d = DomainCode::parse("serbia").unwrap();
        assert_eq!(l.training(&d), PathBuf::from("/data/training/serbia"));
        assert_eq!(l.staging(&d), PathBuf::from("/data/trainingPass/serbia"));
        assert_eq!(
            l.production(&d),
            PathBuf::from("/data/recognized_faces_prod/serbia")
        );
        assert_eq!(
            l.batched(&d),
            PathBuf::from("/data/recognized_faces_batched/serbia")
        );
        assert_eq!(
            l.batch_manifest(&d, "0007"),
            PathBuf::from("/data/training_batches/serbia_0007.json")
        );
    }

    #[test]
    fn purge_keeps_other_domains_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path());
        let sports = DomainCode::parse("sports").unwrap();
        let sports_global = DomainCode::parse("sports_global").unwrap();
        l.create_domain_dirs(&sports).unwrap();
        l.create_domain_dirs(&sports_global).unwrap();
        std::fs::write(l.batch_manifest(&sports, "0001"), "{}").unwrap();
        std::fs::write(l.batch_manifest(&sports_global, "0001"), "{}").unwrap();
        l.remove_domain_dirs(&sports).unwrap();
        assert!(!l.batch_manifest(&sports, "0001").exists());
        assert!(l.batch_manifest(&sports_global, "0001").exists());
        assert!(l.training(&sports_global).exists());
        assert!(!l.training(&sports).exists());
    }
}
