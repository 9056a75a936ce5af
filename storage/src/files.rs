//! Writing files so that a crash never leaves half of one behind, and
//! secrets readable by their owner only.
//!
//! Every writer of the data root (batches, staging chips, keys, tokens)
//! goes through here, so "kill -9 mid-write leaves the old file or the
//! whole new one" is decided in one place.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to a temporary sibling, syncs it, and renames it over
/// `path`: readers see the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".part");
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Creates `dir` (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| named(e, "cannot create", dir))
}

/// Writes a secret (mode 0600) via a temp file and rename, so a crash
/// never leaves half a key or token.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .map_err(|e| named(e, "cannot create", &tmp))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).map_err(|e| named(e, "cannot write", path))
}

/// Keeps the error's kind and says which file it was about.
fn named(e: std::io::Error, what: &str, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
