//! One domain's HNSW graph and what each point belongs to.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use facerec_storage::{DomainCode, EMBEDDING_DIM, Embedding, PersonId};
use hnsw_rs::prelude::{DistL2, Hnsw};

use crate::graph::{M, MAX_LAYERS, QueryGraph};
use crate::insert::EF_CONSTRUCTION;
use crate::persist::{
    DumpProblem, FORMAT, GRAPH_FILE, Manifest, POINTS_FILE, PointRecord, commit_manifest,
    new_generation, read_points, sha256_file, verify_files, write_points,
};
use crate::score::SearchParams;

/// A delta at least this large against the graph it joins is built into a
/// whole new graph on all cores rather than inserted point by point.
const REBUILD_SHARE: f64 = 0.5;

type Point = PointRecord;

impl PointRecord {
    /// The live point of an embedding.
    fn of(e: &Embedding) -> Self {
        Self {
            embedding_id: e.id,
            person: e.person.clone(),
            dead: false,
        }
    }
}

/// The searchable embeddings of one domain. Adds and removals are safe while
/// searches run; a removed person's points stay in the graph as tombstones,
/// filtered out of every result, until the index is rebuilt.
///
/// The graph is a [`QueryGraph`]: hnsw_rs builds whole graphs on all cores
/// and is then dropped; a delta is inserted into a copy of the graph that
/// is swapped in whole.
pub struct DomainIndex {
    domain: DomainCode,
    /// The model pack of every vector in it (unset: the domain has never
    /// held one). A query of another pack is never run against it. Set
    /// once: a domain changes pack only by a snapshot, which builds a new
    /// index.
    pack: std::sync::OnceLock<String>,
    points: RwLock<Points>,
    /// Held by the one apply that grows the graph at a time (point ids are
    /// positions in `points.records`, handed out in order).
    applying: Mutex<()>,
}

/// What each graph point belongs to, indexed by its hnsw_rs id, with the
/// tombstone count kept beside it (a query must not scan a million records
/// to learn whether any is dead) and the copy of the graph queries walk.
struct Points {
    records: Vec<Point>,
    dead: usize,
    graph: QueryGraph,
}

impl Points {
    fn new(records: Vec<Point>, graph: QueryGraph) -> Self {
        let dead = records.iter().filter(|p| p.dead).count();
        Self {
            records,
            dead,
            graph,
        }
    }

    fn alive(&self, id: usize) -> bool {
        self.records.get(id).is_some_and(|p| !p.dead)
    }

    /// Marks every live point of `person` dead; returns how many.
    fn bury(&mut self, person: &PersonId) -> usize {
        let mut n = 0;
        for p in self
            .records
            .iter_mut()
            .filter(|p| !p.dead && &p.person == person)
        {
            p.dead = true;
            n += 1;
        }
        self.dead += n;
        n
    }

    fn live(&self) -> usize {
        self.records.len() - self.dead
    }
}

/// One person's best evidence among a query's nearest neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonHit {
    pub person: PersonId,
    /// Distance of the person's closest embedding.
    pub distance: f32,
    /// How many of the person's embeddings were among the k nearest and
    /// within the threshold.
    pub votes: usize,
}

impl DomainIndex {
    pub fn new(domain: DomainCode, expected: usize) -> Self {
        Self::of(
            domain,
            Points::new(
                Vec::with_capacity(expected),
                QueryGraph::empty(EMBEDDING_DIM),
            ),
        )
    }

    fn of(domain: DomainCode, points: Points) -> Self {
        Self {
            pack: Default::default(),
            domain,
            points: RwLock::new(points),
            applying: Mutex::new(()),
        }
    }

    /// Builds the index of `embeddings` (inserted on all cores).
    pub fn build(domain: DomainCode, embeddings: &[Embedding]) -> Self {
        let vectors: Vec<&[f32]> = embeddings.iter().map(|e| e.vector.as_slice()).collect();
        let records = embeddings.iter().map(Point::of).collect();
        Self::of(domain, Points::new(records, whole_graph(&vectors)))
    }

    pub fn domain(&self) -> &DomainCode {
        &self.domain
    }

    /// Sets the pack of the vectors this index holds (at build or load).
    pub fn with_pack(self, pack: Option<String>) -> Self {
        if let Some(p) = pack {
            self.set_pack(p);
        }
        self
    }

    /// Records the pack of a first vector added to an empty index (a
    /// pack already set stays: storage refuses vectors of another).
    pub fn set_pack(&self, pack: String) {
        let _ = self.pack.set(pack);
    }

    pub fn pack(&self) -> Option<&str> {
        self.pack.get().map(String::as_str)
    }

    /// Adds embeddings; they are searchable when this returns.
    pub fn add(&self, embeddings: &[Embedding]) {
        self.apply(embeddings, &[]);
    }

    /// Adds embeddings and removes people as one step: a concurrent query
    /// sees all of it or none of it (how a batch is applied).
    ///
    /// Searches go on while the graph grows: they walk the current graph,
    /// and the write lock is held only to swap in the grown copy with the
    /// new points and the removals (inserting a 500-descriptor delta takes
    /// a few hundred milliseconds at 75,000 points, which no live query
    /// should wait for). Appliers are serialised.
    pub fn apply(&self, added: &[Embedding], removed: &[PersonId]) {
        self.grow_and_bury(added, |points| {
            for person in removed {
                points.bury(person);
            }
        });
    }

    /// Brings an index made from an older state (a stale dump) to the
    /// current one, as one step: adds `added` (the embeddings of `want`
    /// it lacks) and removes the points of embeddings not in `want`.
    /// Returns how many it added and removed, or `None` (and changes
    /// nothing) when it holds less than half of `want`: building anew is
    /// then the better graph.
    pub fn catch_up(
        &self,
        want: &std::collections::HashSet<u64>,
        added: &[Embedding],
    ) -> Option<(usize, usize)> {
        let kept = want.len() - added.len();
        if kept * 2 < want.len().max(self.len()) {
            return None;
        }
        let mut gone = 0;
        self.grow_and_bury(added, |points| {
            for p in points.records.iter_mut().filter(|p| !p.dead) {
                if !want.contains(&p.embedding_id) {
                    p.dead = true;
                    gone += 1;
                }
            }
            points.dead += gone;
        });
        Some((added.len(), gone))
    }

    fn grow_and_bury(&self, added: &[Embedding], bury: impl FnOnce(&mut Points)) {
        let _one_at_a_time = self.applying.lock().expect("apply lock");
        let graph = (!added.is_empty()).then(|| {
            let current = self.points.read().expect("index lock").graph.clone();
            grown(current, added)
        });
        let mut points = self.points.write().expect("index lock");
        bury(&mut points);
        points.records.extend(added.iter().map(Point::of));
        if let Some(graph) = graph {
            points.graph = graph;
        }
    }

    /// Hides every point of `person` from later searches; returns how many.
    pub fn remove_person(&self, person: &PersonId) -> usize {
        self.points.write().expect("index lock").bury(person)
    }

    /// Live (searchable) points.
    pub fn len(&self) -> usize {
        self.points.read().expect("index lock").live()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Points removed but still in the graph; a rebuild drops them.
    pub fn tombstones(&self) -> usize {
        self.points.read().expect("index lock").dead
    }

    /// The embedding ids of the live points (to check the index against redb).
    pub fn embedding_ids(&self) -> Vec<u64> {
        self.points
            .read()
            .expect("index lock")
            .records
            .iter()
            .filter(|p| !p.dead)
            .map(|p| p.embedding_id)
            .collect()
    }

    /// The nearest people to `query`, closest first.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Vec<PersonHit> {
        let points = self.points.read().expect("index lock");
        let neighbours =
            points
                .graph
                .search(query, params.k, params.ef_for(points.graph.len()), |id| {
                    points.alive(id)
                });
        let mut by_person: HashMap<&PersonId, PersonHit> = HashMap::new();
        for n in &neighbours {
            let Some(p) = points.records.get(n.id).filter(|p| !p.dead) else {
                continue;
            };
            let hit = by_person.entry(&p.person).or_insert_with(|| PersonHit {
                person: p.person.clone(),
                distance: f32::INFINITY,
                votes: 0,
            });
            hit.distance = hit.distance.min(n.distance);
            if n.distance < params.threshold {
                hit.votes += 1;
            }
        }
        let mut hits: Vec<PersonHit> = by_person.into_values().collect();
        hits.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        hits
    }

    /// Writes the index to `dir` (see [`crate::persist`]) as the state of
    /// `revision`; the previous dump stays current until this one is whole.
    pub fn save(
        &self,
        dir: &Path,
        revision: u64,
        last_batch_seq: Option<u64>,
    ) -> std::io::Result<Manifest> {
        fs::create_dir_all(dir)?;
        // No apply can interleave with the dump: the graph and the records
        // written are of one state.
        let _no_apply = self.applying.lock().expect("apply lock");
        let points = self.points.read().expect("index lock");
        let generation = new_generation(dir, revision);
        let gen_dir = dir.join(&generation);
        fs::create_dir_all(&gen_dir)?;
        write_points(&gen_dir.join(POINTS_FILE), &points.records)?;
        {
            let file = fs::File::create(gen_dir.join(GRAPH_FILE))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            crate::graph_file::write(&points.graph, true, &mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        let names = [POINTS_FILE.to_string(), GRAPH_FILE.to_string()];
        let mut files = BTreeMap::new();
        for name in names {
            let path = gen_dir.join(&name);
            fs::File::open(&path)?.sync_all()?;
            files.insert(name, sha256_file(&path)?);
        }
        let manifest = Manifest {
            format: FORMAT,
            domain: self.domain.to_string(),
            revision,
            count: points.live() as u64,
            last_batch_seq,
            pack: self.pack().map(str::to_string),
            generation,
            files,
        };
        commit_manifest(dir, &manifest)?;
        Ok(manifest)
    }

    /// Loads the dump in `dir` if it is whole and reflects `revision` with
    /// `count` embeddings; otherwise says why not.
    pub fn load(
        dir: &Path,
        domain: DomainCode,
        revision: u64,
        count: u64,
    ) -> Result<(Self, Manifest), DumpProblem> {
        let manifest = Self::manifest_of(dir, &domain)?;
        if manifest.revision != revision || manifest.count != count {
            return Err(DumpProblem::Stale {
                dump: manifest.revision,
                dump_count: manifest.count,
                db: revision,
                db_count: count,
            });
        }
        Self::load_manifest(dir, domain, manifest)
    }

    /// Loads the dump in `dir` whatever revision it reflects, if it is
    /// whole: a stale index to serve while the current one is rebuilt.
    pub fn load_stale(dir: &Path, domain: DomainCode) -> Result<(Self, Manifest), DumpProblem> {
        let manifest = Self::manifest_of(dir, &domain)?;
        Self::load_manifest(dir, domain, manifest)
    }

    fn manifest_of(dir: &Path, domain: &DomainCode) -> Result<Manifest, DumpProblem> {
        let manifest = crate::persist::read_manifest(dir)?;
        if manifest.domain != domain.as_str() {
            return Err(DumpProblem::BadManifest(format!(
                "dump is of domain '{}'",
                manifest.domain
            )));
        }
        Ok(manifest)
    }

    fn load_manifest(
        dir: &Path,
        domain: DomainCode,
        manifest: Manifest,
    ) -> Result<(Self, Manifest), DumpProblem> {
        let gen_dir = verify_files(dir, &manifest)?;
        let records = read_points(&gen_dir.join(POINTS_FILE))?;
        let corrupt = |reason: String| DumpProblem::Corrupt {
            file: GRAPH_FILE.into(),
            reason,
        };
        let file = fs::File::open(gen_dir.join(GRAPH_FILE)).map_err(|e| corrupt(e.to_string()))?;
        let len = file.metadata().map_err(|e| corrupt(e.to_string()))?.len();
        let graph = crate::graph_file::from_reader(
            std::io::BufReader::with_capacity(1 << 20, file),
            len,
            EMBEDDING_DIM,
            None,
        )
        .map_err(corrupt)?;
        if graph.len() != records.len() {
            return Err(corrupt(format!(
                "graph has {} points, {POINTS_FILE} {}",
                graph.len(),
                records.len()
            )));
        }
        let points = Points::new(records, graph);
        if points.live() as u64 != manifest.count {
            return Err(corrupt(format!(
                "{} live points, manifest says {}",
                points.live(),
                manifest.count
            )));
        }
        Ok((Self::of(domain, points), manifest))
    }
}

/// A whole graph of `vectors` (point `i` is `vectors[i]`), built by hnsw_rs
/// on all cores and copied into the compact layout; hnsw_rs's structures
/// are dropped here.
fn whole_graph(vectors: &[&[f32]]) -> QueryGraph {
    if vectors.is_empty() {
        return QueryGraph::empty(EMBEDDING_DIM);
    }
    let hnsw = Hnsw::<f32, DistL2>::new(M, vectors.len(), MAX_LAYERS, EF_CONSTRUCTION, DistL2 {});
    let batch: Vec<(&[f32], usize)> = vectors.iter().copied().zip(0..).collect();
    hnsw.parallel_insert_slice(&batch);
    QueryGraph::copy_of(&hnsw, EMBEDDING_DIM)
}

/// `graph` with `added` as its next points: inserted one by one for a
/// delta, or a whole new graph when the delta is large against it.
fn grown(mut graph: QueryGraph, added: &[Embedding]) -> QueryGraph {
    if added.len() as f64 >= REBUILD_SHARE * graph.len() as f64 {
        let all: Vec<&[f32]> = (0..graph.len() as u32)
            .map(|i| graph.vector(i))
            .chain(added.iter().map(|e| e.vector.as_slice()))
            .collect();
        return whole_graph(&all);
    }
    for e in added {
        graph.insert(&e.vector);
    }
    graph
}

/// A graph a hub built once for a snapshot, for every edge to use instead
/// of building its own: the links (`graph_file` bytes without vectors) and
/// the sha256 of the vectors it was built over, in order, which the edge
/// checks against what it stored before using the links.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedGraph {
    pub links: Vec<u8>,
    pub vectors_sha256: String,
}

impl ShippedGraph {
    /// Builds the graph of `vectors` (on all cores) for shipping.
    pub fn build<'a>(vectors: impl ExactSizeIterator<Item = &'a [f32]> + Clone) -> Self {
        let all: Vec<&[f32]> = vectors.clone().collect();
        Self {
            links: crate::graph_file::to_bytes(&whole_graph(&all), false),
            vectors_sha256: vectors_digest(vectors),
        }
    }
}

/// The index of embeddings (in the order their graph was built in) with
/// the graph a hub built for them and shipped without vectors (see
/// [`ShippedGraph`]), assembled from embeddings handed over one at a time
/// (as redb reads them): only the index's own copy of the vectors is ever
/// held.
pub struct ShippedAssembly {
    hasher: sha2::Sha256,
    vectors: crate::vectors::Vectors,
    records: Vec<PointRecord>,
    /// A vector of another dimension was pushed.
    misfit: bool,
}

impl Default for ShippedAssembly {
    fn default() -> Self {
        Self {
            hasher: Default::default(),
            vectors: crate::vectors::Vectors::new(EMBEDDING_DIM),
            records: Vec::new(),
            misfit: false,
        }
    }
}

impl ShippedAssembly {
    pub fn push(&mut self, e: &Embedding) {
        hash_vector(&mut self.hasher, &e.vector);
        if e.vector.len() == EMBEDDING_DIM {
            self.vectors.push(&e.vector);
        } else {
            self.misfit = true;
        }
        self.records.push(PointRecord::of(e));
    }

    /// The index, or why the graph does not fit the embeddings pushed.
    pub fn finish(self, domain: DomainCode, shipped: &ShippedGraph) -> Result<DomainIndex, String> {
        use sha2::Digest;
        if self.misfit {
            return Err(format!("a vector is not of {EMBEDDING_DIM} dimensions"));
        }
        if format!("{:x}", self.hasher.finalize()) != shipped.vectors_sha256 {
            return Err("it was built over other vectors, or in another order".into());
        }
        let graph =
            crate::graph_file::from_bytes(&shipped.links, EMBEDDING_DIM, Some(self.vectors))?;
        Ok(DomainIndex::of(domain, Points::new(self.records, graph)))
    }
}

/// Hex sha256 of the vectors' little-endian bytes, in order.
fn vectors_digest<'a>(vectors: impl Iterator<Item = &'a [f32]>) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for v in vectors {
        hash_vector(&mut hasher, v);
    }
    format!("{:x}", hasher.finalize())
}

/// Feeds `v`'s little-endian bytes to `hasher`, a stack buffer at a time.
fn hash_vector(hasher: &mut sha2::Sha256, v: &[f32]) {
    use sha2::Digest;
    let mut bytes = [0u8; 256];
    for floats in v.chunks(64) {
        for (out, x) in bytes.chunks_exact_mut(4).zip(floats) {
            out.copy_from_slice(&x.to_le_bytes());
        }
        hasher.update(&bytes[..floats.len() * 4]);
    }
}
