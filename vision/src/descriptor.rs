//! The face descriptor and the one definition of "same person".

use serde::{Deserialize, Serialize};

pub const DESCRIPTOR_LEN: usize = 128;

/// Euclidean distance below which two descriptors are the same person.
///
/// dlib's ResNet was trained so that 0.6 separates people (99.38% on LFW);
/// on the project's labelled photos MTCNN-aligned chips put every
/// same-person pair below 0.6 and every different pair above it. Index
/// search, training outlier checks and `faces compare` all use this value.
pub const MATCH_THRESHOLD: f32 = 0.6;

/// A 128-d descriptor from the dlib ResNet (not L2-normalised; norms are
/// about 1.4–1.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Descriptor(pub Vec<f32>);

impl Descriptor {
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn distance(&self, other: &Descriptor) -> f32 {
        distance(&self.0, &other.0)
    }
}

/// Euclidean distance between two descriptors.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
