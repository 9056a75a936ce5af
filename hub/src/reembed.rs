//! Re-embedding: every production photo of a domain detected and embedded
//! again with a model pack — how a domain moves to a new pack, and how
//! photos migrated from an older install (which came without descriptors)
//! become searchable.
//!
//! Resumable: each photo's result is appended to a progress file
//! (`reembed/{domain}.{pack}.jsonl` under the data root, one JSON line,
//! synced) before the next starts; a run killed at any point continues
//! where it stopped, and a line cut by the kill is ignored and redone.
//! Nothing served mixes packs: the domain's descriptors are replaced in one
//! redb transaction at the end, and a snapshot at the next batch seq
//! carries the new ones to every edge at once.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use facerec_storage::{DomainCode, ImageStatus, NewEmbedding, PersonId, PersonStatus, Store};
use facerec_vision::FaceEngine;
use serde::{Deserialize, Serialize};

use super::batch;
use super::process::{QualityGates, gallery_face};

/// One photo's outcome, as a progress-file line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    image: u64,
    person: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vector: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ReembedReport {
    pub pack: String,
    /// Production photos of the domain.
    pub photos: usize,
    /// Of them, done by an earlier, interrupted run.
    pub resumed: usize,
    pub embedded: usize,
    /// `(image id, person, reason)`.
    pub refused: Vec<(u64, String, String)>,
    /// People left without any descriptor (every photo refused).
    pub people_without_faces: Vec<String>,
    /// Photos left for a later run (`max_photos` reached): nothing was
    /// replaced yet.
    pub remaining: usize,
    /// The snapshot that carries the new descriptors to edges.
    pub snapshot_seq: Option<u64>,
}

/// Where a domain's re-embedding into `pack` keeps its progress.
pub fn progress_path(store: &Store, domain: &DomainCode, pack: &str) -> PathBuf {
    store
        .layout()
        .root()
        .join("reembed")
        .join(format!("{domain}.{pack}.jsonl"))
}

/// Reads the progress file; a line cut short by a kill is dropped.
fn read_progress(path: &Path) -> anyhow::Result<HashMap<u64, Done>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Done>(l).ok())
        .map(|d| (d.image, d))
        .collect())
}

/// Re-embeds every approved photo of the domain's production and approved
/// people with `engine`'s pack. With `max_photos`, stops after that many
/// new photos (run again to continue). `key` signs the switching snapshot.
pub fn reembed_domain(
    store: &Store,
    engine: &FaceEngine,
    domain: &DomainCode,
    key: &SigningKey,
    max_photos: Option<usize>,
    progress: &(dyn Fn() + Sync),
) -> anyhow::Result<ReembedReport> {
    let pack = engine.pack.name;
    let mut photos = Vec::new();
    for person in store.list_people(domain, None)? {
        if !matches!(
            person.status,
            PersonStatus::Production | PersonStatus::Approved
        ) {
            continue;
        }
        for image in store.person_images(domain, &person.id)? {
            if image.status == ImageStatus::Approved {
                photos.push(image);
            }
        }
    }
    let path = progress_path(store, domain, pack);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let mut done = read_progress(&path)?;
    let mut report = ReembedReport {
        pack: pack.to_string(),
        photos: photos.len(),
        resumed: photos.iter().filter(|i| done.contains_key(&i.id)).count(),
        ..Default::default()
    };
    // Rewrite what was read (dropping a torn last line) before appending.
    {
        let mut lines = String::new();
        for d in done.values() {
            lines.push_str(&serde_json::to_string(d)?);
            lines.push('\n');
        }
        facerec_storage::files::write_atomic(&path, lines.as_bytes())?;
    }
    let mut file = std::fs::OpenOptions::new().append(true).open(&path)?;
    let mut new_photos = 0;
    for image in &photos {
        if done.contains_key(&image.id) {
            progress();
            continue;
        }
        if max_photos.is_some_and(|m| new_photos >= m) {
            report.remaining += 1;
            continue;
        }
        let outcome = match embed_photo(store, engine, &image.path) {
            Ok(vector) => Done {
                image: image.id,
                person: image.person.to_string(),
                vector: Some(vector),
                refused: None,
            },
            Err(reason) => Done {
                image: image.id,
                person: image.person.to_string(),
                vector: None,
                refused: Some(reason),
            },
        };
        let mut line = serde_json::to_string(&outcome)?;
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        done.insert(image.id, outcome);
        new_photos += 1;
        progress();
    }
    if report.remaining > 0 {
        return Ok(report);
    }

    let mut by_person: BTreeMap<String, Vec<NewEmbedding>> = BTreeMap::new();
    for image in &photos {
        let d = &done[&image.id];
        match (&d.vector, &d.refused) {
            (Some(v), _) => {
                report.embedded += 1;
                by_person
                    .entry(d.person.clone())
                    .or_default()
                    .push(NewEmbedding {
                        image_id: Some(image.id),
                        vector: v.clone(),
                    });
            }
            (None, reason) => report.refused.push((
                image.id,
                d.person.clone(),
                reason.clone().unwrap_or_default(),
            )),
        }
    }
    let mut people = Vec::new();
    for image in &photos {
        let p = image.person.to_string();
        if !by_person.contains_key(&p) && !report.people_without_faces.contains(&p) {
            report.people_without_faces.push(p);
        }
    }
    for (person, embeddings) in by_person {
        people.push((PersonId::parse(&person)?, embeddings));
    }
    store.replace_embeddings(domain, pack, &people)?;
    report.snapshot_seq = batch::build_switch_snapshot(store, domain, key)?.map(|m| m.seq);
    std::fs::remove_file(&path).ok();
    tracing::info!(%domain, pack, embedded = report.embedded, refused = report.refused.len(),
        snapshot = ?report.snapshot_seq, "domain re-embedded");
    Ok(report)
}

/// The descriptor of the photo's one clear face, judged as processing
/// judges a new photo, or why there is none.
fn embed_photo(store: &Store, engine: &FaceEngine, path: &str) -> Result<Vec<f32>, String> {
    let (image, face) = gallery_face(store, engine, &QualityGates::default(), path)?;
    engine
        .embed_face(&image, &face)
        .map(|d| d.0)
        .map_err(|e| format!("embedding failed: {e}"))
}
