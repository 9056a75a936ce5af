//! Quality gates: whether a detected face is good enough to be embedded —
//! to enter a gallery on the hub, or to vote on a live track on an edge.
//! A refused face carries its reason (as Rekognition's IndexFaces reports
//! why it dropped a face) so that a reviewer or an operator can act on it.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detect::Face;

/// Why a face was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The shorter side of its box, in pixels.
    TooSmall {
        side: f32,
        min: f32,
    },
    LowScore {
        score: f32,
        min: f32,
    },
    /// The five landmarks are not arranged as a face's.
    Landmarks {
        problem: String,
    },
    /// Turned away (`yaw`: nose offset from the eyes' midpoint, in eye
    /// distances) or tilted (`roll`, degrees).
    Pose {
        yaw: f32,
        roll: f32,
    },
    /// Variance of the Laplacian of the face, grey, at 64×64.
    Blurred {
        sharpness: f32,
        min: f32,
    },
    /// Share of the face in its most common tone (one of 32 grey bands):
    /// a line drawing is mostly paper, a photographed face is shaded.
    FlatTone {
        share: f32,
        max: f32,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooSmall { side, min } => {
                write!(f, "face too small ({side:.0} px < {min:.0} px)")
            }
            Self::LowScore { score, min } => {
                write!(f, "low detector score ({score:.3} < {min})")
            }
            Self::Landmarks { problem } => write!(f, "not a face's landmarks: {problem}"),
            Self::Pose { yaw, roll } => write!(
                f,
                "extreme pose (yaw {yaw:.2} eye distances, roll {roll:.0}°)"
            ),
            Self::Blurred { sharpness, min } => {
                write!(f, "blurred (sharpness {sharpness:.0} < {min:.0})")
            }
            Self::FlatTone { share, max } => write!(
                f,
                "not a photographed face: {:.0}% of it is one flat tone (> {:.0}%), as in a drawing",
                share * 100.0,
                max * 100.0
            ),
        }
    }
}

/// The thresholds; defaults are measured with `facerecd eval` (README).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityGate {
    /// Shorter box side, pixels.
    pub min_face: f32,
    pub min_score: f32,
    /// Largest |nose offset from the eyes' midpoint| in eye distances.
    pub max_yaw: f32,
    /// Largest tilt of the eye line, degrees.
    pub max_roll: f32,
    /// Smallest variance of the Laplacian (grey, 64×64 face crop).
    pub min_sharpness: f32,
    /// Largest share of the face (grey, 64×64) in one of 32 grey bands:
    /// a line drawing is mostly its paper.
    pub max_flat_tone: f32,
}

impl Default for QualityGate {
    fn default() -> Self {
        Self {
            min_face: 40.0,
            min_score: 0.8,
            max_yaw: 0.6,
            max_roll: 40.0,
            min_sharpness: 40.0,
            // Measured with `facerecd eval` and `scripts/eval-video`: at
            // most 0.34 on 465 real faces of the shared photos and crowds
            // and 0.25 on 817 of the clips' frames; 0.50 on a line drawing.
            max_flat_tone: 0.45,
        }
    }
}

impl Refusal {
    /// The reason's name, as serialized (`too_small`, `blurred`…).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::TooSmall { .. } => "too_small",
            Refusal::LowScore { .. } => "low_score",
            Refusal::Landmarks { .. } => "landmarks",
            Refusal::Pose { .. } => "pose",
            Refusal::Blurred { .. } => "blurred",
            Refusal::FlatTone { .. } => "flat_tone",
        }
    }
}

impl QualityGate {
    /// `Ok` when `face` of `image` may be embedded.
    pub fn check(&self, image: &RgbImage, face: &Face) -> Result<(), Refusal> {
        let side = face.bbox.width().min(face.bbox.height());
        if side < self.min_face {
            return Err(Refusal::TooSmall {
                side,
                min: self.min_face,
            });
        }
        if face.score < self.min_score {
            return Err(Refusal::LowScore {
                score: face.score,
                min: self.min_score,
            });
        }
        landmarks(face).map_err(|problem| Refusal::Landmarks { problem })?;
        let (yaw, roll) = pose(face);
        if yaw.abs() > self.max_yaw || roll.abs() > self.max_roll {
            return Err(Refusal::Pose { yaw, roll });
        }
        let grey = grey_face(image, face);
        let sharpness = laplacian_variance(&grey);
        if sharpness < self.min_sharpness {
            return Err(Refusal::Blurred {
                sharpness,
                min: self.min_sharpness,
            });
        }
        let share = flat_tone(&grey);
        if share > self.max_flat_tone {
            return Err(Refusal::FlatTone {
                share,
                max: self.max_flat_tone,
            });
        }
        Ok(())
    }
}

/// Eyes side by side above the nose, the nose above the mouth, all inside
/// the (slightly widened) box, eyes a plausible distance apart.
fn landmarks(face: &Face) -> Result<(), String> {
    let [le, re, nose, ml, mr] = face.landmarks;
    let b = face.bbox;
    let (mx, my) = (0.15 * b.width(), 0.15 * b.height());
    let inside = |p: [f32; 2]| {
        p[0] >= b.x1 - mx && p[0] <= b.x2 + mx && p[1] >= b.y1 - my && p[1] <= b.y2 + my
    };
    if !face.landmarks.iter().all(|p| inside(*p)) {
        return Err("a landmark lies outside the face's box".into());
    }
    if le[0] >= re[0] || ml[0] >= mr[0] {
        return Err("left and right are swapped".into());
    }
    let eyes_y = (le[1] + re[1]) / 2.0;
    let mouth_y = (ml[1] + mr[1]) / 2.0;
    if !(eyes_y < nose[1] && nose[1] < mouth_y) {
        return Err("eyes, nose and mouth are not in order".into());
    }
    let eye_distance = (re[0] - le[0]).hypot(re[1] - le[1]);
    let ratio = eye_distance / b.width().max(1.0);
    if !(0.15..=0.8).contains(&ratio) {
        return Err(format!("eyes {ratio:.2} box widths apart"));
    }
    Ok(())
}

/// `(yaw, roll)`: the nose's offset from the eyes' midpoint along the eye
/// line, in eye distances (0 frontal, ±0.5 and more: turned away), and the
/// eye line's tilt in degrees.
pub fn pose(face: &Face) -> (f32, f32) {
    let [le, re, nose, _, _] = face.landmarks;
    let (dx, dy) = (re[0] - le[0], re[1] - le[1]);
    let d = dx.hypot(dy).max(1e-3);
    let mid = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
    let yaw = ((nose[0] - mid[0]) * dx + (nose[1] - mid[1]) * dy) / (d * d);
    (yaw, dy.atan2(dx).to_degrees())
}

/// Side of the grey face crop the pixel statistics are taken on, so that
/// they do not depend on the face's size.
const GREY_SIDE: usize = 64;

/// The largest share of the face's box (grey, 64×64) in one of 32 grey
/// bands. A photographed face is shaded across many bands (at most 0.34
/// on the shared photos); a line drawing is mostly its paper.
fn flat_tone(grey: &[f32]) -> f32 {
    let mut bands = [0u32; 32];
    for v in grey {
        bands[((*v as usize) / 8).min(31)] += 1;
    }
    bands.iter().copied().max().unwrap_or(0) as f32 / grey.len().max(1) as f32
}

/// The face's box in grey, area-averaged to [`GREY_SIDE`]²: every source
/// pixel under a cell counts, so a large face costs one pass over its
/// pixels (1.4 ms for a 700×900 face).
fn grey_face(image: &RgbImage, face: &Face) -> Vec<f32> {
    const N: usize = GREY_SIDE;
    let b = face.bbox;
    let (w, h) = (b.width().max(1.0), b.height().max(1.0));
    let columns = cell_ranges(b.x1, w, image.width());
    let rows = cell_ranges(b.y1, h, image.height());
    let raw = image.as_raw();
    let stride = image.width() as usize * 3;
    let mut grey = vec![0.0f32; N * N];
    for (y, &(y0, y1)) in rows.iter().enumerate() {
        for (x, &(x0, x1)) in columns.iter().enumerate() {
            // Luma ×1000 (BT.601 weights), summed exactly.
            let mut sum = 0u64;
            for yy in y0..y1 {
                let row = &raw[yy * stride + x0 * 3..yy * stride + x1 * 3];
                for p in row.chunks_exact(3) {
                    sum += 299 * u64::from(p[0]) + 587 * u64::from(p[1]) + 114 * u64::from(p[2]);
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as f64;
            grey[y * N + x] = if n > 0.0 {
                (sum as f64 / 1000.0 / n) as f32
            } else {
                0.0
            };
        }
    }
    grey
}

/// For each of the [`GREY_SIDE`] cells along one axis of a box starting at
/// `start` and `len` long, the source pixels `[from, to)` under it: from
/// the one holding the cell's start up to the last starting before its
/// end, inside `0..limit`.
fn cell_ranges(start: f32, len: f32, limit: u32) -> Vec<(usize, usize)> {
    let n = GREY_SIDE as f32;
    (0..GREY_SIDE)
        .map(|i| {
            let from = start + len * i as f32 / n;
            let to = from + len / n;
            let lo = (from.floor().max(0.0) as usize).min(limit as usize);
            let hi = (to.ceil().max(0.0) as usize).min(limit as usize);
            (lo, hi.max(lo))
        })
        .collect()
}

/// Sharpness: the variance of the 4-neighbour Laplacian over the grey
/// face crop.
fn laplacian_variance(grey: &[f32]) -> f32 {
    const N: usize = GREY_SIDE;
    let mut values = Vec::with_capacity((N - 2) * (N - 2));
    for y in 1..N - 1 {
        for x in 1..N - 1 {
            let c = grey[y * N + x];
            values.push(
                grey[(y - 1) * N + x]
                    + grey[(y + 1) * N + x]
                    + grey[y * N + x - 1]
                    + grey[y * N + x + 1]
                    - 4.0 * c,
            );
        }
    }
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / values.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::BBox;

    fn face(landmarks: [[f32; 2]; 5]) -> Face {
        Face {
            bbox: BBox {
                x1: 0.0,
                y1: 0.0,
                x2: 100.0,
                y2: 120.0,
            },
            score: 0.9,
            landmarks,
        }
    }

    const FRONTAL: [[f32; 2]; 5] = [
        [30.0, 45.0],
        [70.0, 45.0],
        [50.0, 70.0],
        [35.0, 92.0],
        [65.0, 92.0],
    ];

    /// A 100×120 face-sized patch: a checkerboard over a shading
    /// gradient (sharp, many tones) or flat grey.
    fn image(sharp: bool) -> RgbImage {
        RgbImage::from_fn(100, 120, |x, y| {
            let v = if sharp {
                let checker = if (x / 4 + y / 4) % 2 == 0 { 100 } else { 0 };
                30 + (x + y) / 2 + checker
            } else {
                60
            };
            image::Rgb([v as u8; 3])
        })
    }

    #[test]
    fn each_gate_refuses_with_its_reason() {
        let gate = QualityGate::default();
        gate.check(&image(true), &face(FRONTAL)).unwrap();

        let mut small = face(FRONTAL);
        small.bbox.x2 = 30.0;
        assert!(matches!(
            gate.check(&image(true), &small),
            Err(Refusal::TooSmall { .. })
        ));

        let mut weak = face(FRONTAL);
        weak.score = 0.5;
        let err = gate.check(&image(true), &weak).unwrap_err();
        assert_eq!(err.to_string(), "low detector score (0.500 < 0.8)");

        let mut upside_down = FRONTAL;
        upside_down.swap(2, 3);
        assert!(matches!(
            gate.check(&image(true), &face(upside_down)),
            Err(Refusal::Landmarks { .. })
        ));

        let mut profile = FRONTAL;
        profile[2] = [76.0, 70.0]; // the nose past the right eye
        let err = gate.check(&image(true), &face(profile)).unwrap_err();
        assert!(
            matches!(err, Refusal::Pose { yaw, .. } if yaw > 0.6),
            "{err}"
        );

        let err = gate.check(&image(false), &face(FRONTAL)).unwrap_err();
        assert!(
            matches!(err, Refusal::Blurred { sharpness, .. } if sharpness < 1.0),
            "{err}"
        );

        // Paper with a few ink lines: sharp, but one tone.
        let drawing = RgbImage::from_fn(100, 120, |x, y| {
            let ink = x % 25 < 3 || y % 30 < 3;
            image::Rgb([if ink { 20 } else { 235 }; 3])
        });
        let err = gate.check(&drawing, &face(FRONTAL)).unwrap_err();
        assert!(
            matches!(err, Refusal::FlatTone { share, .. } if share > 0.6),
            "{err}"
        );
        assert_eq!(err.reason(), "flat_tone");
        assert!(
            err.to_string().starts_with("not a photographed face"),
            "{err}"
        );
    }

    #[test]
    fn pose_is_zero_for_a_frontal_face_and_signed_when_turned() {
        let (yaw, roll) = pose(&face(FRONTAL));
        assert!(yaw.abs() < 1e-6 && roll.abs() < 1e-6);
        let mut turned = FRONTAL;
        turned[2][0] = 40.0;
        assert!((pose(&face(turned)).0 + 0.25).abs() < 1e-6);
    }
}
