//! [`FaceEngine`]: detector + aligner + embedder, loaded once and shared.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use crate::align::align_face;
use crate::descriptor::Descriptor;
use crate::detect::{Detector, DetectorConfig, Face};
use crate::embed::{DlibEmbedder, Embedder};
use crate::error::VisionResult;
use crate::models::ModelFiles;
use crate::mtcnn::MtcnnDetector;

/// A detected face with its descriptor.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzedFace {
    #[serde(flatten)]
    pub face: Face,
    pub descriptor: Descriptor,
}

/// Cheap to clone; safe to use from many threads at once.
#[derive(Clone)]
pub struct FaceEngine {
    pub detector: Arc<dyn Detector>,
    pub embedder: Arc<dyn Embedder>,
}

impl FaceEngine {
    /// Loads, verifies and optimises the models in `files`.
    pub fn load(files: &ModelFiles) -> VisionResult<Self> {
        Ok(Self {
            detector: Arc::new(MtcnnDetector::load(files)?),
            embedder: Arc::new(DlibEmbedder::load(files)?),
        })
    }

    pub fn detect(&self, image: &RgbImage, config: &DetectorConfig) -> VisionResult<Vec<Face>> {
        self.detector.detect(image, config)
    }

    pub fn embed_face(&self, image: &RgbImage, face: &Face) -> VisionResult<Descriptor> {
        self.embedder.embed(&align_face(image, face))
    }

    /// Detects every face and embeds each one.
    pub fn analyze(
        &self,
        image: &RgbImage,
        config: &DetectorConfig,
    ) -> VisionResult<Vec<AnalyzedFace>> {
        self.detect(image, config)?
            .into_iter()
            .map(|face| {
                Ok(AnalyzedFace {
                    descriptor: self.embed_face(image, &face)?,
                    face,
                })
            })
            .collect()
    }
}
