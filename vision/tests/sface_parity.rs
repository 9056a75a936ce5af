//! SFace in tract (with the load-time batch-norm fold and PReLU rewrite)
//! against onnxruntime running the shipped file, on six ArcFace chips cut
//! from the sample photos by OpenCV's `FaceRecognizerSF::alignCrop`
//! (`tests/fixtures/sface/`, reference descriptors in `reference.json`).

use std::path::PathBuf;

use facerec_vision::{Embedder, ModelFiles, OnnxEmbedder, SFACE_V1, default_models_dir};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    chips: Vec<Chip>,
}

#[derive(Deserialize)]
struct Chip {
    file: String,
    descriptor: Vec<f32>,
}

#[test]
fn sface_in_tract_matches_onnxruntime() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sface");
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let embedder = OnnxEmbedder::load(
        &ModelFiles::new(default_models_dir()),
        "sface",
        SFACE_V1.embedder,
        112,
        true,
    )
    .unwrap();
    assert_eq!(reference.chips.len(), 6);
    let mut descriptors = Vec::new();
    for chip in &reference.chips {
        let rgb = image::open(dir.join(&chip.file)).unwrap().to_rgb8();
        let got = embedder.embed(&rgb).unwrap();
        let norm = chip.descriptor.iter().map(|v| v * v).sum::<f32>().sqrt();
        let worst = got
            .0
            .iter()
            .zip(&chip.descriptor)
            .map(|(g, r)| (g - r / norm).abs())
            .fold(0.0, f32::max);
        assert!(
            worst < 1e-4,
            "{}: differs from onnxruntime by {worst}",
            chip.file
        );
        descriptors.push(got);
    }
    // The six chips are five people; img12 and img16 are different people,
    // so their cosine must be far below SFace's threshold.
    let cos = descriptors[0]
        .0
        .iter()
        .zip(&descriptors[1].0)
        .map(|(a, b)| a * b)
        .sum::<f32>();
    assert!(cos < SFACE_V1.threshold, "cos {cos}");
}
