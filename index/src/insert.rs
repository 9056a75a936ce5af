//! Adding points to a [`QueryGraph`]: HNSW insertion (Malkov & Yashunin,
//! algorithms 1, 2 and 4) on the compact layout, for deltas. Whole graphs
//! are built by hnsw_rs on all cores instead; a delta of a few hundred
//! points is inserted here, one point at a time, without hnsw_rs's
//! structures ever being kept in memory.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::DistL2;

use crate::graph::{Dist, M, M0, MAX_LAYERS, QueryGraph, Visited};

/// Breadth of the search that finds a new point's neighbours (as the
/// whole-graph builds use).
pub(crate) const EF_CONSTRUCTION: usize = 200;

/// The layer a point reaches: geometric with ratio 1/M, as HNSW draws it,
/// but drawn from the point's id so that a rebuild draws the same.
pub(crate) fn level_of(id: u32) -> usize {
    // splitmix64 of the id: a uniform u in (0, 1].
    let mut z = (id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    ((-u.ln() / (M as f64).ln()) as usize).min(MAX_LAYERS - 1)
}

impl QueryGraph {
    /// Adds `vector` as point `len()`, linked into every layer it reaches.
    pub fn insert(&mut self, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        let id = self.len() as u32;
        let level = level_of(id);
        self.vectors.push(vector);
        self.links0.extend(std::iter::repeat_n(0, M0));
        self.degree0.push(0);
        if level > 0 {
            self.upper.insert(id, vec![Vec::new(); level]);
        }
        let Some((_, top)) = self.entry else {
            self.entry = Some((id, level));
            return;
        };
        let (start, start_d) = self
            .descend(vector, level.min(top))
            .expect("a graph with an entry point");
        let mut entries = vec![(start_d, start)];
        for layer in (0..=level.min(top)).rev() {
            let found = self.beam(vector, &entries, EF_CONSTRUCTION, layer);
            let chosen = self.select(&found, M);
            self.set_links(id, layer, &chosen);
            let cap = if layer == 0 { M0 } else { M };
            for &nb in &chosen {
                self.link_back(nb, id, layer, cap);
            }
            entries = found;
        }
        if level > top {
            self.entry = Some((id, level));
        }
    }

    /// The `ef` points closest to `query` on `layer` found from `entries`,
    /// closest first.
    fn beam(
        &self,
        query: &[f32],
        entries: &[(f32, u32)],
        ef: usize,
        layer: usize,
    ) -> Vec<(f32, u32)> {
        let mut visited = Visited::new(self.len());
        let mut frontier = BinaryHeap::new();
        let mut best: BinaryHeap<(Dist, u32)> = BinaryHeap::with_capacity(ef + 1);
        for &(d, e) in entries {
            if visited.insert(e) {
                frontier.push(Reverse((Dist(d), e)));
                best.push((Dist(d), e));
            }
        }
        while best.len() > ef {
            best.pop();
        }
        while let Some(Reverse((Dist(d), c))) = frontier.pop() {
            if best.len() >= ef && best.peek().is_some_and(|(far, _)| d > far.0) {
                break;
            }
            for &nb in self.links(c, layer) {
                if !visited.insert(nb) {
                    continue;
                }
                let d = self.distance(query, nb);
                if best.len() < ef {
                    best.push((Dist(d), nb));
                    frontier.push(Reverse((Dist(d), nb)));
                } else if let Some(mut far) = best.peek_mut()
                    && d < far.0.0
                {
                    *far = (Dist(d), nb);
                    drop(far);
                    frontier.push(Reverse((Dist(d), nb)));
                }
            }
        }
        let mut found: Vec<(f32, u32)> = best.into_iter().map(|(Dist(d), i)| (d, i)).collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        found
    }

    /// Up to `m` of `candidates` (closest first) to link to: a candidate
    /// closer to an already chosen one than to the new point is skipped,
    /// which keeps links pointing in different directions (the paper's
    /// heuristic); skipped ones fill the list up if too few remain.
    fn select(&self, candidates: &[(f32, u32)], m: usize) -> Vec<u32> {
        let mut chosen: Vec<u32> = Vec::with_capacity(m);
        let mut skipped: Vec<u32> = Vec::new();
        for &(d, c) in candidates {
            if chosen.len() >= m {
                break;
            }
            let v = self.vector(c);
            if chosen.iter().all(|&s| DistL2.eval(v, self.vector(s)) > d) {
                chosen.push(c);
            } else {
                skipped.push(c);
            }
        }
        for s in skipped {
            if chosen.len() >= m {
                break;
            }
            chosen.push(s);
        }
        chosen
    }

    /// Adds a link from `from` to `to` on `layer`, keeping the `cap`
    /// closest when the list is full (as hnsw_rs does).
    fn link_back(&mut self, from: u32, to: u32, layer: usize, cap: usize) {
        let mut links = self.links(from, layer).to_vec();
        if links.contains(&to) || !self.reaches(from, layer) {
            return;
        }
        links.push(to);
        if links.len() > cap {
            let origin = self.vector(from).to_vec();
            let mut by_distance: Vec<(f32, u32)> = links
                .iter()
                .map(|&l| (self.distance(&origin, l), l))
                .collect();
            by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
            links = by_distance.into_iter().take(cap).map(|(_, l)| l).collect();
        }
        self.set_links(from, layer, &links);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_geometric_with_ratio_one_in_m() {
        let n = 200_000u32;
        let above = |l: usize| (0..n).filter(|&i| level_of(i) >= l).count() as f64 / n as f64;
        assert!((above(1) - 1.0 / 16.0).abs() < 0.005, "{}", above(1));
        assert!((above(2) - 1.0 / 256.0).abs() < 0.001, "{}", above(2));
        assert_eq!(level_of(7), level_of(7));
    }
}
