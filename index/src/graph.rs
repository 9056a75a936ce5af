//! The query side of a domain's HNSW graph: a compact, read-only copy.
//!
//! hnsw_rs builds, inserts into and dumps the graph. Its own search walks
//! `Arc`-linked points behind per-point locks and tracks visited points in a
//! hashed map, which costs about 0.3 µs per point looked at — fifteen times
//! the distance itself. Queries therefore run on this copy: the vectors in
//! one contiguous array, layer-0 links as adjacency lists in one array, a
//! bit set for visited points. Same graph, same algorithm (greedy descent
//! through the upper layers, then a beam of width `ef` on layer 0).
//!
//! The copy is made from the hnsw_rs graph after each change (build, load,
//! added embeddings); removals only mark points dead, which the search
//! skips in its results but still walks through, so links stay useful.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::prelude::{DistL2, Hnsw};

/// A neighbour found by [`QueryGraph::search`]: point id and Euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Nearest {
    pub id: usize,
    pub distance: f32,
}

pub(crate) struct QueryGraph {
    dim: usize,
    /// Point `i`'s vector is `vectors[i*dim .. (i+1)*dim]`.
    vectors: Vec<f32>,
    /// Point `i`'s layer-0 links are `links[offsets[i] .. offsets[i+1]]`.
    offsets: Vec<u32>,
    links: Vec<u32>,
    /// Links on layers 1.. of the few points that reach them:
    /// `upper[&i][l - 1]` are point `i`'s links on layer `l`.
    upper: HashMap<u32, Vec<Vec<u32>>>,
    /// A point on the top layer, and that layer.
    entry: Option<(u32, usize)>,
}

/// Distances ordered for the heaps (they are never NaN: vectors are checked
/// finite before they are stored).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dist(f32);

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

struct Visited(Vec<u64>);

impl Visited {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }

    /// Marks `i`; true if it was not marked before.
    fn insert(&mut self, i: u32) -> bool {
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
            vectors: Vec::new(),
            offsets: vec![0],
            links: Vec::new(),
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
        let mut vectors = vec![0.0f32; n * dim];
        let mut layer0: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut upper = HashMap::new();
        let mut entry: Option<(u32, usize)> = None;
        for point in hnsw.get_point_indexation() {
            let id = point.get_origin_id();
            if id >= n {
                // Not an id this index hands out; a graph that has one is
                // not ours to search.
                continue;
            }
            vectors[id * dim..(id + 1) * dim].copy_from_slice(point.get_v());
            let level = point.get_point_id().0 as usize;
            let mut layers = point.get_neighborhood_id().into_iter().map(|layer| {
                layer
                    .into_iter()
                    .map(|nb| nb.d_id as u32)
                    .filter(|&nb| (nb as usize) < n)
                    .collect::<Vec<u32>>()
            });
            layer0[id] = layers.next().unwrap_or_default();
            if level > 0 {
                upper.insert(id as u32, layers.take(level).collect());
            }
            if entry.is_none_or(|(_, top)| level > top) {
                entry = Some((id as u32, level));
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut links = Vec::with_capacity(layer0.iter().map(Vec::len).sum());
        for l in layer0 {
            links.extend_from_slice(&l);
            offsets.push(links.len() as u32);
        }
        Self {
            dim,
            vectors,
            offsets,
            links,
            upper,
            entry,
        }
    }

    /// This copy brought up to date with `hnsw` after points were only
    /// added to it (data ids `self.len()..`), without copying it all again.
    ///
    /// hnsw_rs changes an existing point's links only when a new point
    /// links to it (it adds the new point to each of its neighbours'
    /// lists, pruning the farthest), so the new points and every point
    /// they link to are copied again, and every other point's links are
    /// kept. One case is not seen: a point a new point linked to when it
    /// was inserted, that a later new point then pruned from the first one's
    /// list. Such a point keeps its older list: links that are still
    /// valid, just not the newest ones, until the next whole copy (a load
    /// or a rebuild). Copying it all is what this saves: at 75,000 points it
    /// took most of a delta's time.
    pub fn patched(&self, hnsw: &Hnsw<'_, f32, DistL2>) -> Self {
        let old_n = self.len();
        let n = hnsw.get_nb_point();
        if n < old_n {
            return Self::copy_of(hnsw, self.dim);
        }
        let dim = self.dim;
        let mut vectors = Vec::with_capacity(n * dim);
        vectors.extend_from_slice(&self.vectors);
        vectors.resize(n * dim, 0.0);
        let mut upper = self.upper.clone();
        let mut entry = self.entry;
        let mut layer0: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut linked: std::collections::HashSet<u32> = std::collections::HashSet::new();
        let mut copy_links = |point: &hnsw_rs::prelude::Point<'_, f32>,
                              upper: &mut HashMap<u32, Vec<Vec<u32>>>|
         -> Vec<Vec<u32>> {
            let id = point.get_origin_id() as u32;
            let level = point.get_point_id().0 as usize;
            let mut layers: Vec<Vec<u32>> = point
                .get_neighborhood_id()
                .into_iter()
                .map(|layer| {
                    layer
                        .into_iter()
                        .map(|nb| nb.d_id as u32)
                        .filter(|&nb| (nb as usize) < n)
                        .collect()
                })
                .collect();
            layers.truncate(level + 1);
            if level > 0 {
                upper.insert(id, layers[1..].to_vec());
            }
            layer0.insert(id, layers.first().cloned().unwrap_or_default());
            layers
        };
        for point in hnsw.get_point_indexation() {
            let id = point.get_origin_id();
            if id < old_n || id >= n {
                continue;
            }
            vectors[id * dim..(id + 1) * dim].copy_from_slice(point.get_v());
            let layers = copy_links(&point, &mut upper);
            linked.extend(layers.iter().flatten().filter(|&&nb| (nb as usize) < old_n));
            let level = point.get_point_id().0 as usize;
            if entry.is_none_or(|(_, top)| level > top) {
                entry = Some((id as u32, level));
            }
        }
        if !linked.is_empty() {
            for point in hnsw.get_point_indexation() {
                if linked.contains(&(point.get_origin_id() as u32)) {
                    copy_links(&point, &mut upper);
                }
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut links = Vec::with_capacity(self.links.len() + (n - old_n) * 32);
        for i in 0..n {
            match layer0.get(&(i as u32)) {
                Some(list) => links.extend_from_slice(list),
                None if i < old_n => links.extend_from_slice(
                    &self.links[self.offsets[i] as usize..self.offsets[i + 1] as usize],
                ),
                None => {}
            }
            offsets.push(links.len() as u32);
        }
        Self {
            dim,
            vectors,
            offsets,
            links,
            upper,
            entry,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn vector(&self, i: u32) -> &[f32] {
        let i = i as usize;
        &self.vectors[i * self.dim..(i + 1) * self.dim]
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

    fn distance(&self, query: &[f32], i: u32) -> f32 {
        DistL2.eval(query, self.vector(i))
    }

    fn upper_links(&self, i: u32, layer: usize) -> &[u32] {
        self.upper
            .get(&i)
            .and_then(|layers| layers.get(layer - 1))
            .map_or(&[], Vec::as_slice)
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
        let Some((mut current, top)) = self.entry else {
            return Vec::new();
        };
        if query.len() != self.dim {
            return Vec::new();
        }
        let ef = ef.max(k).max(1);
        let mut current_d = self.distance(query, current);
        for layer in (1..=top).rev() {
            loop {
                let mut moved = false;
                for &nb in self.upper_links(current, layer) {
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
            let (from, to) = (
                self.offsets[c as usize] as usize,
                self.offsets[c as usize + 1] as usize,
            );
            // Mark and prefetch every new neighbour before measuring any:
            // at scale the vectors are not in cache, and overlapping their
            // loads is what keeps a query within its budget.
            fresh.clear();
            for &nb in &self.links[from..to] {
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

    /// Point `i`'s layer-0 links.
    fn links_of(graph: &QueryGraph, i: usize) -> &[u32] {
        &graph.links[graph.offsets[i] as usize..graph.offsets[i + 1] as usize]
    }

    #[test]
    fn a_patched_copy_holds_the_new_points_as_a_whole_copy_does() {
        let data = points(4_000);
        let hnsw = Hnsw::<f32, DistL2>::new(16, data.len(), 16, 200, DistL2 {});
        let first: Vec<(&Vec<f32>, usize)> = data[..3_000].iter().zip(0..).collect();
        hnsw.parallel_insert(&first);
        let mut graph = QueryGraph::copy_of(&hnsw, DIM);
        // Three deltas, as batches arrive.
        for range in [3_000..3_400, 3_400..3_401, 3_401..4_000] {
            let delta: Vec<(&Vec<f32>, usize)> =
                data[range.clone()].iter().zip(range.clone()).collect();
            hnsw.parallel_insert(&delta);
            graph = graph.patched(&hnsw);
            let whole = QueryGraph::copy_of(&hnsw, DIM);
            assert_eq!(graph.len(), whole.len());
            assert_eq!(graph.entry, whole.entry);
            assert_eq!(graph.vectors, whole.vectors);
            for i in range {
                assert_eq!(links_of(&graph, i), links_of(&whole, i), "point {i}");
            }
            // Old points: the same links but for the rare case the patch
            // documents (a link that a later insert of the same delta pruned).
            let same = (0..3_000)
                .filter(|&i| links_of(&graph, i) == links_of(&whole, i))
                .count();
            assert!(
                same >= 2_970,
                "only {same} of 3000 old points have current links"
            );
        }
        // And it finds what a full scan finds, as a whole copy does.
        let queries = points(4_100).split_off(4_000);
        let same = queries
            .iter()
            .filter(|q| {
                let ids: Vec<usize> = graph
                    .search(q, 5, 100, |_| true)
                    .iter()
                    .map(|f| f.id)
                    .collect();
                ids == exact(&data, q, 5, None)
            })
            .count();
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
