//! Face processing: every `new` image of a domain goes through detection,
//! quality gates, alignment and embedding. Accepted faces (150×150 chip and
//! descriptor) go to staging, `trainingPass/{domain}/{person}/{image}.{png,json}`,
//! for review; refused images keep the reason in their row.
//!
//! Gates, in order: unreadable image; no face; several faces with none
//! clearly dominant; face too small; low detector score; near-duplicate of
//! a face already staged for the person; and, once a person has three or
//! more faces, an **outlier** — a face far from the person's other faces is
//! probably someone else (a mislabelled or mis-scraped photo).

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use facerec_storage::{DomainCode, Image, ImageStatus, PersonId, PersonStatus, Store};
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, QualityGate, decode_image, distance,
};
use serde::{Deserialize, Serialize};

/// Thresholds of the quality gates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityGates {
    /// Size, detector score, landmarks, pose and sharpness of the face.
    pub face: QualityGate,
    /// With several faces, the largest must be this many times the area of
    /// the next, or the photo is ambiguous.
    pub dominance: f32,
    /// Closer than this to a face already staged, as a fraction of the
    /// pack's match distance: the same photo again.
    pub near_duplicate: f32,
    /// A face whose median distance to the person's other faces exceeds
    /// this fraction of the pack's match distance is flagged as someone else.
    pub outlier: f32,
}

impl Default for QualityGates {
    fn default() -> Self {
        Self {
            face: QualityGate {
                // A gallery photo is held to more than a live sample: a
                // face of 60 px or more, and YuNet's scale for a clear face
                // (the 2 of 342 labelled eval photos under 0.85 are blurred
                // or turned away).
                min_face: 60.0,
                min_score: 0.85,
                ..QualityGate::default()
            },
            dominance: 2.0,
            near_duplicate: 0.1 / 0.6,
            outlier: 1.0,
        }
    }
}

fn legacy_pack() -> String {
    facerec_storage::LEGACY_PACK.to_string()
}

/// What staging keeps next to each chip.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StagedFace {
    pub image_id: u64,
    /// The model pack that made `descriptor`.
    #[serde(default = "legacy_pack")]
    pub pack: String,
    pub person: String,
    pub descriptor: Vec<f32>,
    pub score: f32,
    /// `[x1, y1, x2, y2]` in the source image.
    pub bbox: [f32; 4],
}

#[derive(Debug, Default, Serialize)]
pub struct ProcessReport {
    pub processed: usize,
    pub staged: usize,
    /// `(image id, person, reason)` for every refused image.
    pub refused: Vec<(u64, String, String)>,
}

/// One image's outcome before the per-person checks.
enum Outcome {
    Face(StagedFace, image::RgbImage),
    Refused(String),
}

/// The one clear face of a gallery photo at `path` (relative to the data
/// root), with the decoded photo, or why there is none: unreadable,
/// undecodable, no face, several faces and none dominant, or refused by
/// the quality gate. Processing and re-embedding judge photos alike.
pub fn gallery_face(
    store: &Store,
    engine: &FaceEngine,
    gates: &QualityGates,
    path: &str,
) -> Result<(image::RgbImage, facerec_vision::Face), String> {
    let path = store.layout().root().join(path);
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read the file: {e}"))?;
    let rgb = decode_image(&bytes, &DecodeLimits::default())
        .map_err(|e| format!("cannot decode: {e}"))?;
    let config = DetectorConfig {
        min_face: 40.0,
        ..Default::default()
    };
    let mut faces = engine
        .detect(&rgb, &config)
        .map_err(|e| format!("detection failed: {e}"))?;
    let area = |f: &facerec_vision::Face| f.bbox.width() * f.bbox.height();
    faces.sort_by(|a, b| area(b).total_cmp(&area(a)));
    let Some(face) = faces.first() else {
        return Err("no face found".into());
    };
    if let Some(second) = faces.get(1)
        && area(face) < gates.dominance * area(second)
    {
        return Err(format!(
            "{} faces and none dominant (largest {:.0} px², next {:.0} px²)",
            faces.len(),
            area(face),
            area(second)
        ));
    }
    gates.face.check(&rgb, face).map_err(|r| r.to_string())?;
    let face = face.clone();
    Ok((rgb, face))
}

fn examine(store: &Store, engine: &FaceEngine, gates: &QualityGates, image: &Image) -> Outcome {
    let (rgb, face) = match gallery_face(store, engine, gates, &image.path) {
        Ok(found) => found,
        Err(reason) => return Outcome::Refused(reason),
    };
    let face = &face;
    let chip = engine.align(&rgb, face);
    let descriptor = match engine.embedder.embed(&chip) {
        Ok(d) => d,
        Err(e) => return Outcome::Refused(format!("embedding failed: {e}")),
    };
    Outcome::Face(
        StagedFace {
            image_id: image.id,
            pack: engine.pack.name.to_string(),
            person: image.person.to_string(),
            descriptor: descriptor.0,
            score: face.score,
            bbox: [face.bbox.x1, face.bbox.y1, face.bbox.x2, face.bbox.y2],
        },
        chip,
    )
}

fn staging_dir(store: &Store, domain: &DomainCode, person: &str) -> PathBuf {
    store.layout().staging(domain).join(person)
}

/// Faces of `person` already in staging.
pub fn staged_faces(store: &Store, domain: &DomainCode, person: &PersonId) -> Vec<StagedFace> {
    let dir = staging_dir(store, domain, person.as_str());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    let mut out: Vec<StagedFace> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    out.sort_by_key(|f| f.image_id);
    out
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Processes every `new` image of `domain` on `threads` threads.
pub fn process_domain(
    store: &Store,
    engine: &FaceEngine,
    domain: &DomainCode,
    gates: &QualityGates,
    threads: usize,
    progress: &(dyn Fn() + Sync),
) -> anyhow::Result<ProcessReport> {
    // Distances scale with the pack (dlib's "same person" is 0.6, SFace's
    // 1.05): both checks are fractions of the pack's match distance.
    let near_duplicate = gates.near_duplicate * engine.pack.match_distance();
    let outlier = gates.outlier * engine.pack.match_distance();
    let mut pending: Vec<Image> = Vec::new();
    for person in store.list_people(domain, None)? {
        pending.extend(
            store
                .person_images(domain, &person.id)?
                .into_iter()
                .filter(|i| i.status == ImageStatus::New),
        );
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(Image, Outcome)>> = Mutex::new(Vec::with_capacity(pending.len()));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(image) = pending.get(i) else { break };
                    let outcome = examine(store, engine, gates, image);
                    progress();
                    results.lock().unwrap().push((image.clone(), outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| i.id);

    let mut report = ProcessReport {
        processed: results.len(),
        ..Default::default()
    };
    let mut by_person: std::collections::BTreeMap<PersonId, Vec<(StagedFace, image::RgbImage)>> =
        Default::default();
    for (image, outcome) in results {
        match outcome {
            Outcome::Face(face, chip) => by_person
                .entry(image.person.clone())
                .or_default()
                .push((face, chip)),
            Outcome::Refused(reason) => {
                store.set_image_status(
                    domain,
                    image.id,
                    ImageStatus::Rejected,
                    Some(reason.clone()),
                )?;
                report
                    .refused
                    .push((image.id, image.person.to_string(), reason));
            }
        }
    }

    for (person, fresh) in by_person {
        let earlier = staged_faces(store, domain, &person);
        // Near-duplicates of a face already staged (earlier, or earlier in this run).
        let mut accepted: Vec<(StagedFace, image::RgbImage)> = Vec::new();
        for (face, chip) in fresh {
            let twin = earlier
                .iter()
                .chain(accepted.iter().map(|(f, _)| f))
                .find(|o| distance(&o.descriptor, &face.descriptor) < near_duplicate)
                .map(|o| o.image_id);
            if let Some(other) = twin {
                let reason = format!("near-duplicate of image {other}");
                store.set_image_status(
                    domain,
                    face.image_id,
                    ImageStatus::Rejected,
                    Some(reason.clone()),
                )?;
                report
                    .refused
                    .push((face.image_id, person.to_string(), reason));
            } else {
                accepted.push((face, chip));
            }
        }
        // Outliers: judged against all of the person's faces.
        let all: Vec<&StagedFace> = earlier
            .iter()
            .chain(accepted.iter().map(|(f, _)| f))
            .collect();
        let mut outliers = std::collections::HashMap::new();
        if all.len() >= 3 {
            for (face, _) in &accepted {
                let others: Vec<f32> = all
                    .iter()
                    .filter(|o| o.image_id != face.image_id)
                    .map(|o| distance(&o.descriptor, &face.descriptor))
                    .collect();
                let m = median(others);
                if m > outlier {
                    outliers.insert(face.image_id, m);
                }
            }
        }
        let dir = staging_dir(store, domain, person.as_str());
        std::fs::create_dir_all(&dir)?;
        let mut staged_any = false;
        for (face, chip) in accepted {
            if let Some(m) = outliers.get(&face.image_id) {
                let reason = format!(
                    "outlier: probably someone else (median distance {m:.2} to the person's other faces > {:.2})",
                    outlier
                );
                store.set_image_status(
                    domain,
                    face.image_id,
                    ImageStatus::Rejected,
                    Some(reason.clone()),
                )?;
                report
                    .refused
                    .push((face.image_id, person.to_string(), reason));
                continue;
            }
            // Files first, then the row: a crash leaves files a rerun overwrites.
            chip.save(dir.join(format!("{}.png", face.image_id)))?;
            facerec_storage::files::write_atomic(
                &dir.join(format!("{}.json", face.image_id)),
                &serde_json::to_vec(&face)?,
            )?;
            store.set_image_status(domain, face.image_id, ImageStatus::Staged, None)?;
            report.staged += 1;
            staged_any = true;
        }
        if staged_any {
            let p = store.get_person(domain, &person)?;
            if p.is_some_and(|p| p.status == PersonStatus::Candidate) {
                store.set_person_status(domain, &person, PersonStatus::Staging)?;
            }
        }
    }
    tracing::info!(domain = %domain, processed = report.processed, staged = report.staged,
        refused = report.refused.len(), "images processed");
    Ok(report)
}
