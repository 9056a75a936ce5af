//! Placing one file so that nothing is ever lost: copy to a temporary
//! sibling, sync, rename into place, and check the copy's sha256 against
//! the source. The caller removes the source only after that (and after
//! recording the file), so a run cut short anywhere leaves the source, a
//! verified copy, or both — and the next run finishes the job.

use std::path::Path;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Copied and verified now.
    Copied,
    /// Already in place: the source is the destination.
    InPlace,
    /// A verified copy was there already (from an earlier run).
    AlreadyDone,
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(path)?)))
}

/// What `place` would do, without doing it.
pub fn preview(src: &Path, dest: &Path) -> std::io::Result<Outcome> {
    if same_file(src, dest) {
        return Ok(Outcome::InPlace);
    }
    if dest.is_file() && sha256_file(dest)? == sha256_file(src)? {
        return Ok(Outcome::AlreadyDone);
    }
    Ok(Outcome::Copied)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Puts a verified copy of `src` at `dest`; returns what it did and the
/// file's sha256.
pub fn place(src: &Path, dest: &Path) -> anyhow::Result<(Outcome, String)> {
    use anyhow::Context;
    if same_file(src, dest) {
        return Ok((Outcome::InPlace, sha256_file(src)?));
    }
    let bytes = std::fs::read(src).with_context(|| format!("cannot read {}", src.display()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let outcome = if dest.is_file() && sha256_file(dest)? == sha {
        Outcome::AlreadyDone
    } else {
        if dest.exists() {
            anyhow::bail!(
                "{} exists with other content than {}: resolve by hand (nothing was changed)",
                dest.display(),
                src.display()
            );
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        facerec_storage::files::write_atomic(dest, &bytes)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        let written = sha256_file(dest)?;
        anyhow::ensure!(
            written == sha,
            "the copy {} does not match {}",
            dest.display(),
            src.display()
        );
        Outcome::Copied
    };
    Ok((outcome, sha))
}
