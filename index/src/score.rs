//! How a distance becomes a decision and a confidence — defined here only.

use serde::{Deserialize, Serialize};

/// Search knobs. `threshold` is the vision crate's `MATCH_THRESHOLD`; the
/// daemon passes it in so that one constant decides "same person".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// Euclidean distance below which the best hit is a match.
    pub threshold: f32,
    /// Nearest embeddings fetched per domain before grouping by person.
    pub k: usize,
    /// HNSW search breadth (higher: better recall, slower).
    pub ef: usize,
    /// The breadth on a graph of more than [`LARGE_GRAPH`] points, when
    /// larger than `ef` (0: `ef` everywhere). README's index table: at a
    /// million points ef 64 finds the nearest person 98.6% of the time,
    /// 96 finds it 99.4% with p99 0.47 ms.
    #[serde(default)]
    pub ef_large: usize,
}

/// Points past which a graph is searched with [`SearchParams::ef_large`].
pub const LARGE_GRAPH: usize = 250_000;

impl SearchParams {
    pub fn with_threshold(threshold: f32) -> Self {
        Self {
            threshold,
            k: 10,
            ef: 64,
            ef_large: 96,
        }
    }

    /// The breadth for a graph of `points`.
    pub fn ef_for(&self, points: usize) -> usize {
        if points > LARGE_GRAPH {
            self.ef.max(self.ef_large)
        } else {
            self.ef
        }
    }
}

/// Confidence in [0, 1] that a hit at `distance` is the person:
/// a logistic curve centred on the threshold, `1 / (1 + e^((d − t) / w))`
/// with `w = t / 12`. At the threshold it is 0.5; for dlib's 0.6 (w 0.05),
/// 0.1 below it is 0.88, 0.2 below 0.98, 0.1 above 0.12 — as sharply as
/// dlib's same-person and different-person distances separate. The width
/// scales with the threshold so that a pack with another distance scale
/// (SFace's 1.05) reads the same.
pub fn confidence(distance: f32, threshold: f32) -> f32 {
    1.0 / (1.0 + ((distance - threshold) / (threshold / 12.0)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_graph_is_searched_wider_unless_a_breadth_was_set() {
        let default = SearchParams::with_threshold(0.6);
        assert_eq!(default.ef_for(75_000), 64);
        assert_eq!(default.ef_for(1_000_000), 96);
        let set = SearchParams {
            ef: 40,
            ef_large: 0,
            ..default
        };
        assert_eq!(set.ef_for(1_000_000), 40);
    }

    #[test]
    fn confidence_is_half_at_the_threshold_and_monotone() {
        assert!((confidence(0.6, 0.6) - 0.5).abs() < 1e-6);
        assert!(confidence(0.4, 0.6) > 0.95);
        assert!(confidence(0.8, 0.6) < 0.05);
        let mut last = 1.0;
        for i in 0..100 {
            let c = confidence(i as f32 * 0.02, 0.6);
            assert!((0.0..=1.0).contains(&c) && c <= last);
            last = c;
        }
    }
}
