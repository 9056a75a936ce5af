//! What a face detector answers, and the trait every detector implements.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::error::VisionResult;

/// A box in image pixels (x right, y down).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// One detected face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    pub bbox: BBox,
    /// Detector confidence in [0, 1].
    pub score: f32,
    /// Left eye (image-left), right eye, nose, mouth left, mouth right; `[x, y]`.
    pub landmarks: [[f32; 2]; 5],
}

/// YuNet's default score threshold (see `facerecd eval` for how it was
/// chosen).
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.7;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorConfig {
    /// Smallest face to find, in pixels (the side of its box). Larger is faster.
    pub min_face: f32,
    /// YuNet: the score a face needs to be reported, in [0, 1].
    pub score_threshold: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            min_face: 20.0,
            score_threshold: DEFAULT_SCORE_THRESHOLD,
        }
    }
}

impl DetectorConfig {
    /// This config for an image whose longer side is `longest`, with the
    /// detector's input held to `max_side` pixels (0: no cap): the
    /// smallest face looked for grows instead (detection cost grows with
    /// pixels, and faces big enough to recognise survive the shrink).
    /// YuNet shrinks the image itself in one area-averaging pass, so no
    /// shrunk copy is needed.
    pub fn within(&self, longest: u32, max_side: u32) -> Self {
        if max_side == 0 || longest <= max_side {
            return *self;
        }
        let smallest_for_side = SMALLEST_FACE * longest as f32 / max_side as f32;
        Self {
            min_face: self.min_face.max(smallest_for_side),
            ..*self
        }
    }
}

/// The smallest face, in network-input pixels, that the detector (YuNet)
/// finds reliably (its finest stride is 8; faces of 2.5 cells are still
/// found). Defined here, with the configuration it bounds, so that the
/// detector's own module imports this one and not the reverse.
pub const SMALLEST_FACE: f32 = 20.0;

/// Finds every face in an image.
pub trait Detector: Send + Sync {
    fn detect(&self, image: &RgbImage, config: &DetectorConfig) -> VisionResult<Vec<Face>>;
}
