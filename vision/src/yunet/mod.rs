//! YuNet (OpenCV Zoo, 2023mar): a small anchor-free face detector whose
//! cost depends on the pixels it is given, not on how many faces they hold.
//!
//! Contract (models/README.md): input `[1, 3, H, W]`, BGR, raw 0..255, H and
//! W multiples of 32; for each stride 8, 16, 32 a class score, an
//! objectness, a box and five landmarks per cell. Decoding and NMS are
//! OpenCV `FaceDetectorYN`'s ([`decode`]).
//!
//! The image is shrunk before detection so that the smallest face wanted is
//! [`SMALLEST_FACE`] pixels in the network input: a 640×480 frame with
//! `min_face` 40 runs as 320×240 (padded to 320×256), a quarter of the work.

mod decode;

use image::RgbImage;

use crate::detect::{Detector, DetectorConfig, Face};
use crate::error::VisionResult;
use crate::models::{ModelFiles, YUNET};
use crate::net::Net;
use crate::resize::{Planar, resize_rgb8};

pub use crate::detect::SMALLEST_FACE;

/// Longest side of the network input: a 24 MP photo is not worth 2 s of
/// detection; its smallest findable face grows instead.
pub const MAX_INPUT_SIDE: u32 = 1280;

/// Overlap above which the weaker of two boxes is dropped (OpenCV's 0.3).
const NMS_IOU: f32 = 0.3;

pub struct YuNetDetector {
    net: Net,
}

impl YuNetDetector {
    pub fn load(files: &ModelFiles) -> VisionResult<Self> {
        Ok(Self {
            net: Net::load("yunet", &files.read(YUNET)?, &[])?,
        })
    }

    /// The factor the image is shrunk by before detection (≤ 1).
    pub fn input_scale(width: u32, height: u32, config: &DetectorConfig) -> f32 {
        let for_min_face = SMALLEST_FACE / config.min_face.max(1.0);
        let for_size = MAX_INPUT_SIDE as f32 / width.max(height).max(1) as f32;
        for_min_face.min(for_size).min(1.0)
    }

    /// Runs the network on an image already at network scale (any size; it
    /// is padded with black up to multiples of 32) and decodes every face
    /// scoring at least `threshold`, in that image's pixels, after NMS.
    pub(crate) fn detect_at_input_scale(
        &self,
        image: &Planar,
        threshold: f32,
    ) -> VisionResult<Vec<Face>> {
        let (w, h) = (image.width, image.height);
        let (pw, ph) = (w.div_ceil(32) * 32, h.div_ceil(32) * 32);
        let plane = pw * ph;
        // NCHW, BGR, raw 0..255; the padding stays 0 as OpenCV pads.
        let mut input = vec![0.0f32; 3 * plane];
        for y in 0..h {
            for x in 0..w {
                let px = image.px(x, y);
                let at = y * pw + x;
                input[at] = px[2];
                input[plane + at] = px[1];
                input[2 * plane + at] = px[0];
            }
        }
        let outputs = self.net.run([1, 3, ph, pw], &input)?;
        let mut faces = Vec::new();
        for (i, &stride) in decode::STRIDES.iter().enumerate() {
            let stride_outputs = decode::StrideOutputs {
                stride,
                cols: pw / stride,
                cls: &outputs[i],
                obj: &outputs[3 + i],
                bbox: &outputs[6 + i],
                kps: &outputs[9 + i],
            };
            decode::decode(&stride_outputs, threshold, &mut faces);
        }
        Ok(decode::nms(faces, NMS_IOU))
    }
}

impl Detector for YuNetDetector {
    fn detect(&self, image: &RgbImage, config: &DetectorConfig) -> VisionResult<Vec<Face>> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let scale = Self::input_scale(w, h, config);
        let iw = ((w as f32 * scale).round() as usize).max(1);
        let ih = ((h as f32 * scale).round() as usize).max(1);
        let input = resize_rgb8(image, iw, ih);
        let (sx, sy) = (w as f32 / iw as f32, h as f32 / ih as f32);
        let mut faces = self.detect_at_input_scale(&input, config.score_threshold)?;
        for f in &mut faces {
            f.bbox.x1 *= sx;
            f.bbox.x2 *= sx;
            f.bbox.y1 *= sy;
            f.bbox.y2 *= sy;
            for p in &mut f.landmarks {
                p[0] *= sx;
                p[1] *= sy;
            }
        }
        faces.retain(|f| f.bbox.width().max(f.bbox.height()) >= config.min_face);
        Ok(faces)
    }
}

#[cfg(test)]
mod tests;
