//! Model packs: a named, versioned recipe for turning a photo into
//! descriptors — detector, chip, embedder, how descriptors compare and
//! where "same person" ends.
//!
//! Descriptors of two packs live in different spaces: a dlib descriptor
//! next to an SFace one means nothing. Every stored descriptor, index dump,
//! batch and device state names the pack that made it, and nothing compares
//! descriptors of two packs.
//!
//! All descriptors are compared by Euclidean distance: a cosine pack's
//! descriptors are L2-normalised when they are made, so that
//! `distance = √(2 − 2·cos)` and one index type and one threshold test
//! serve every pack. [`ModelPack::match_distance`] is the threshold in that
//! space; [`ModelPack::threshold`] is the one a user reads, in the pack's
//! own metric.

use serde::Serialize;

use crate::align::ChipKind;
use crate::error::{VisionError, VisionResult};
use crate::models::{EMBEDDER, SFACE};

/// How a pack's own literature compares descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Euclidean distance; the same person below the threshold.
    Euclidean,
    /// Cosine similarity; the same person at or above the threshold.
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// YuNet 2023mar (`yunet_2023mar_fp32.onnx`).
    Yunet,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct ModelPack {
    /// `{family}-v{n}`; a new calibration or model is a new version.
    pub name: &'static str,
    pub detector: DetectorKind,
    pub chip: ChipKind,
    /// The embedder's file in the models folder.
    pub embedder: &'static str,
    pub metric: Metric,
    /// Same person: Euclidean distance below it, or cosine similarity at
    /// or above it (calibrated with `facerecd eval`; see README).
    pub threshold: f32,
}

/// dlib's ResNet v1 on dlib's 150×150 chip: fast (5 ms a face on one core)
/// but names more strangers.
pub const DLIB_V1: ModelPack = ModelPack {
    name: "dlib-v1",
    detector: DetectorKind::Yunet,
    chip: ChipKind::Dlib150,
    embedder: EMBEDDER,
    metric: Metric::Euclidean,
    threshold: 0.6,
};

/// SFace (OpenCV Zoo 2021dec) on the ArcFace 112×112 chip. OpenCV
/// documents cos ≥ 0.363; on 342 labelled photos of 55 people (`facerecd
/// eval`, README) that named 5.3% of strangers, while 0.45 names 0.6% and
/// still names 98.4% of enrolled probes.
pub const SFACE_V1: ModelPack = ModelPack {
    name: "sface-v1",
    detector: DetectorKind::Yunet,
    chip: ChipKind::Arcface112,
    embedder: SFACE,
    metric: Metric::Cosine,
    threshold: 0.45,
};

/// Every pack this build can run.
pub const PACKS: [&ModelPack; 2] = [&DLIB_V1, &SFACE_V1];

/// The pack a new domain gets when none is named: `facerecd eval` shows it
/// names 0.3% of strangers where dlib-v1 names 8% (README).
pub const DEFAULT_PACK: &ModelPack = &SFACE_V1;

impl ModelPack {
    /// The pack called `name`.
    pub fn named(name: &str) -> VisionResult<&'static ModelPack> {
        PACKS
            .iter()
            .copied()
            .find(|p| p.name == name)
            .ok_or_else(|| VisionError::UnknownPack {
                name: name.to_string(),
                known: PACKS.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            })
    }

    /// Euclidean distance between this pack's descriptors below which two
    /// faces are the same person.
    pub fn match_distance(&self) -> f32 {
        match self.metric {
            Metric::Euclidean => self.threshold,
            Metric::Cosine => self.distance_for(self.threshold),
        }
    }

    /// Whether this pack's descriptors are L2-normalised.
    pub fn normalised(&self) -> bool {
        self.metric == Metric::Cosine
    }

    /// A Euclidean distance between descriptors, in the pack's own metric
    /// (for people reading reports: a cosine pack reports a similarity).
    pub fn score_of(&self, distance: f32) -> f32 {
        match self.metric {
            Metric::Euclidean => distance,
            Metric::Cosine => 1.0 - distance * distance / 2.0,
        }
    }

    /// The Euclidean distance matching a score in the pack's own metric.
    pub fn distance_for(&self, score: f32) -> f32 {
        match self.metric {
            Metric::Euclidean => score,
            Metric::Cosine => (2.0 - 2.0 * score).max(0.0).sqrt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosine_threshold_is_the_same_test_in_euclidean_space() {
        let d = SFACE_V1.match_distance();
        assert!((d - (2.0f32 * (1.0 - 0.45)).sqrt()).abs() < 1e-6);
        assert!((SFACE_V1.score_of(d) - 0.45).abs() < 1e-6);
        assert_eq!(DLIB_V1.match_distance(), 0.6);
        assert_eq!(DLIB_V1.score_of(0.42), 0.42);
    }

    #[test]
    fn packs_are_found_by_name_and_unknown_names_are_refused() {
        assert_eq!(ModelPack::named("sface-v1").unwrap().name, "sface-v1");
        let err = ModelPack::named("arcface-v9").unwrap_err().to_string();
        assert!(
            err.contains("arcface-v9") && err.contains("dlib-v1, sface-v1"),
            "{err}"
        );
    }
}
