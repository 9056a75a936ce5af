//! A graph's vectors in fixed-size shared chunks. A delta grows a copy of
//! the graph while queries walk the current one; with the vectors in one
//! array that copy duplicated all of them (half a gigabyte at a million
//! points). Inserts only append, so a copy shares every chunk and copies
//! at most the last one it appends to.

use std::sync::Arc;

/// Points per chunk (16 MiB of 128-d vectors).
const CHUNK_POINTS: usize = 1 << 15;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Vectors {
    dim: usize,
    len: usize,
    chunks: Vec<Arc<Vec<f32>>>,
}

impl Vectors {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            len: 0,
            chunks: Vec::new(),
        }
    }

    /// `n` zero vectors, to be set in any order.
    pub fn zeroed(dim: usize, n: usize) -> Self {
        let chunks = (0..n.div_ceil(CHUNK_POINTS))
            .map(|c| {
                let points = (n - c * CHUNK_POINTS).min(CHUNK_POINTS);
                Arc::new(vec![0.0; points * dim])
            })
            .collect();
        Self {
            dim,
            len: n,
            chunks,
        }
    }

    /// Points.
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn get(&self, i: usize) -> &[f32] {
        let at = (i % CHUNK_POINTS) * self.dim;
        &self.chunks[i / CHUNK_POINTS][at..at + self.dim]
    }

    pub fn set(&mut self, i: usize, vector: &[f32]) {
        let at = (i % CHUNK_POINTS) * self.dim;
        Arc::make_mut(&mut self.chunks[i / CHUNK_POINTS])[at..at + self.dim]
            .copy_from_slice(vector);
    }

    pub fn push(&mut self, vector: &[f32]) {
        assert_eq!(vector.len(), self.dim, "a vector of another dimension");
        if self.len.is_multiple_of(CHUNK_POINTS) {
            self.chunks
                .push(Arc::new(Vec::with_capacity(CHUNK_POINTS * self.dim)));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        Arc::make_mut(last).extend_from_slice(vector);
        self.len += 1;
    }

    /// Every component, point after point.
    pub fn floats(&self) -> impl Iterator<Item = f32> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }

    /// Appends `floats` (whole vectors), as read from a file.
    pub fn extend_from_floats(&mut self, floats: &[f32]) {
        for v in floats.chunks_exact(self.dim) {
            self.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_shares_full_chunks_and_diverges_only_where_it_grows() {
        let mut a = Vectors::new(2);
        for i in 0..CHUNK_POINTS + 3 {
            a.push(&[i as f32, 1.0]);
        }
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]), "a copy shares");
        b.push(&[-1.0, -1.0]);
        b.set(5, &[9.0, 9.0]);
        assert_eq!(a.len(), CHUNK_POINTS + 3);
        assert_eq!(b.len(), CHUNK_POINTS + 4);
        assert_eq!(a.get(5), &[5.0, 1.0], "the original is untouched");
        assert_eq!(b.get(5), &[9.0, 9.0]);
        assert_eq!(b.get(CHUNK_POINTS + 3), &[-1.0, -1.0]);
        assert_eq!(a.get(CHUNK_POINTS + 2), &[(CHUNK_POINTS + 2) as f32, 1.0]);
        let mut c = a.clone();
        c.push(&[0.5, 0.5]);
        assert!(
            Arc::ptr_eq(&a.chunks[0], &c.chunks[0]),
            "a full chunk is shared by a grown copy"
        );
        let z = Vectors::zeroed(2, CHUNK_POINTS + 1);
        assert_eq!(z.floats().count(), 2 * (CHUNK_POINTS + 1));
        assert_eq!(z.get(CHUNK_POINTS), &[0.0, 0.0]);
    }
}
