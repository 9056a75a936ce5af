//! tract runs the converted embedder exactly as dlib runs the original.

mod support;

use facerec_vision::*;
use support::*;

#[test]
fn reference_chips_reproduce_dlib_descriptors() {
    let Some(dir) = shared_models() else { return };
    let refs: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("descriptors.json")).unwrap())
            .unwrap();
    assert_eq!(refs.len(), 25);
    let mut worst = 0f32;
    for r in &refs {
        let chip = load(&dir.join(r["chip"].as_str().unwrap()));
        assert_eq!(chip.dimensions(), (150, 150));
        let ours = engine().embedder.embed(&chip).unwrap();
        let theirs: Vec<f32> = r["descriptor"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(ours.0.len(), DESCRIPTOR_LEN);
        for (a, b) in ours.0.iter().zip(&theirs) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= 1e-4, "max abs difference {worst} > 1e-4");
    eprintln!("embedder parity: max abs difference {worst:e} over 25 chips");
}

#[test]
fn a_damaged_model_file_is_refused_by_name() {
    let dir = tempfile_dir();
    for f in ["yunet_2023mar_fp32.onnx", "SHA256SUMS"] {
        std::fs::copy(repo().join("models").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(
        dir.join("dlib_resnet_v1.onnx"),
        b"version https://git-lfs.github.com/spec/v1\n",
    )
    .unwrap();
    let err = FaceEngine::load_pack(&ModelFiles::new(&dir), &DLIB_V1)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("dlib_resnet_v1.onnx") && err.contains("sha256"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("facerec-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
