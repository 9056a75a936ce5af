//! YuNet against OpenCV's `FaceDetectorYN` (5.1, same fp32 model, score
//! 0.6, NMS 0.3) on the fixture images of `vision/tests/fixtures/yunet/`,
//! each already at a network input size; the reference is committed there
//! as `reference.json`.

use std::path::PathBuf;

use serde::Deserialize;

use super::*;
use crate::models::default_models_dir;

#[derive(Deserialize)]
struct Reference {
    images: Vec<RefImage>,
}

#[derive(Deserialize)]
struct RefImage {
    file: String,
    faces: Vec<RefFace>,
}

#[derive(Deserialize)]
struct RefFace {
    box_xywh: [f32; 4],
    landmarks: [[f32; 2]; 5],
    score: f32,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/yunet")
}

#[test]
fn finds_what_opencv_finds_where_opencv_finds_it() {
    let detector = YuNetDetector::load(&ModelFiles::new(default_models_dir())).unwrap();
    let text = std::fs::read_to_string(fixtures().join("reference.json")).unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    let mut compared = 0;
    for image in &reference.images {
        let rgb = image::open(fixtures().join(&image.file)).unwrap().to_rgb8();
        let planar = resize_rgb8(&rgb, rgb.width() as usize, rgb.height() as usize);
        let mut faces = detector.detect_at_input_scale(&planar, 0.6).unwrap();
        assert_eq!(
            faces.len(),
            image.faces.len(),
            "{}: faces found",
            image.file
        );
        // Both lists are by descending score; match each reference face to
        // the nearest box to be independent of ties.
        for want in &image.faces {
            let [x, y, w, h] = want.box_xywh;
            let (i, got) = faces
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    let d = |f: &Face| (f.bbox.x1 - x).abs() + (f.bbox.y1 - y).abs();
                    d(a.1).total_cmp(&d(b.1))
                })
                .unwrap();
            let close = |a: f32, b: f32, tol: f32| (a - b).abs() <= tol;
            let what = format!("{}: face at ({x}, {y})", image.file);
            assert!(
                close(got.bbox.x1, x, 0.05)
                    && close(got.bbox.y1, y, 0.05)
                    && close(got.bbox.width(), w, 0.05)
                    && close(got.bbox.height(), h, 0.05),
                "{what}: box {:?}",
                got.bbox
            );
            for (g, r) in got.landmarks.iter().zip(&want.landmarks) {
                assert!(
                    close(g[0], r[0], 0.05) && close(g[1], r[1], 0.05),
                    "{what}: landmark {g:?}, OpenCV {r:?}"
                );
            }
            assert!(
                close(got.score, want.score, 1e-3),
                "{what}: score {}",
                got.score
            );
            faces.remove(i);
            compared += 1;
        }
    }
    assert_eq!(compared, 9, "faces compared");
}

#[test]
fn shrinks_to_the_smallest_face_wanted_and_never_enlarges() {
    let config = |min_face| DetectorConfig {
        min_face,
        ..DetectorConfig::default()
    };
    assert_eq!(YuNetDetector::input_scale(640, 480, &config(40.0)), 0.5);
    assert_eq!(YuNetDetector::input_scale(640, 480, &config(10.0)), 1.0);
    // A 6000-pixel photo is capped at MAX_INPUT_SIDE whatever the face size.
    let s = YuNetDetector::input_scale(6000, 4000, &config(20.0));
    assert!((6000.0 * s - MAX_INPUT_SIDE as f32).abs() < 1.0);
}
