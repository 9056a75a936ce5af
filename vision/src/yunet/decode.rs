//! YuNet's outputs → faces: the anchor-free decoding and NMS of OpenCV's
//! `FaceDetectorYN`, kept apart from inference so that it can be checked
//! against reference outputs.

use crate::detect::{BBox, Face};

/// The three feature strides YuNet predicts at, in output order.
pub(crate) const STRIDES: [usize; 3] = [8, 16, 32];

/// One stride's raw outputs, each flat and row-major over the
/// `rows × cols` cells of that stride (`rows = H / s`, `cols = W / s`).
pub(crate) struct StrideOutputs<'a> {
    pub stride: usize,
    pub cols: usize,
    /// `[cells]` class score.
    pub cls: &'a [f32],
    /// `[cells]` objectness.
    pub obj: &'a [f32],
    /// `[cells × 4]`: centre offset (x, y) in cells, log width and height.
    pub bbox: &'a [f32],
    /// `[cells × 10]`: the five landmarks' offsets (x, y) in cells.
    pub kps: &'a [f32],
}

/// Every cell of `out` scoring at least `threshold`, as a face in the
/// network input's pixels. Score is `√(clamp01(cls) · clamp01(obj))`.
pub(crate) fn decode(out: &StrideOutputs, threshold: f32, faces: &mut Vec<Face>) {
    let s = out.stride as f32;
    for (cell, (&cls, &obj)) in out.cls.iter().zip(out.obj).enumerate() {
        let score = (cls.clamp(0.0, 1.0) * obj.clamp(0.0, 1.0)).sqrt();
        // Written so that a NaN score (a broken model) is skipped too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(score >= threshold) {
            continue;
        }
        let (row, col) = ((cell / out.cols) as f32, (cell % out.cols) as f32);
        let b = &out.bbox[cell * 4..cell * 4 + 4];
        let (cx, cy) = ((col + b[0]) * s, (row + b[1]) * s);
        let (w, h) = (b[2].exp() * s, b[3].exp() * s);
        let k = &out.kps[cell * 10..cell * 10 + 10];
        let mut landmarks = [[0.0f32; 2]; 5];
        for (i, p) in landmarks.iter_mut().enumerate() {
            *p = [(k[2 * i] + col) * s, (k[2 * i + 1] + row) * s];
        }
        faces.push(Face {
            bbox: BBox {
                x1: cx - w / 2.0,
                y1: cy - h / 2.0,
                x2: cx + w / 2.0,
                y2: cy + h / 2.0,
            },
            score,
            landmarks,
        });
    }
}

/// Greedy non-maximum suppression: the best-scoring face first, then every
/// face overlapping a kept one by more than `iou` is dropped.
pub(crate) fn nms(mut faces: Vec<Face>, iou: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::with_capacity(faces.len());
    for face in faces {
        if kept.iter().all(|k| k.bbox.iou(&face.bbox) <= iou) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_one_cell_as_opencv_does() {
        // One 2×3 grid at stride 8; only cell (row 1, col 2) scores.
        let mut cls = vec![0.0; 6];
        let mut obj = vec![0.0; 6];
        cls[5] = 0.81;
        obj[5] = 1.3; // clamped to 1
        let mut bbox = vec![0.0; 24];
        bbox[20..24].copy_from_slice(&[0.5, -0.25, 2.0f32.ln(), 0.0]);
        let mut kps = vec![0.0; 60];
        kps[50] = 0.25; // first landmark's x offset
        let out = StrideOutputs {
            stride: 8,
            cols: 3,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        };
        let mut faces = Vec::new();
        decode(&out, 0.5, &mut faces);
        assert_eq!(faces.len(), 1);
        let f = &faces[0];
        assert!((f.score - 0.9).abs() < 1e-6);
        // centre (2.5·8, 0.75·8) = (20, 6), size (16, 8)
        assert_eq!(
            (f.bbox.x1, f.bbox.y1, f.bbox.x2, f.bbox.y2),
            (12.0, 2.0, 28.0, 10.0)
        );
        assert_eq!(f.landmarks[0], [18.0, 8.0]);
        assert_eq!(f.landmarks[4], [16.0, 8.0]);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_faces() {
        let face = |x: f32, score: f32| Face {
            bbox: BBox {
                x1: x,
                y1: 0.0,
                x2: x + 10.0,
                y2: 10.0,
            },
            score,
            landmarks: [[0.0; 2]; 5],
        };
        let kept = nms(vec![face(0.0, 0.7), face(1.0, 0.9), face(30.0, 0.8)], 0.3);
        let scores: Vec<f32> = kept.iter().map(|f| f.score).collect();
        assert_eq!(scores, [0.9, 0.8]);
    }
}
