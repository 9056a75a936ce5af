//! A [`QueryGraph`] as bytes: the arrays as they are in memory,
//! little-endian, so loading 75,000 points is reading 50 MB rather than
//! building anything. A dump writes it whole (`graph.bin`); a snapshot
//! ships it without the vectors, which the snapshot carries already, and
//! the edge puts its own copy of them back. Every count and link is
//! checked on reading (a dump's manifest and a snapshot's signature
//! already caught a changed file; this catches one written by a broken
//! build).
//!
//! ```text
//! "FRGRAPH1" (with vectors) or "FRLINKS1" (without)
//! dim u32  n u64  entry: present u8, id u32, layer u32
//! vectors     n × dim f32 (FRGRAPH1 only)
//! degree0     n u8
//! links0      n × M0 u32 (unused slots 0)
//! upper       count u64, then per point: id u32, layers u8,
//!             per layer: length u8, ids u32 …
//! ```

use std::collections::HashMap;

use crate::graph::{M, M0, MAX_LAYERS, QueryGraph};
use crate::vectors::Vectors;

const WITH_VECTORS: &[u8; 8] = b"FRGRAPH1";
const WITHOUT_VECTORS: &[u8; 8] = b"FRLINKS1";

/// The graph as bytes, with its vectors or without them.
pub(crate) fn to_bytes(graph: &QueryGraph, with_vectors: bool) -> Vec<u8> {
    let vector_bytes = if with_vectors {
        graph.vectors.len() * graph.dim * 4
    } else {
        0
    };
    let mut out = Vec::with_capacity(32 + vector_bytes + graph.len() * (1 + 4 * M0));
    write(graph, with_vectors, &mut out).expect("writing to memory cannot fail");
    out
}

/// Writes the graph to `out` as it goes (a dump of a million points is
/// ~650 MB: never built in memory first).
pub(crate) fn write(
    graph: &QueryGraph,
    with_vectors: bool,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let n = graph.len();
    out.write_all(if with_vectors {
        WITH_VECTORS
    } else {
        WITHOUT_VECTORS
    })?;
    out.write_all(&(graph.dim as u32).to_le_bytes())?;
    out.write_all(&(n as u64).to_le_bytes())?;
    let (present, id, layer) = match graph.entry {
        Some((id, layer)) => (1u8, id, layer as u32),
        None => (0, 0, 0),
    };
    out.write_all(&[present])?;
    out.write_all(&id.to_le_bytes())?;
    out.write_all(&layer.to_le_bytes())?;
    if with_vectors {
        for v in graph.vectors.floats() {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.write_all(&graph.degree0)?;
    for l in &graph.links0 {
        out.write_all(&l.to_le_bytes())?;
    }
    let mut upper: Vec<(&u32, &Vec<Vec<u32>>)> = graph.upper.iter().collect();
    upper.sort_by_key(|(id, _)| **id);
    out.write_all(&(upper.len() as u64).to_le_bytes())?;
    for (id, layers) in upper {
        out.write_all(&id.to_le_bytes())?;
        out.write_all(&[layers.len() as u8])?;
        for layer in layers {
            out.write_all(&[layer.len() as u8])?;
            for l in layer {
                out.write_all(&l.to_le_bytes())?;
            }
        }
    }
    Ok(())
}

/// Reads the format from any source, counting what it took; large arrays
/// are read straight into their own vectors, a buffer at a time.
struct Reader<R> {
    src: R,
    at: u64,
}

impl<R: std::io::Read> Reader<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.src.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "truncated".to_string(),
            _ => e.to_string(),
        })?;
        self.at += buf.len() as u64;
        Ok(())
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut buf = [0u8; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; n];
        self.fill(&mut out)?;
        Ok(out)
    }
    /// `n` little-endian 4-byte values.
    fn words<T>(&mut self, n: usize, decode: impl Fn([u8; 4]) -> T) -> Result<Vec<T>, String> {
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; 1 << 20];
        let mut left = n * 4;
        while left > 0 {
            let part = &mut buf[..left.min(1 << 20)];
            self.fill(part)?;
            out.extend(
                part.chunks_exact(4)
                    .map(|c| decode(c.try_into().expect("4 bytes"))),
            );
            left -= part.len();
        }
        Ok(out)
    }
    /// Whether the source has ended.
    fn at_end(&mut self) -> Result<bool, String> {
        let mut one = [0u8; 1];
        loop {
            match self.src.read(&mut one) {
                Ok(n) => return Ok(n == 0),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// The graph in `bytes`, of `dim`-dimensional vectors, or why not. Bytes
/// without vectors take `vectors` (point `i`'s at `i*dim`); bytes with
/// them take none.
pub(crate) fn from_bytes(
    bytes: &[u8],
    dim: usize,
    vectors: Option<Vectors>,
) -> Result<QueryGraph, String> {
    from_reader(bytes, bytes.len() as u64, dim, vectors)
}

/// [`from_bytes`] from a source of `len` bytes (a dump file, read as it
/// is parsed: a million points are never held twice).
pub(crate) fn from_reader(
    src: impl std::io::Read,
    len: u64,
    dim: usize,
    vectors: Option<Vectors>,
) -> Result<QueryGraph, String> {
    let mut r = Reader { src, at: 0 };
    let magic = &r.take::<8>()?;
    let with_vectors = match (magic, vectors.is_some()) {
        (m, false) if m == WITH_VECTORS => true,
        (m, true) if m == WITHOUT_VECTORS => false,
        (m, _) if m == WITH_VECTORS || m == WITHOUT_VECTORS => {
            return Err("vectors given twice, or not at all".into());
        }
        _ => return Err("bad magic".into()),
    };
    let file_dim = r.u32()? as usize;
    if file_dim != dim {
        return Err(format!("vectors of {file_dim} dimensions, not {dim}"));
    }
    let n = r.u64()? as usize;
    // Every point needs at least its vector: a count the file cannot hold
    // is refused before anything is allocated for it.
    let per_point = if with_vectors { dim * 4 } else { 0 } + 1 + 4 * M0;
    if n.checked_mul(per_point)
        .is_none_or(|need| need as u64 > len)
    {
        return Err(format!("{n} points cannot fit in {len} bytes"));
    }
    let present = r.u8()?;
    let (entry_id, entry_layer) = (r.u32()?, r.u32()? as usize);
    let entry = match present {
        0 if n == 0 => None,
        1 if (entry_id as usize) < n && entry_layer < MAX_LAYERS => Some((entry_id, entry_layer)),
        _ => return Err("invalid entry point".into()),
    };
    let vectors = match vectors {
        Some(given) if given.len() == n => given,
        Some(given) => {
            return Err(format!(
                "{} points in the graph, {} vectors given",
                n,
                given.len()
            ));
        }
        None => {
            // A buffer's worth of points at a time.
            let mut vectors = Vectors::new(dim);
            let step = ((1 << 18) / dim.max(1)).max(1);
            let mut left = n;
            while left > 0 {
                let points = left.min(step);
                vectors.extend_from_floats(&r.words(points * dim, f32::from_le_bytes)?);
                left -= points;
            }
            vectors
        }
    };
    if vectors.floats().any(|v| !v.is_finite()) {
        return Err("a vector is not finite".into());
    }
    let degree0 = r.bytes(n)?;
    if degree0.iter().any(|&d| d as usize > M0) {
        return Err(format!("a point has more than {M0} links"));
    }
    let links0: Vec<u32> = r.words(n * M0, u32::from_le_bytes)?;
    let in_range = |l: &u32| (*l as usize) < n;
    for i in 0..n {
        if !links0[i * M0..i * M0 + degree0[i] as usize]
            .iter()
            .all(in_range)
        {
            return Err(format!("point {i} links to a point that does not exist"));
        }
    }
    let count = r.u64()? as usize;
    if count > n {
        return Err("more upper-layer points than points".into());
    }
    let mut upper = HashMap::with_capacity(count);
    for _ in 0..count {
        let id = r.u32()?;
        let layers = r.u8()? as usize;
        if !in_range(&id) || layers == 0 || layers >= MAX_LAYERS {
            return Err("invalid upper-layer point".into());
        }
        let mut lists = Vec::with_capacity(layers);
        for _ in 0..layers {
            let len = r.u8()? as usize;
            if len > M {
                return Err(format!("an upper-layer list has more than {M} links"));
            }
            let list: Vec<u32> = (0..len).map(|_| r.u32()).collect::<Result<_, _>>()?;
            if !list.iter().all(in_range) {
                return Err(format!("point {id} links to a point that does not exist"));
            }
            lists.push(list);
        }
        upper.insert(id, lists);
    }
    if r.at != len || !r.at_end()? {
        return Err("trailing bytes".into());
    }
    if let Some((id, layer)) = entry
        && layer > 0
        && upper.get(&id).is_none_or(|l| l.len() != layer)
    {
        return Err("the entry point is not on the top layer".into());
    }
    Ok(QueryGraph {
        dim,
        vectors,
        links0,
        degree0,
        upper,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize) -> QueryGraph {
        let mut g = QueryGraph::empty(8);
        for i in 0..n {
            let v: Vec<f32> = (0..8).map(|d| ((i * 8 + d) as f32 * 0.37).sin()).collect();
            g.insert(&v);
        }
        g
    }

    #[test]
    fn a_graph_survives_the_round_trip_exactly() {
        for n in [0, 1, 500] {
            let g = graph(n);
            assert_eq!(from_bytes(&to_bytes(&g, true), 8, None).unwrap(), g);
            let links = to_bytes(&g, false);
            assert_eq!(from_bytes(&links, 8, Some(g.vectors.clone())).unwrap(), g);
            assert!(from_bytes(&links, 8, None).is_err());
        }
    }

    #[test]
    fn damaged_files_are_refused_with_a_reason() {
        let g = graph(300);
        let bytes = to_bytes(&g, true);
        assert_eq!(
            from_bytes(&bytes[..bytes.len() - 3], 8, None).unwrap_err(),
            "truncated"
        );
        assert!(
            from_bytes(&bytes, 16, None)
                .unwrap_err()
                .contains("dimensions")
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            from_bytes(&trailing, 8, None).unwrap_err(),
            "trailing bytes"
        );
        // A count far past the file's size allocates nothing.
        let mut huge = bytes.clone();
        huge[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(
            from_bytes(&huge, 8, None)
                .unwrap_err()
                .contains("cannot fit")
        );
        // A link to a point past the end.
        let links_at = 8 + 4 + 8 + 9 + 300 * 8 * 4 + 300;
        let mut dangling = bytes.clone();
        dangling[links_at..links_at + 4].copy_from_slice(&9_999u32.to_le_bytes());
        assert!(
            from_bytes(&dangling, 8, None)
                .unwrap_err()
                .contains("does not exist")
        );
        // Links for other vectors than those given.
        let links = to_bytes(&g, false);
        assert!(
            from_bytes(&links, 8, Some(Vectors::zeroed(8, 299)))
                .unwrap_err()
                .contains("vectors given")
        );
    }
}
