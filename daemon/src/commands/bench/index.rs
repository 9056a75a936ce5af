//! Search-index speed and recall on synthetic descriptors, against an exact
//! brute-force scan, and the design's "one mixed gallery vs per-domain
//! galleries" comparison.

use std::time::Instant;

use facerec_index::{DomainIndex, SearchParams};
use facerec_storage::{DomainCode, EMBEDDING_DIM, Embedding, PersonId};
use facerec_vision::MATCH_THRESHOLD;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Samples, table};
use crate::cli::GalleryShape;

/// Directions along which people differ in [`GalleryShape::Faces`].
const FACE_LATENT_DIMS: usize = 32;

/// Clustered 128-d data shaped like dlib descriptors: people are centres
/// about 0.9 apart (different people), each with several samples about 0.4
/// apart (the same person), as the real photos measure.
struct Gallery {
    embeddings: Vec<Embedding>,
    centres: Vec<Vec<f32>>,
}

const CENTRE_SIGMA: f32 = 0.9 / 16.0; // distance ≈ σ·√(2·128)
const SAMPLE_SIGMA: f32 = 0.4 / 16.0;
const PER_PERSON: usize = 5;

pub(super) fn gaussian(rng: &mut StdRng) -> f32 {
    // Box–Muller; one value per call is plenty for a benchmark generator.
    let u: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
    let v: f32 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

pub(super) fn around(rng: &mut StdRng, centre: &[f32], sigma: f32) -> Vec<f32> {
    centre.iter().map(|c| c + sigma * gaussian(rng)).collect()
}

impl Gallery {
    /// Every vector, one after another (for brute force and cache eviction).
    fn flat(&self) -> Vec<f32> {
        self.embeddings
            .iter()
            .flat_map(|e| e.vector.iter().copied())
            .collect()
    }
}

/// A person's centre: isotropic, or a random mix of `basis` directions
/// scaled so that two centres are as far apart as in the isotropic case.
fn centre(rng: &mut StdRng, shape: GalleryShape, basis: &[Vec<f32>]) -> Vec<f32> {
    match shape {
        GalleryShape::Isotropic => around(rng, &[0.0; EMBEDDING_DIM], CENTRE_SIGMA),
        GalleryShape::Faces => {
            let sigma = CENTRE_SIGMA * (EMBEDDING_DIM as f32 / basis.len() as f32).sqrt();
            let mut c = vec![0.0; EMBEDDING_DIM];
            for direction in basis {
                let z = sigma * gaussian(rng);
                c.iter_mut().zip(direction).for_each(|(c, d)| *c += z * d);
            }
            c
        }
    }
}

/// `dims` random unit directions (nearly orthogonal in 128-d).
fn random_basis(rng: &mut StdRng, dims: usize) -> Vec<Vec<f32>> {
    (0..dims)
        .map(|_| {
            let v: Vec<f32> = (0..EMBEDDING_DIM).map(|_| gaussian(rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn gallery(n: usize, seed: u64, shape: GalleryShape) -> Gallery {
    let mut rng = StdRng::seed_from_u64(seed);
    let people = n.div_ceil(PER_PERSON);
    let basis = random_basis(&mut rng, FACE_LATENT_DIMS);
    let centres: Vec<Vec<f32>> = (0..people)
        .map(|_| centre(&mut rng, shape, &basis))
        .collect();
    let embeddings = (0..n)
        .map(|i| Embedding {
            id: i as u64,
            person: PersonId::parse(&format!("p{}", i / PER_PERSON)).expect("valid id"),
            image_id: None,
            vector: around(&mut rng, &centres[i / PER_PERSON], SAMPLE_SIGMA),
        })
        .collect();
    Gallery {
        embeddings,
        centres,
    }
}

/// New photos of enrolled people: fresh samples around their centres.
fn queries(g: &Gallery, count: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let p = rng.random_range(0..g.centres.len());
            around(&mut rng, &g.centres[p], SAMPLE_SIGMA)
        })
        .collect()
}

fn brute_force_nearest(flat: &[f32], query: &[f32]) -> usize {
    let mut best = (f32::INFINITY, 0);
    for (i, v) in flat.chunks_exact(EMBEDDING_DIM).enumerate() {
        let d: f32 = v.iter().zip(query).map(|(a, b)| (a - b) * (a - b)).sum();
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

struct Row {
    vectors: usize,
    ef: usize,
    build_s: f64,
    bytes_per_vector: Option<f64>,
    hnsw: Samples,
    brute: Samples,
    recall: f64,
}

/// Builds one gallery of `n` and queries it at every search breadth in
/// `efs` (one row each); the brute-force answers are computed once.
fn measure(
    n: usize,
    query_count: usize,
    params: &SearchParams,
    efs: &[usize],
    shape: GalleryShape,
) -> anyhow::Result<Vec<Row>> {
    let g = gallery(n, n as u64, shape);
    let qs = queries(&g, query_count, 7);
    let domain = DomainCode::parse("bench")?;
    let before = resident_bytes();
    let t = Instant::now();
    let index = DomainIndex::build(domain, &g.embeddings);
    let build_s = t.elapsed().as_secs_f64();
    // What the index holds, not what building it left in glibc's free
    // lists (a node gives those back after loading, as here).
    facerec_node::memory::release_freed();
    let bytes_per_vector = match (before, resident_bytes()) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b) as f64 / n as f64),
        _ => None,
    };
    let flat = g.flat();
    let mut brute = Samples::default();
    let exact: Vec<usize> = qs
        .iter()
        .map(|q| {
            let t = Instant::now();
            let nearest = brute_force_nearest(&flat, q);
            brute.push(t.elapsed());
            nearest
        })
        .collect();
    let mut rows = Vec::new();
    for &ef in efs {
        let params = SearchParams {
            ef,
            ef_large: 0,
            ..*params
        };
        let (mut hnsw, mut agree) = (Samples::default(), 0);
        for (q, &exact) in qs.iter().zip(&exact) {
            // Queries alternate with scans of the whole gallery, so each
            // starts with cold caches, as on a node doing other work.
            evict_caches(&flat);
            let t = Instant::now();
            let hits = index.search(q, &params);
            hnsw.push(t.elapsed());
            if hits.first().map(|h| &h.person) == Some(&g.embeddings[exact].person) {
                agree += 1;
            }
        }
        rows.push(Row {
            vectors: n,
            ef,
            build_s,
            bytes_per_vector,
            hnsw,
            brute: brute.clone(),
            recall: agree as f64 / qs.len() as f64,
        });
    }
    Ok(rows)
}

/// Reads 32 MiB of the gallery (the size of this machine's last-level
/// cache), pushing the index out of cache.
fn evict_caches(flat: &[f32]) {
    let n = flat.len().min(8 << 20);
    let sum: f32 = flat[..n].iter().step_by(16).sum();
    std::hint::black_box(sum);
}

pub fn run(
    sizes: &[usize],
    query_count: usize,
    efs: &[usize],
    mixed: bool,
    shape: GalleryShape,
) -> anyhow::Result<()> {
    let params = SearchParams::with_threshold(MATCH_THRESHOLD);
    // One core for search, as the targets state; the build uses every core.
    println!(
        "synthetic descriptors ({shape:?}): {PER_PERSON} per person; {query_count} queries; k={}; search on one thread, build on {} cores",
        params.k,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut t = table(&[
        "vectors",
        "ef",
        "build s",
        "memory B/vector",
        "HNSW p50 µs",
        "HNSW p99 µs",
        "brute p50 ms",
        "brute p99 ms",
        "recall@1",
    ]);
    for &n in sizes {
        eprintln!("building {n} vectors…");
        for r in measure(n, query_count, &params, efs, shape)? {
            t.add_row(vec![
                r.vectors.to_string(),
                r.ef.to_string(),
                format!("{:.1}", r.build_s),
                r.bytes_per_vector
                    .map_or("n/a".into(), |b| format!("{b:.0}")),
                format!("{:.0}", r.hnsw.percentile(50.0) * 1000.0),
                format!("{:.0}", r.hnsw.percentile(99.0) * 1000.0),
                format!("{:.2}", r.brute.percentile(50.0)),
                format!("{:.2}", r.brute.percentile(99.0)),
                format!("{:.4}", r.recall),
            ]);
        }
        // Rows of the sizes done so far, in case a long run is cut short.
        eprintln!("{t}");
    }
    println!("{t}");
    if mixed {
        let params = SearchParams {
            ef: efs[0],
            ef_large: 0,
            ..params
        };
        mixed_vs_per_domain(query_count, &params, shape)?;
    }
    Ok(())
}

/// The design's table: one gallery of 75,000 descriptors for everyone vs
/// ten domains of 7,500 each, a client searching only its own.
fn mixed_vs_per_domain(
    query_count: usize,
    params: &SearchParams,
    shape: GalleryShape,
) -> anyhow::Result<()> {
    let mixed = measure(75_000, query_count, params, &[params.ef], shape)?.remove(0);
    let mut per_domain = Samples::default();
    for d in 0..10u64 {
        let g = gallery(7_500, 1_000 + d, shape);
        let index = DomainIndex::build(DomainCode::parse(&format!("domain_{d}"))?, &g.embeddings);
        let flat = g.flat();
        for q in queries(&g, query_count / 10, d) {
            evict_caches(&flat);
            let t = Instant::now();
            index.search(&q, params);
            per_domain.push(t.elapsed());
        }
    }
    let mut t = table(&["gallery", "search p50 µs", "search p99 µs"]);
    t.add_row(vec![
        "one mixed domain, 75,000 descriptors".to_string(),
        format!("{:.0}", mixed.hnsw.percentile(50.0) * 1000.0),
        format!("{:.0}", mixed.hnsw.percentile(99.0) * 1000.0),
    ]);
    t.add_row(vec![
        "ten domains × 7,500, own domain only".to_string(),
        format!("{:.0}", per_domain.percentile(50.0) * 1000.0),
        format!("{:.0}", per_domain.percentile(99.0) * 1000.0),
    ]);
    t.add_row(vec![
        "brute-force scan of 75,000 (baseline)".to_string(),
        format!("{:.0}", mixed.brute.percentile(50.0) * 1000.0),
        format!("{:.0}", mixed.brute.percentile(99.0) * 1000.0),
    ]);
    println!("{t}");
    Ok(())
}
