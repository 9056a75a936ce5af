//! [`FaceEngine`]: one model pack's detector, chip and embedder, loaded
//! once and shared.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

use crate::descriptor::Descriptor;
use crate::detect::{Detector, DetectorConfig, Face};
use crate::embed::{Embedder, OnnxEmbedder};
use crate::error::VisionResult;
use crate::models::ModelFiles;
use crate::pack::{DEFAULT_PACK, DetectorKind, ModelPack};
use crate::yunet::YuNetDetector;

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
    pub pack: &'static ModelPack,
}

impl FaceEngine {
    /// Loads the default pack's models from `files`.
    pub fn load(files: &ModelFiles) -> VisionResult<Self> {
        Self::load_pack(files, DEFAULT_PACK)
    }

    /// Loads, verifies and optimises `pack`'s models from `files`.
    pub fn load_pack(files: &ModelFiles, pack: &'static ModelPack) -> VisionResult<Self> {
        Ok(Self {
            detector: load_detector(files, pack.detector)?,
            embedder: load_embedder(files, pack)?,
            pack,
        })
    }

    pub fn detect(&self, image: &RgbImage, config: &DetectorConfig) -> VisionResult<Vec<Face>> {
        self.detector.detect(image, config)
    }

    /// The pack's aligned chip of `face`.
    pub fn align(&self, image: &RgbImage, face: &Face) -> RgbImage {
        self.pack.chip.cut(image, face)
    }

    pub fn embed_face(&self, image: &RgbImage, face: &Face) -> VisionResult<Descriptor> {
        self.embedder.embed(&self.align(image, face))
    }

    /// Detects with the detector's input at most `max_side` pixels on its
    /// longer side ([`DetectorConfig::within`]); boxes and landmarks are in
    /// `image`'s pixels.
    pub fn detect_within(
        &self,
        image: &RgbImage,
        config: &DetectorConfig,
        max_side: u32,
    ) -> VisionResult<Vec<Face>> {
        let longest = image.width().max(image.height());
        self.detect(image, &config.within(longest, max_side))
    }

    /// Detects every face and embeds each one.
    pub fn analyze(
        &self,
        image: &RgbImage,
        config: &DetectorConfig,
    ) -> VisionResult<Vec<AnalyzedFace>> {
        let faces = self.detect(image, config)?;
        self.embed_all(image, faces)
    }

    fn embed_all(&self, image: &RgbImage, faces: Vec<Face>) -> VisionResult<Vec<AnalyzedFace>> {
        faces
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

fn load_detector(files: &ModelFiles, kind: DetectorKind) -> VisionResult<Arc<dyn Detector>> {
    Ok(match kind {
        DetectorKind::Yunet => Arc::new(YuNetDetector::load(files)?),
    })
}

fn load_embedder(files: &ModelFiles, pack: &'static ModelPack) -> VisionResult<Arc<dyn Embedder>> {
    Ok(Arc::new(OnnxEmbedder::load(
        files,
        pack.name,
        pack.embedder,
        pack.chip.size(),
        pack.normalised(),
    )?))
}

/// The engines of every pack a node may need, each loaded on first use
/// (a hub may never process a photo, an edge may serve one pack only) and
/// sharing one detector, since every pack detects with YuNet.
pub struct Engines {
    files: ModelFiles,
    detector: std::sync::OnceLock<Arc<dyn Detector>>,
    loaded: std::sync::Mutex<std::collections::HashMap<&'static str, FaceEngine>>,
}

impl Engines {
    pub fn new(files: ModelFiles) -> Self {
        Self {
            files,
            detector: Default::default(),
            loaded: Default::default(),
        }
    }

    /// The shared detector, loading it the first time (blocking); no
    /// embedder is loaded for work that only detects.
    pub fn detector(&self) -> VisionResult<Arc<dyn Detector>> {
        if let Some(d) = self.detector.get() {
            return Ok(d.clone());
        }
        let d = load_detector(&self.files, DetectorKind::Yunet)?;
        Ok(self.detector.get_or_init(|| d).clone())
    }

    /// `pack`'s engine, loading its models the first time (blocking).
    pub fn get(&self, pack: &'static ModelPack) -> VisionResult<FaceEngine> {
        if let Some(e) = self.loaded.lock().expect("engines lock").get(pack.name) {
            return Ok(e.clone());
        }
        let engine = FaceEngine {
            detector: self.detector()?,
            embedder: load_embedder(&self.files, pack)?,
            pack,
        };
        Ok(self
            .loaded
            .lock()
            .expect("engines lock")
            .entry(pack.name)
            .or_insert(engine)
            .clone())
    }

    /// The engine of the pack called `name`.
    pub fn named(&self, name: &str) -> VisionResult<FaceEngine> {
        self.get(ModelPack::named(name)?)
    }
}
