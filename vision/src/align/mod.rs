//! Cutting the aligned face chip an embedder expects, from a face's five
//! landmarks. Each model pack names its chip ([`ChipKind`]): dlib's
//! 150×150 `get_face_chip` geometry or the 112×112 ArcFace template.
//!
//! Both sample the image bilinearly through a similarity transform; when
//! the face is much larger than the chip, the region is first halved while
//! the scale exceeds 2 (as dlib does), since sampling without it aliases
//! and costs accuracy.

mod arcface;
mod dlib;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detect::Face;

pub use arcface::ARCFACE_CHIP_SIZE;
pub use dlib::{CHIP_SIZE, align_face};

/// Which chip an embedder is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChipKind {
    /// dlib's `get_face_chip(img, shape5, 150, 0.25)`.
    Dlib150,
    /// The 5-point ArcFace template at 112×112 (InsightFace, SFace).
    Arcface112,
}

impl ChipKind {
    pub fn size(self) -> u32 {
        match self {
            Self::Dlib150 => CHIP_SIZE,
            Self::Arcface112 => ARCFACE_CHIP_SIZE,
        }
    }

    /// Cuts the chip of `face` from `img`.
    pub fn cut(self, img: &RgbImage, face: &Face) -> RgbImage {
        match self {
            Self::Dlib150 => align_face(img, face),
            Self::Arcface112 => arcface::align(img, face),
        }
    }
}

/// Fills a `size × size` chip, chip pixel `(cx, cy)` taken from image point
/// `map(cx, cy)`; `scale` is image pixels per chip pixel.
pub(super) fn sample_chip(
    img: &RgbImage,
    size: u32,
    scale: f64,
    map: impl Fn(f64, f64) -> [f64; 2],
) -> RgbImage {
    let last = f64::from(size) - 1.0;
    // Only the chip's footprint (plus a margin for the filters) is read.
    let corners = [
        map(0.0, 0.0),
        map(last, 0.0),
        map(0.0, last),
        map(last, last),
    ];
    let margin = 2.0 * scale.max(1.0) + 2.0;
    let (mut minx, mut maxx) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut miny, mut maxy) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in corners {
        minx = minx.min(p[0]);
        maxx = maxx.max(p[0]);
        miny = miny.min(p[1]);
        maxy = maxy.max(p[1]);
    }
    let mut region = Region::cut(
        img,
        minx - margin,
        miny - margin,
        maxx + margin,
        maxy + margin,
    );
    let mut step_scale = scale;
    while step_scale > 2.0 && region.width >= 4 && region.height >= 4 {
        region = region.halve();
        step_scale /= 2.0;
    }
    let mut chip = RgbImage::new(size, size);
    if region.width == 0 || region.height == 0 {
        return chip;
    }
    for (cx, cy, px) in chip.enumerate_pixels_mut() {
        let p = map(f64::from(cx), f64::from(cy));
        region.sample(p[0], p[1], &mut px.0);
    }
    chip
}

/// A working region of the image in f32, with its offset and pixel size in
/// original-image units (after halvings).
pub(super) struct Region {
    x0: f64,
    y0: f64,
    step: f64,
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl Region {
    /// The part of `img` covering `[x0, x1) × [y0, y1)` (clamped), as f32.
    pub(super) fn cut(img: &RgbImage, x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
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
    pub(super) fn halve(&self) -> Self {
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
    pub(super) fn sample(&self, x: f64, y: f64, out: &mut [u8]) {
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
