//! Image acquisition: bytes from an upload, a folder or a download become a
//! file in `training/{domain}/` named `{person}_{timestamp}_{n}.{ext}` and an
//! `images` row (status `new`), deduplicated by sha256 within the domain.
//!
//! The file is written (temp file + rename) before the row is committed, so
//! a crash leaves at worst an unreferenced file, never a row without its file.

use std::path::{Path, PathBuf};

use chrono::Utc;
use facerec_storage::{
    DomainCode, Image, ImageSource, NewImage, NewPerson, PersonId, PersonStatus, Store,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::slug::person_id;

/// Larger files are refused before they are read.
pub const MAX_IMAGE_BYTES: u64 = 25 << 20;

#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    #[error("{0} bytes is over the {MAX_IMAGE_BYTES}-byte limit for an image")]
    TooLarge(u64),
    #[error("not a JPEG, PNG, WebP or BMP image (judged by its bytes, not its name)")]
    NotAnImage,
    #[error(transparent)]
    Storage(#[from] facerec_storage::StorageError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The extension for the image's real format, by its magic bytes.
fn sniff_extension(bytes: &[u8]) -> Option<&'static str> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => Some("jpg"),
        image::ImageFormat::Png => Some("png"),
        image::ImageFormat::WebP => Some("webp"),
        image::ImageFormat::Bmp => Some("bmp"),
        _ => None,
    }
}

/// Makes sure `person` exists in the domain (as a candidate when new).
pub fn ensure_person(
    store: &Store,
    domain: &DomainCode,
    person: &PersonId,
    display_name: &str,
) -> Result<(), AcquireError> {
    if store.get_person(domain, person)?.is_none() {
        store.upsert_person(
            domain,
            NewPerson::named(
                person.clone(),
                display_name.to_string(),
                PersonStatus::Candidate,
            ),
        )?;
    }
    Ok(())
}

/// Stores one image of `person`; returns the row and whether it is new
/// (`false`: the domain already had these exact bytes).
pub fn store_image(
    store: &Store,
    domain: &DomainCode,
    person: &PersonId,
    bytes: &[u8],
    source: ImageSource,
    source_url: Option<String>,
) -> Result<(Image, bool), AcquireError> {
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(AcquireError::TooLarge(bytes.len() as u64));
    }
    let ext = sniff_extension(bytes).ok_or(AcquireError::NotAnImage)?;
    let sha256 = hex::encode(Sha256::digest(bytes));
    let dir = store.layout().training(domain);
    std::fs::create_dir_all(&dir).map_err(|source| AcquireError::Io {
        path: dir.clone(),
        source,
    })?;
    let stamp = Utc::now().format("%Y%m%d%H%M%S");
    let (path, file) = (1u32..)
        .map(|n| {
            let name = format!("{person}_{stamp}_{n}.{ext}");
            (dir.join(&name), name)
        })
        .find(|(p, _)| !p.exists())
        .expect("some n is free");
    facerec_storage::files::write_atomic(&path, bytes).map_err(|source| AcquireError::Io {
        path: path.clone(),
        source,
    })?;
    let relative = Path::new("training").join(domain.as_str()).join(&file);
    let result = store.add_image(
        domain,
        NewImage {
            person: person.clone(),
            source,
            source_url,
            sha256,
            path: relative.to_string_lossy().into_owned(),
        },
    );
    match result {
        Ok((image, true)) => Ok((image, true)),
        other => {
            // A duplicate (or a failed insert) must not leave a stray copy.
            let _ = std::fs::remove_file(&path);
            Ok(other?)
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub people: Vec<String>,
    pub added: usize,
    pub duplicates: usize,
    /// `(file, reason)` for every file not stored.
    pub refused: Vec<(String, String)>,
}

/// `{person}_{timestamp}_{n}.ext` → `person` (the design's naming).
fn person_from_file_name(name: &str) -> Option<&str> {
    let stem = name.rsplit_once('.')?.0;
    let mut parts = stem.rsplitn(3, '_');
    let (n, ts, person) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(n) && digits(ts)).then_some(person)
}

/// Ingests `dir`: one sub-folder per person (its name becomes the person id),
/// or files named `{person}_{timestamp}_{n}.jpg` directly in it. `progress`
/// is told of every file handled.
pub fn ingest_dir(
    store: &Store,
    domain: &DomainCode,
    dir: &Path,
    mut progress: impl FnMut(&Path),
) -> anyhow::Result<IngestReport> {
    store.domain(domain)?;
    let mut work: Vec<(PersonId, String, PathBuf)> = Vec::new();
    let mut report = IngestReport::default();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            let Some(id) = person_id(&name, None) else {
                report.refused.push((
                    entry.display().to_string(),
                    "folder name gives no person id".into(),
                ));
                continue;
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&entry)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            let display = name.replace('_', " ");
            work.extend(files.into_iter().map(|f| (id.clone(), display.clone(), f)));
        } else if let Some(person) =
            person_from_file_name(&name).and_then(|p| PersonId::parse(p).ok())
        {
            let display = person.as_str().replace('_', " ");
            work.push((person, display, entry));
        } else {
            report.refused.push((
                entry.display().to_string(),
                "not in a person folder and not named {person}_{timestamp}_{n}".into(),
            ));
        }
    }
    for (person, display, file) in work {
        progress(&file);
        let shown = file.display().to_string();
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size > MAX_IMAGE_BYTES {
            report
                .refused
                .push((shown, AcquireError::TooLarge(size).to_string()));
            continue;
        }
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                report.refused.push((shown, e.to_string()));
                continue;
            }
        };
        if sniff_extension(&bytes).is_none() {
            report
                .refused
                .push((shown, AcquireError::NotAnImage.to_string()));
            continue;
        }
        ensure_person(store, domain, &person, &display)?;
        if !report.people.contains(&person.to_string()) {
            report.people.push(person.to_string());
        }
        match store_image(store, domain, &person, &bytes, ImageSource::Upload, None) {
            Ok((_, true)) => report.added += 1,
            Ok((_, false)) => report.duplicates += 1,
            Err(e @ (AcquireError::TooLarge(_) | AcquireError::NotAnImage)) => {
                report.refused.push((shown, e.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_file_naming_names_the_person() {
        assert_eq!(
            person_from_file_name("novak_djokovic_20240101_3.jpg"),
            Some("novak_djokovic")
        );
        assert_eq!(person_from_file_name("ana_1.jpg"), None);
        assert_eq!(person_from_file_name("photo.jpg"), None);
    }
}

/// What [`download_candidates`] did.
#[derive(Debug, Default, Serialize)]
pub struct DownloadReport {
    pub downloaded: usize,
    pub duplicates: usize,
    /// `(url, reason)` for every URL not stored.
    pub failed: Vec<(String, String)>,
}

/// Downloads the proposed photos (`image_urls`) of the domain's candidates
/// through the same allowlisted, size- and time-limited client plugins use.
/// A response must say `image/*` and its bytes must be an image.
pub fn download_candidates(
    store: &Store,
    http: &facerec_plugin_host::GuardedHttp,
    domain: &DomainCode,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<DownloadReport> {
    let d = store.domain(domain)?;
    let allow = facerec_plugin_host::Allowlist::parse(&d.plugins.http_allowlist)
        .map_err(|e| anyhow::anyhow!(e))?;
    let known: std::collections::HashSet<String> = store
        .list_people(domain, None)?
        .iter()
        .flat_map(|p| store.person_images(domain, &p.id).unwrap_or_default())
        .filter_map(|i| i.source_url)
        .collect();
    let mut report = DownloadReport::default();
    for person in store.list_people(domain, Some(PersonStatus::Candidate))? {
        for url in &person.image_urls {
            if known.contains(url) {
                continue;
            }
            progress(url);
            let response = match http.get(&allow, url, &[("accept".into(), "image/*".into())]) {
                Ok(r) => r,
                Err(e) => {
                    report.failed.push((url.clone(), e.to_string()));
                    continue;
                }
            };
            if response.status != 200 {
                report
                    .failed
                    .push((url.clone(), format!("HTTP {}", response.status)));
                continue;
            }
            let is_image = response
                .content_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("image/"));
            if !is_image {
                report.failed.push((
                    url.clone(),
                    format!("content type {:?} is not an image", response.content_type),
                ));
                continue;
            }
            let source = if url::Url::parse(&response.final_url)
                .ok()
                .and_then(|u| {
                    u.host_str()
                        .map(|h| h == "wikimedia.org" || h.ends_with(".wikimedia.org"))
                })
                .unwrap_or(false)
            {
                ImageSource::Wikimedia
            } else {
                ImageSource::Plugin
            };
            match store_image(
                store,
                domain,
                &person.id,
                &response.body,
                source,
                Some(url.clone()),
            ) {
                Ok((_, true)) => report.downloaded += 1,
                Ok((_, false)) => report.duplicates += 1,
                Err(e @ (AcquireError::TooLarge(_) | AcquireError::NotAnImage)) => {
                    report.failed.push((url.clone(), e.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    tracing::info!(domain = %domain, downloaded = report.downloaded,
        failed = report.failed.len(), "candidate images downloaded");
    Ok(report)
}
