//! Cutting the 150×150 face chip the embedder expects, as dlib's
//! `get_face_chip(img, shape5, size=150, padding=0.25)` does.
//!
//! dlib fits a similarity `T` from its 5-point template (in chip units) to
//! the detected landmarks, then maps chip pixel `c` to the image point
//! `C + R·k·(c − 74.5)` with `C = T(75, 75)`, `R` and `s` the rotation and
//! scale of `T`, and `k = (150·s − 1)/149`. When the face is much larger
//! than the chip it first halves the image while the scale exceeds 2, then
//! samples bilinearly; skipping that would alias and cost accuracy.

use image::RgbImage;

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

/// A working region of the image in f32, with its offset and pixel size in
/// original-image units (after halvings).
struct Region {
    x0: f64,
    y0: f64,
    step: f64,
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl Region {
    /// The part of `img` covering `[x0, x1) × [y0, y1)` (clamped), as f32.
    fn cut(img: &RgbImage, x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        let (iw, ih) = (img.width() as i64, img.height() as i64);
        let cx0 = (x0.floor() as i64).clamp(0, iw);
        let cy0 = (y0.floor() as i64).clamp(0, ih);
        let cx1 = (x1.ceil() as i64).clamp(0, iw);
        let cy1 = (y1.ceil() as i64).clamp(0, ih);
        let (w, h) = ((cx1 - cx0).max(0) as usize, (cy1 - cy0).max(0) as usize);
        let mut data = Vec::with_capacity(w * h * 3);
        let raw = img.as_raw();
        for y in cy0..cy1 {
            let start = ((y * iw + cx0) * 3) as usize;
            data.extend(raw[start..start + w * 3].iter().map(|&v| f32::from(v)));
        }
        Self {
            x0: cx0 as f64,
            y0: cy0 as f64,
            step: 1.0,
            width: w,
            height: h,
            data,
        }
    }

    /// Halves the region with a 2×2 box filter.
    fn halve(&self) -> Self {
        let (w, h) = (self.width / 2, self.height / 2);
        let mut data = vec![0.0f32; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let at = |xx: usize, yy: usize| self.data[(yy * self.width + xx) * 3 + c];
                    data[(y * w + x) * 3 + c] = 0.25
                        * (at(2 * x, 2 * y)
                            + at(2 * x + 1, 2 * y)
                            + at(2 * x, 2 * y + 1)
                            + at(2 * x + 1, 2 * y + 1));
                }
            }
        }
        // Pixel x' of the halved region is centred on 2x' + 0.5 of the old one.
        Self {
            x0: self.x0 + 0.5 * self.step,
            y0: self.y0 + 0.5 * self.step,
            step: self.step * 2.0,
            width: w,
            height: h,
            data,
        }
    }

    /// Bilinear sample at image point `(x, y)`; zero outside, as dlib.
    fn sample(&self, x: f64, y: f64, out: &mut [u8]) {
        let fx = (x - self.x0) / self.step;
        let fy = (y - self.y0) / self.step;
        if !(fx >= 0.0
            && fy >= 0.0
            && fx <= (self.width as f64 - 1.0)
            && fy <= (self.height as f64 - 1.0))
        {
            out.fill(0);
            return;
        }
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (ax, ay) = ((fx - x0 as f64) as f32, (fy - y0 as f64) as f32);
        for (c, channel) in out.iter_mut().enumerate() {
            let p = |xx: usize, yy: usize| self.data[(yy * self.width + xx) * 3 + c];
            let top = p(x0, y0) * (1.0 - ax) + p(x1, y0) * ax;
            let bottom = p(x0, y1) * (1.0 - ax) + p(x1, y1) * ax;
            *channel = (top * (1.0 - ay) + bottom * ay).round().clamp(0.0, 255.0) as u8;
        }
    }
}

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

    // Only the chip's footprint (plus a margin for the filters) is read.
    let corners = [
        map(0.0, 0.0),
        map(size - 1.0, 0.0),
        map(0.0, size - 1.0),
        map(size - 1.0, size - 1.0),
    ];
    let margin = 2.0 * scale.max(1.0) + 2.0;
    let minx = corners.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min) - margin;
    let maxx = corners
        .iter()
        .map(|p| p[0])
        .fold(f64::NEG_INFINITY, f64::max)
        + margin;
    let miny = corners.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min) - margin;
    let maxy = corners
        .iter()
        .map(|p| p[1])
        .fold(f64::NEG_INFINITY, f64::max)
        + margin;
    let mut region = Region::cut(img, minx, miny, maxx, maxy);
    let mut step_scale = scale;
    while step_scale > 2.0 && region.width >= 4 && region.height >= 4 {
        region = region.halve();
        step_scale /= 2.0;
    }

    let mut chip = RgbImage::new(CHIP_SIZE, CHIP_SIZE);
    if region.width == 0 || region.height == 0 {
        return chip;
    }
    for (cx, cy, px) in chip.enumerate_pixels_mut() {
        let p = map(f64::from(cx), f64::from(cy));
        region.sample(p[0], p[1], &mut px.0);
    }
    chip
}
