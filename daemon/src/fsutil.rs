//! Writing files so that a crash never leaves half of one behind.

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
