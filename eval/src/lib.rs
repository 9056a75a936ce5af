//! `facerecd eval`: how well each model pack detects, verifies and
//! identifies on the user's own labelled photos — the figures a threshold
//! is calibrated from. Photos are read as [`dataset`] describes; the
//! figures are defined in [`metrics`]. [`video`] does the same for the
//! live path on annotated clips.

pub mod dataset;
pub mod metrics;
mod report;
pub mod video;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, ModelFiles, ModelPack, decode_image,
};
use serde::Serialize;

pub use report::print_table;

use dataset::{Dataset, images_in};
use metrics::{Embedded, OpenSet, Verification};

/// What to evaluate.
pub struct EvalRequest {
    pub labelled: Vec<PathBuf>,
    pub no_faces: Vec<PathBuf>,
    pub packs: Vec<&'static ModelPack>,
    pub models_dir: PathBuf,
    pub detector: DetectorConfig,
    /// Shrink every labelled photo so that its face's box side is this
    /// many pixels (a face further from the camera), then detect and embed
    /// again: how small a face may be and still be named.
    pub face_size: Option<u32>,
}

/// One pack's figures.
#[derive(Debug, Serialize)]
pub struct PackReport {
    pub pack: &'static str,
    pub metric: facerec_vision::Metric,
    /// The pack's threshold, in its own metric.
    pub threshold: f32,
    pub detection: Detection,
    pub verification: Verification,
    pub open_set: OpenSet,
    pub timing: Timing,
}

#[derive(Debug, Serialize)]
pub struct Detection {
    pub labelled_photos: usize,
    /// Labelled photos where at least one face was found.
    pub photos_with_a_face: usize,
    /// Labelled photos where no face was found, by path.
    pub photos_without_a_face: Vec<String>,
    pub no_face_images: usize,
    /// Boxes reported on images without a face, by path.
    pub boxes_on_no_face_images: Vec<(String, usize)>,
    /// Of those boxes, how many the default quality gate lets through.
    pub no_face_boxes_passing_the_gate: usize,
    /// Of the boxes passing the gate, those the pack's threshold would
    /// name against the open-set galleries: `(path, person, distance)`.
    pub no_face_boxes_named: Vec<(String, String, f32)>,
    /// Labelled photos whose face the default quality gate refuses, by
    /// reason (they still count in the figures below).
    pub gate_refusals: std::collections::BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct Timing {
    /// Median detection per photo (as the hub detects them), ms.
    pub detect_ms: f64,
    /// Median chip + embedding per face, ms.
    pub embed_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct EvalReport {
    /// `(set, photos)` of every labelled folder.
    pub sets: Vec<(String, usize)>,
    pub identities: usize,
    pub packs: Vec<PackReport>,
}

pub fn run(request: &EvalRequest) -> anyhow::Result<EvalReport> {
    let set = Dataset::load(&request.labelled)?;
    let mut no_faces = Vec::new();
    for dir in &request.no_faces {
        no_faces.extend(images_in(dir)?);
    }
    let limits = DecodeLimits::default();
    let decode = |path: &PathBuf| -> anyhow::Result<facerec_vision::RgbImage> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        decode_image(&bytes, &limits).with_context(|| path.display().to_string())
    };
    let identities = set
        .photos
        .iter()
        .map(|p| p.identity.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let mut packs = Vec::new();
    for &pack in &request.packs {
        let engine = FaceEngine::load_pack(&ModelFiles::new(&request.models_dir), pack)
            .with_context(|| format!("cannot load pack {}", pack.name))?;
        let (mut detect_times, mut embed_times) = (Vec::new(), Vec::new());
        let mut embedded = Vec::with_capacity(set.photos.len());
        let mut missed = Vec::new();
        let gate = facerec_vision::QualityGate::default();
        let mut gate_refusals = std::collections::BTreeMap::new();
        for photo in &set.photos {
            let mut image = decode(&photo.path)?;
            let t = Instant::now();
            let mut faces = engine.detect(&image, &request.detector)?;
            detect_times.push(t.elapsed());
            if let Some(size) = request.face_size {
                (image, faces) = at_face_size(&engine, image, &faces, size, &request.detector)?;
            }
            // A labelled photo is of its person: the largest face.
            let main = faces
                .iter()
                .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()));
            if let Some(Err(refusal)) = main.map(|f| gate.check(&image, f)) {
                let reason = serde_json::to_value(&refusal)?["reason"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string();
                *gate_refusals.entry(reason).or_insert(0) += 1;
            }
            let descriptor = match main {
                Some(face) => {
                    let t = Instant::now();
                    let d = engine.embed_face(&image, face)?;
                    embed_times.push(t.elapsed());
                    Some(d.0)
                }
                None => {
                    missed.push(photo.path.display().to_string());
                    None
                }
            };
            embedded.push(Embedded {
                identity: photo.identity.clone(),
                descriptor,
            });
        }
        let threshold = pack.match_distance();
        let mut boxes = Vec::new();
        let (mut passing, mut named) = (0, Vec::new());
        for path in &no_faces {
            let image = decode(path)?;
            let found = engine.detect(&image, &request.detector)?;
            for face in found.iter().filter(|f| gate.check(&image, f).is_ok()) {
                passing += 1;
                let d = engine.embed_face(&image, face)?;
                if let Some((person, dist)) = metrics::nearest_enrolled(&embedded, &d.0)
                    && dist < threshold
                {
                    named.push((path.display().to_string(), person, dist));
                }
            }
            if !found.is_empty() {
                boxes.push((path.display().to_string(), found.len()));
            }
        }
        packs.push(PackReport {
            pack: pack.name,
            metric: pack.metric,
            threshold: pack.threshold,
            detection: Detection {
                labelled_photos: set.photos.len(),
                photos_with_a_face: set.photos.len() - missed.len(),
                photos_without_a_face: missed,
                no_face_images: no_faces.len(),
                boxes_on_no_face_images: boxes,
                no_face_boxes_passing_the_gate: passing,
                no_face_boxes_named: named,
                gate_refusals,
            },
            verification: metrics::verification(&embedded, &set.pairs, threshold),
            open_set: metrics::open_set(&embedded, threshold),
            timing: Timing {
                detect_ms: median_ms(&mut detect_times),
                embed_ms: median_ms(&mut embed_times),
            },
        });
    }
    Ok(EvalReport {
        sets: set.sets,
        identities,
        packs,
    })
}

/// `image` shrunk so that its largest face's side is `size` pixels (never
/// enlarged), and the faces found again in it — with the detector asked
/// for faces that small.
fn at_face_size(
    engine: &FaceEngine,
    image: facerec_vision::RgbImage,
    faces: &[facerec_vision::Face],
    size: u32,
    detector: &DetectorConfig,
) -> anyhow::Result<(facerec_vision::RgbImage, Vec<facerec_vision::Face>)> {
    let Some(main) = faces
        .iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
    else {
        return Ok((image, faces.to_vec()));
    };
    let side = main.bbox.width().max(main.bbox.height());
    let scale = size as f32 / side;
    if scale >= 1.0 {
        return Ok((image, faces.to_vec()));
    }
    let (w, h) = (
        ((image.width() as f32 * scale).round() as u32).max(1),
        ((image.height() as f32 * scale).round() as u32).max(1),
    );
    // Area-averaged, as a camera's sensor and a scaler would.
    let small = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
    let config = DetectorConfig {
        min_face: detector.min_face.min(size as f32 * 0.7),
        ..*detector
    };
    let found = engine.detect(&small, &config)?;
    Ok((small, found))
}

fn median_ms(times: &mut [Duration]) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}
