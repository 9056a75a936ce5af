//! Cutting the 150×150 face chip dlib's ResNet expects, as dlib's
//! `get_face_chip(img, shape5, size=150, padding=0.25)` does.
//!
//! dlib fits a similarity `T` from its 5-point template (in chip units) to
//! the detected landmarks, then maps chip pixel `c` to the image point
//! `C + R·k·(c − 74.5)` with `C = T(75, 75)`, `R` and `s` the rotation and
//! scale of `T`, and `k = (150·s − 1)/149`. When the face is much larger
//! than the chip it first halves the image while the scale exceeds 2, then
//! samples bilinearly; skipping that would alias and cost accuracy.

use image::RgbImage;

use super::sample_chip;
use crate::detect::Face;
use crate::geometry::Similarity;

pub const CHIP_SIZE: u32 = 150;

/// dlib's 5-point template, in chip pixels for size 150 and padding 0.25:
/// left eye, right eye, nose, mouth left, mouth right.
const TEMPLATE: [[f64; 2]; 5] = [
    [47.5492, 46.599],
    [100.4761, 46.599],
    [74.0127, 76.5625],
    [50.4149, 103.0233],
    [97.6104, 103.0233],
];

/// Cuts the aligned 150×150 chip of `face` from `img`.
pub fn align_face(img: &RgbImage, face: &Face) -> RgbImage {
    let to: Vec<[f64; 2]> = face
        .landmarks
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let t = Similarity::fit(&TEMPLATE, &to);
    let size = f64::from(CHIP_SIZE);
    let centre = t.apply([size / 2.0, size / 2.0]);
    let scale = t.scale();
    let k = (size * scale - 1.0) / (size - 1.0);
    let (cos, sin) = (t.angle().cos(), t.angle().sin());
    let half = (size - 1.0) / 2.0;
    let map = |cx: f64, cy: f64| {
        let (dx, dy) = ((cx - half) * k, (cy - half) * k);
        [
            centre[0] + cos * dx - sin * dy,
            centre[1] + sin * dx + cos * dy,
        ]
    };

    sample_chip(img, CHIP_SIZE, scale, map)
}
