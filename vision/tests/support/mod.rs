//! Test data: the bundled samples, the shared photo set, one loaded engine.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use facerec_vision::*;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn samples() -> PathBuf {
    repo().join("samples/faces")
}

/// `../shared/data/faces` beside the repository (the full photo set).
pub fn shared_faces() -> Option<PathBuf> {
    shared_dir("data/faces", "pairs.csv")
}

/// `../shared/data/eval` (more people, crowds, no-face images).
pub fn shared_eval() -> Option<PathBuf> {
    shared_dir("data/eval", "SOURCES.csv")
}

/// `../shared/models/reference` (dlib's own chips and descriptors).
pub fn shared_models() -> Option<PathBuf> {
    shared_dir("models/reference", "descriptors.json")
}

/// A folder of `../shared`. When it is absent the calling test is skipped
/// with a message — unless FACEREC_REQUIRE_SHARED is set (CI sets it), which
/// turns the absence into a failure.
fn shared_dir(sub: &str, marker: &str) -> Option<PathBuf> {
    let dir = repo().join("../shared").join(sub);
    if dir.join(marker).is_file() {
        return Some(dir);
    }
    if std::env::var_os("FACEREC_REQUIRE_SHARED").is_some() {
        panic!(
            "{} is missing and FACEREC_REQUIRE_SHARED is set",
            dir.display()
        );
    }
    eprintln!("skipped: {} is not here", dir.display());
    None
}

pub fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    // FACEREC_MODELS_DIR lets the parity test check a regenerated embedder.
    ENGINE.get_or_init(|| {
        // These tests are about dlib's descriptors (parity, MATCH_THRESHOLD).
        FaceEngine::load_pack(&ModelFiles::new(default_models_dir()), &DLIB_V1)
            .expect("models load")
    })
}

pub fn load(path: &Path) -> RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode_image(&bytes, &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `file,identity` rows.
pub fn identities(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("identities.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(',')
                .map(|(f, i)| (f.to_string(), i.to_string()))
        })
        .collect()
}

/// The descriptor of the largest face in a photo.
pub fn main_descriptor(path: &Path, config: &DetectorConfig) -> Descriptor {
    let img = load(path);
    let faces = engine().detect(&img, config).unwrap();
    let face = faces
        .iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        .unwrap_or_else(|| panic!("no face in {}", path.display()));
    engine().embed_face(&img, face).unwrap()
}
