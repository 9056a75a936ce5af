//! A domain's HNSW graph in one compact layout: what queries walk, what
//! deltas insert into (`insert.rs`) and what dumps write (`graph_file.rs`).
//!
//! hnsw_rs builds a whole graph on all cores; the graph is then copied
//! here and hnsw_rs's own structures are dropped. They cost about 2.7 KB
//! a point (a lock, a vector and an `Arc` per link, per point), and its
//! search spends ~0.3 µs of bookkeeping per point looked at — fifteen
//! times the distance itself. Here the vectors are in large chunks that a
//! grown copy shares (`vectors.rs`), layer-0 links one array of fixed-size
//! slots, and visited points a bit set: about 0.65 KB a 128-d point. Same
//! graph, same algorithm (greedy descent through the upper layers, then a
//! beam of width `ef` on layer 0).
//!
//! Removals only mark points dead, which the search skips in its results
//! but still walks through, so links stay useful.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::{DistL2, Hnsw};

use crate::vectors::Vectors;

/// Links a point keeps on layers 1 and up (hnsw_rs's `max_nb_connection`).
pub(crate) const M: usize = 16;
/// Links a point keeps on layer 0.
pub(crate) const M0: usize = 2 * M;
/// Layers a graph may have.
pub(crate) const MAX_LAYERS: usize = 16;

/// A neighbour found by [`QueryGraph::search`]: point id and Euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Nearest {
    pub id: usize,
    pub distance: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QueryGraph {
    pub(crate) dim: usize,
    /// Point `i`'s vector is `vectors.get(i)`.
    pub(crate) vectors: Vectors,
    /// Point `i`'s layer-0 links are `links0[i*M0 .. i*M0 + degree0[i]]`.
    pub(crate) links0: Vec<u32>,
    pub(crate) degree0: Vec<u8>,
    /// Links on layers 1.. of the few points that reach them:
    /// `upper[&i][l - 1]` are point `i`'s links on layer `l`.
    pub(crate) upper: HashMap<u32, Vec<Vec<u32>>>,
    /// A point on the top layer, and that layer.
    pub(crate) entry: Option<(u32, usize)>,
}

/// Distances ordered for the heaps (they are never NaN: vectors are checked
/// finite before they are stored).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dist(pub f32);

impl Eq for Dist {}

impl PartialOrd for Dist {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dist {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

pub(crate) struct Visited(Vec<u64>);

impl Visited {
    pub fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }

    /// Marks `i`; true if it was not marked before.
    pub fn insert(&mut self, i: u32) -> bool {
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

impl QueryGraph {
    pub fn empty(dim: usize) -> Self {
        Self {
            dim,
            vectors: Vectors::new(dim),
            links0: Vec::new(),
            degree0: Vec::new(),
            upper: HashMap::new(),
            entry: None,
        }
    }

    /// Copies `hnsw`, whose data ids must be `0..n` (how [`DomainIndex`]
    /// inserts them).
    ///
    /// [`DomainIndex`]: crate::DomainIndex
    pub fn copy_of(hnsw: &Hnsw<'_, f32, DistL2>, dim: usize) -> Self {
        let n = hnsw.get_nb_point();
        let mut graph = Self {
            dim,
            vectors: Vectors::zeroed(dim, n),
            links0: vec![0; n * M0],
            degree0: vec![0; n],
            upper: HashMap::new(),
            entry: None,
        };
        for point in hnsw.get_point_indexation() {
            let id = point.get_origin_id();
            if id >= n {
                // Not an id this index hands out; a graph that has one is
                // not ours to search.
                continue;
            }
            graph.vectors.set(id, point.get_v());
            let level = (point.get_point_id().0 as usize).min(MAX_LAYERS - 1);
            let mut layers = point.get_neighborhood_id().into_iter().map(|layer| {
                // hnsw_rs keeps its lists sorted, closest first.
                layer
                    .into_iter()
                    .map(|nb| nb.d_id as u32)
                    .filter(|&nb| (nb as usize) < n)
                    .collect::<Vec<u32>>()
            });
            let mut layer0 = layers.next().unwrap_or_default();
            layer0.truncate(M0);
            graph.set_links(id as u32, 0, &layer0);
            if level > 0 {
                graph.upper.insert(
                    id as u32,
                    layers
                        .take(level)
                        .map(|mut l| {
                            l.truncate(M);
                            l
                        })
                        .collect(),
                );
            }
            if graph.entry.is_none_or(|(_, top)| level > top) {
                graph.entry = Some((id as u32, level));
            }
        }
        graph
    }

    pub fn len(&self) -> usize {
        self.degree0.len()
    }

    pub fn vector(&self, i: u32) -> &[f32] {
        self.vectors.get(i as usize)
    }

    /// Point `i`'s links on `layer`.
    pub fn links(&self, i: u32, layer: usize) -> &[u32] {
        if layer == 0 {
            let at = i as usize * M0;
            &self.links0[at..at + self.degree0[i as usize] as usize]
        } else {
            self.upper
                .get(&i)
                .and_then(|layers| layers.get(layer - 1))
                .map_or(&[], Vec::as_slice)
        }
    }

    /// Whether point `i` has links on `layer`.
    pub fn reaches(&self, i: u32, layer: usize) -> bool {
        layer == 0 || self.upper.get(&i).is_some_and(|l| l.len() >= layer)
    }

    /// Replaces point `i`'s links on `layer` (at most [`M0`] on layer 0);
    /// nothing on a layer the point does not reach. (hnsw_rs's graphs hold
    /// a few upper-layer links to points below that layer: a search just
    /// finds no links there.)
    pub fn set_links(&mut self, i: u32, layer: usize, links: &[u32]) {
        if layer == 0 {
            let at = i as usize * M0;
            self.links0[at..at + links.len()].copy_from_slice(links);
            self.degree0[i as usize] = links.len() as u8;
        } else if let Some(list) = self
            .upper
            .get_mut(&i)
            .and_then(|layers| layers.get_mut(layer - 1))
        {
            *list = links.to_vec();
        }
    }

    /// Asks the CPU to start loading point `i`'s vector.
    #[inline]
    fn prefetch(&self, i: u32) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let v = self.vector(i);
            for line in (0..v.len()).step_by(16) {
                // SAFETY: a prefetch is only a hint; the address is in bounds.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(v[line..].as_ptr().cast()) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    pub fn distance(&self, query: &[f32], i: u32) -> f32 {
        DistL2.eval(query, self.vector(i))
    }

    /// Greedy descent from the entry point down to layer `to + 1`: the
    /// closest point found and its distance.
    pub fn descend(&self, query: &[f32], to: usize) -> Option<(u32, f32)> {
        let (mut current, top) = self.entry?;
        let mut current_d = self.distance(query, current);
        for layer in ((to + 1)..=top).rev() {
            loop {
                let mut moved = false;
                for &nb in self.links(current, layer) {
                    let d = self.distance(query, nb);
                    if d < current_d {
                        (current, current_d) = (nb, d);
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        Some((current, current_d))
    }

    /// The `k` nearest points that `keep` accepts, closest first, exploring
    /// with a beam of `ef` (≥ k).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<Nearest> {
        if query.len() != self.dim {
            return Vec::new();
        }
        let Some((current, current_d)) = self.descend(query, 0) else {
            return Vec::new();
        };
        let ef = ef.max(k).max(1);
        let mut visited = Visited::new(self.len());
        let mut fresh: Vec<u32> = Vec::with_capacity(64);
        visited.insert(current);
        // Frontier, closest first; and the best `ef` accepted so far,
        // farthest on top. Rejected (dead) points are walked, not kept.
        let mut frontier = BinaryHeap::new();
        let mut best: BinaryHeap<(Dist, u32)> = BinaryHeap::with_capacity(ef + 1);
        frontier.push(Reverse((Dist(current_d), current)));
        if keep(current as usize) {
            best.push((Dist(current_d), current));
        }
        while let Some(Reverse((Dist(d), c))) = frontier.pop() {
            if best.len() >= ef && best.peek().is_some_and(|(far, _)| d > far.0) {
                break;
            }
            // Mark and prefetch every new neighbour before measuring any:
            // at scale the vectors are not in cache, and overlapping their
            // loads is what keeps a query within its budget.
            fresh.clear();
            for &nb in self.links(c, 0) {
                if visited.insert(nb) {
                    self.prefetch(nb);
                    fresh.push(nb);
                }
            }
            for &nb in &fresh {
                let d = self.distance(query, nb);
                let worth = best.len() < ef || best.peek().is_some_and(|(far, _)| d < far.0);
                if worth {
                    frontier.push(Reverse((Dist(d), nb)));
                    if keep(nb as usize) {
                        best.push((Dist(d), nb));
                        if best.len() > ef {
                            best.pop();
                        }
                    }
                }
            }
        }
        let mut found: Vec<Nearest> = best
            .into_iter()
            .map(|(Dist(distance), id)| Nearest {
                id: id as usize,
                distance,
            })
            .collect();
        found.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        found.truncate(k);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 16;

    /// Deterministic points in clusters of four (xorshift; no rand needed).
    fn points(n: usize) -> Vec<Vec<f32>> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let centre: Vec<f32> = (0..DIM).map(|_| next()).collect();
            for _ in 0..4 {
                out.push(centre.iter().map(|c| c + 0.05 * next()).collect());
            }
        }
        out.truncate(n);
        out
    }

    fn graph_of(data: &[Vec<f32>]) -> QueryGraph {
        let hnsw = Hnsw::<f32, DistL2>::new(16, data.len(), 16, 200, DistL2 {});
        let batch: Vec<(&Vec<f32>, usize)> = data.iter().zip(0..).collect();
        hnsw.parallel_insert(&batch);
        QueryGraph::copy_of(&hnsw, DIM)
    }

    fn exact(data: &[Vec<f32>], q: &[f32], k: usize, skip: Option<usize>) -> Vec<usize> {
        let mut all: Vec<(f32, usize)> = data
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != skip)
            .map(|(i, v)| (DistL2.eval(q, v), i))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        all.into_iter().take(k).map(|(_, i)| i).collect()
    }

    #[test]
    fn finds_what_a_full_scan_finds() {
        let data = points(3_000);
        let graph = graph_of(&data);
        assert_eq!(graph.len(), 3_000);
        let queries = points(3_100).split_off(3_000);
        let mut same = 0;
        for q in &queries {
            let found = graph.search(q, 5, 100, |_| true);
            assert_eq!(found.len(), 5);
            assert!(found.windows(2).all(|w| w[0].distance <= w[1].distance));
            for f in &found {
                assert!((f.distance - DistL2.eval(q, &data[f.id])).abs() < 1e-6);
            }
            let ids: Vec<usize> = found.iter().map(|f| f.id).collect();
            same += usize::from(ids == exact(&data, q, 5, None));
        }
        assert!(
            same >= 97,
            "only {same} of 100 top-5 lists match a full scan"
        );
    }

    #[test]
    fn rejected_points_are_walked_through_but_never_returned() {
        let data = points(2_000);
        let graph = graph_of(&data);
        for q in data.iter().step_by(97) {
            let nearest = exact(&data, q, 1, None)[0];
            let found = graph.search(q, 3, 64, |id| id != nearest);
            assert!(found.iter().all(|f| f.id != nearest));
            assert_eq!(found[0].id, exact(&data, q, 1, Some(nearest))[0]);
        }
    }

    /// How many of 100 queries' top-5 lists equal a full scan's.
    fn agreement(graph: &QueryGraph, data: &[Vec<f32>]) -> usize {
        points(data.len() + 100)
            .split_off(data.len())
            .iter()
            .filter(|q| {
                let ids: Vec<usize> = graph
                    .search(q, 5, 100, |_| true)
                    .iter()
                    .map(|f| f.id)
                    .collect();
                ids == exact(data, q, 5, None)
            })
            .count()
    }

    #[test]
    fn a_graph_grown_by_deltas_finds_what_a_full_scan_finds() {
        let data = points(4_000);
        // Built whole by hnsw_rs, then grown by deltas inserted here.
        let mut graph = graph_of(&data[..3_000]);
        for v in &data[3_000..] {
            graph.insert(v);
        }
        assert_eq!(graph.len(), 4_000);
        let same = agreement(&graph, &data);
        assert!(
            same >= 97,
            "only {same} of 100 top-5 lists match a full scan"
        );
        // Every new point is reachable: it is its own nearest neighbour.
        for (i, v) in data.iter().enumerate().skip(3_000).step_by(37) {
            assert_eq!(graph.search(v, 1, 64, |_| true)[0].id, i);
        }
        // A graph made by inserting alone is as good.
        let mut inserted = QueryGraph::empty(DIM);
        for v in &data {
            inserted.insert(v);
        }
        let same = agreement(&inserted, &data);
        assert!(
            same >= 97,
            "only {same} of 100 top-5 lists match a full scan"
        );
    }

    #[test]
    fn empty_graphs_and_wrong_sized_queries_find_nothing() {
        assert!(
            QueryGraph::empty(DIM)
                .search(&[0.0; DIM], 3, 10, |_| true)
                .is_empty()
        );
        let graph = graph_of(&points(100));
        assert!(graph.search(&[0.0; DIM + 1], 3, 10, |_| true).is_empty());
        assert_eq!(graph.search(&[0.0; DIM], 3, 10, |_| true).len(), 3);
    }
}
