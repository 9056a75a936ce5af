//! Index dumps: a domain's HNSW graph saved beside the database so that a
//! restart does not rebuild it, tied to the redb state it was built from.
//!
//! Layout of `{data_root}/index/{domain}/`:
//!
//! ```text
//! manifest.json          which generation is current, and what it holds
//! gen-{revision}-{n}/    graph.bin (the compact graph), points.bin
//! ```
//!
//! A dump is written into a fresh generation folder and only then named by
//! the manifest (written to a temporary file and renamed), so a crash at any
//! point leaves either the old dump or the new one — never a mix. The
//! manifest holds the sha256 of every file: a corrupt file is detected
//! before hnsw_rs reads it (its loader asserts rather than returning errors).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use facerec_storage::PersonId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const GRAPH_FILE: &str = "graph.bin";
pub(crate) const POINTS_FILE: &str = "points.bin";
/// 2: the compact graph (`graph.bin`); 1 was hnsw_rs's own files, which
/// this build no longer reads (such a dump is rebuilt once from redb).
pub(crate) const FORMAT: u32 = 2;
const POINTS_MAGIC: &[u8; 8] = b"FRPOINT1";

/// What a dump holds and which database state it reflects.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub domain: String,
    /// The domain's embedding revision in redb when the dump was made.
    pub revision: u64,
    /// Live (searchable) embeddings.
    pub count: u64,
    /// The last batch applied when the dump was made (edges).
    pub last_batch_seq: Option<u64>,
    /// The model pack of the vectors (absent in dumps from before packs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Folder (inside the domain's index folder) holding the files.
    pub generation: String,
    /// File name → sha256 (hex).
    pub files: BTreeMap<String, String>,
}

/// Why a dump was not used; the index is then rebuilt from redb.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DumpProblem {
    #[error("no dump on disk")]
    Missing,
    #[error("manifest is unreadable: {0}")]
    BadManifest(String),
    #[error(
        "dump is stale: made at revision {dump} with {dump_count} embeddings, the database is at revision {db} with {db_count}"
    )]
    Stale {
        dump: u64,
        dump_count: u64,
        db: u64,
        db_count: u64,
    },
    #[error("dump file {file} is corrupt: {reason}")]
    Corrupt { file: String, reason: String },
    #[error("dump holds model pack {dump:?}, the database {db:?}")]
    OtherPack {
        dump: Option<String>,
        db: Option<String>,
    },
}

/// One point of the graph: hnsw_rs data id = position in the list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PointRecord {
    pub embedding_id: u64,
    pub person: PersonId,
    pub dead: bool,
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest, DumpProblem> {
    let path = dir.join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(DumpProblem::Missing),
        Err(e) => return Err(DumpProblem::BadManifest(e.to_string())),
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| DumpProblem::BadManifest(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(DumpProblem::BadManifest(format!(
            "format {} (this build reads {FORMAT})",
            manifest.format
        )));
    }
    // The generation name comes from a file: never let it leave the folder.
    if manifest.generation.is_empty()
        || !manifest
            .generation
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(DumpProblem::BadManifest(format!(
            "invalid generation name {:?}",
            manifest.generation
        )));
    }
    Ok(manifest)
}

/// Checks every file of the manifest against its sha256.
pub(crate) fn verify_files(dir: &Path, manifest: &Manifest) -> Result<PathBuf, DumpProblem> {
    let generation = dir.join(&manifest.generation);
    for name in [POINTS_FILE, GRAPH_FILE] {
        if !manifest.files.contains_key(name) {
            return Err(DumpProblem::BadManifest(format!("no checksum for {name}")));
        }
    }
    for (name, expected) in &manifest.files {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(DumpProblem::BadManifest(format!(
                "invalid file name {name:?}"
            )));
        }
        let actual = sha256_file(&generation.join(name)).map_err(|e| DumpProblem::Corrupt {
            file: name.clone(),
            reason: e.to_string(),
        })?;
        if &actual != expected {
            return Err(DumpProblem::Corrupt {
                file: name.clone(),
                reason: "sha256 differs from the manifest".into(),
            });
        }
    }
    Ok(generation)
}

pub(crate) fn write_points(path: &Path, points: &[PointRecord]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(16 + points.len() * 32);
    out.extend_from_slice(POINTS_MAGIC);
    out.extend_from_slice(&(points.len() as u64).to_le_bytes());
    for p in points {
        out.extend_from_slice(&p.embedding_id.to_le_bytes());
        out.push(p.dead as u8);
        let person = p.person.as_str().as_bytes();
        out.extend_from_slice(&(person.len() as u16).to_le_bytes());
        out.extend_from_slice(person);
    }
    let mut file = fs::File::create(path)?;
    file.write_all(&out)?;
    file.sync_all()
}

pub(crate) fn read_points(path: &Path) -> Result<Vec<PointRecord>, DumpProblem> {
    let corrupt = |reason: &str| DumpProblem::Corrupt {
        file: POINTS_FILE.into(),
        reason: reason.into(),
    };
    let bytes = fs::read(path).map_err(|e| corrupt(&e.to_string()))?;
    let take = |at: usize, n: usize| bytes.get(at..at + n).ok_or_else(|| corrupt("truncated"));
    if take(0, 8)? != POINTS_MAGIC {
        return Err(corrupt("bad magic"));
    }
    let n = u64::from_le_bytes(take(8, 8)?.try_into().expect("8 bytes")) as usize;
    let mut points = Vec::with_capacity(n.min(bytes.len() / 11));
    let mut at = 16;
    for _ in 0..n {
        let embedding_id = u64::from_le_bytes(take(at, 8)?.try_into().expect("8 bytes"));
        let dead = take(at + 8, 1)?[0] != 0;
        let len = u16::from_le_bytes(take(at + 9, 2)?.try_into().expect("2 bytes")) as usize;
        let person = std::str::from_utf8(take(at + 11, len)?)
            .ok()
            .and_then(|s| PersonId::parse(s).ok())
            .ok_or_else(|| corrupt("invalid person id"))?;
        points.push(PointRecord {
            embedding_id,
            person,
            dead,
        });
        at += 11 + len;
    }
    if at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(points)
}

/// Makes `manifest` current: written beside, synced, renamed over the old
/// one; older generations are then removed.
pub(crate) fn commit_manifest(dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(manifest).expect("manifest serialises"))?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(MANIFEST))?;
    if let Ok(dir_handle) = fs::File::open(dir) {
        // Persist the rename itself; not all filesystems support this.
        let _ = dir_handle.sync_all();
    }
    for entry in fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("gen-") && name != manifest.generation {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// A new, unused generation folder name.
pub(crate) fn new_generation(dir: &Path, revision: u64) -> String {
    (0u32..)
        .map(|n| format!("gen-{revision}-{n}"))
        .find(|g| !dir.join(g).exists())
        .expect("a free generation name")
}
