//! One domain's HNSW graph and what each point belongs to.

use std::collections::HashMap;
use std::sync::RwLock;

use facerec_storage::{DomainCode, Embedding, PersonId};
use hnsw_rs::prelude::{DistL2, FilterT, Hnsw};

use crate::score::SearchParams;

/// HNSW construction parameters: 16 links per node and a construction
/// breadth of 200 give recall@1 near 1.0 on face descriptors.
const MAX_CONNECTIONS: usize = 16;
const EF_CONSTRUCTION: usize = 200;
const MAX_LAYERS: usize = 16;

struct Point {
    embedding_id: u64,
    person: PersonId,
    dead: bool,
}

/// The searchable embeddings of one domain. Adds and removals are safe while
/// searches run; a removed person's points stay in the graph as tombstones,
/// filtered out of every result, until the index is rebuilt.
pub struct DomainIndex {
    domain: DomainCode,
    hnsw: Hnsw<'static, f32, DistL2>,
    points: RwLock<Vec<Point>>,
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

struct Alive<'a>(&'a [Point]);

impl FilterT for Alive<'_> {
    fn hnsw_filter(&self, id: &usize) -> bool {
        self.0.get(*id).is_some_and(|p| !p.dead)
    }
}

impl DomainIndex {
    pub fn new(domain: DomainCode, expected: usize) -> Self {
        Self {
            domain,
            hnsw: Hnsw::new(
                MAX_CONNECTIONS,
                expected.max(1000),
                MAX_LAYERS,
                EF_CONSTRUCTION,
                DistL2 {},
            ),
            points: RwLock::new(Vec::with_capacity(expected)),
        }
    }

    /// Builds the index of `embeddings` (inserted on all cores).
    pub fn build(domain: DomainCode, embeddings: &[Embedding]) -> Self {
        let index = Self::new(domain, embeddings.len());
        index.add(embeddings);
        index
    }

    pub fn domain(&self) -> &DomainCode {
        &self.domain
    }

    /// Adds embeddings; they are searchable when this returns.
    pub fn add(&self, embeddings: &[Embedding]) {
        let mut points = self.points.write().expect("index lock");
        let start = points.len();
        let batch: Vec<(&Vec<f32>, usize)> = embeddings
            .iter()
            .enumerate()
            .map(|(i, e)| (&e.vector, start + i))
            .collect();
        points.extend(embeddings.iter().map(|e| Point {
            embedding_id: e.id,
            person: e.person.clone(),
            dead: false,
        }));
        self.hnsw.parallel_insert(&batch);
    }

    /// Hides every point of `person` from later searches; returns how many.
    pub fn remove_person(&self, person: &PersonId) -> usize {
        let mut points = self.points.write().expect("index lock");
        let mut n = 0;
        for p in points.iter_mut().filter(|p| !p.dead && &p.person == person) {
            p.dead = true;
            n += 1;
        }
        n
    }

    /// Live (searchable) points.
    pub fn len(&self) -> usize {
        self.points
            .read()
            .expect("index lock")
            .iter()
            .filter(|p| !p.dead)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Points removed but still in the graph; a rebuild drops them.
    pub fn tombstones(&self) -> usize {
        self.points
            .read()
            .expect("index lock")
            .iter()
            .filter(|p| p.dead)
            .count()
    }

    /// The embedding ids of the live points (to check the index against redb).
    pub fn embedding_ids(&self) -> Vec<u64> {
        self.points
            .read()
            .expect("index lock")
            .iter()
            .filter(|p| !p.dead)
            .map(|p| p.embedding_id)
            .collect()
    }

    /// The nearest people to `query`, closest first.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Vec<PersonHit> {
        let points = self.points.read().expect("index lock");
        let any_dead = points.iter().any(|p| p.dead);
        let neighbours = if any_dead {
            self.hnsw.search_filter(
                query,
                params.k,
                params.ef.max(params.k),
                Some(&Alive(&points)),
            )
        } else {
            self.hnsw.search(query, params.k, params.ef.max(params.k))
        };
        let mut by_person: HashMap<&PersonId, PersonHit> = HashMap::new();
        for n in &neighbours {
            let Some(p) = points.get(n.d_id).filter(|p| !p.dead) else {
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
}
