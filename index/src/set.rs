//! The indexes a node serves, and queries across inherited domains.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use facerec_storage::{DomainCode, PersonId, SearchMode, StorageError, Store};
use thiserror::Error;

use crate::domain::DomainIndex;
use crate::score::{SearchParams, confidence};

#[derive(Debug, Error)]
pub enum IndexError {
    #[error("this node does not serve domain '{0}'")]
    NotServed(DomainCode),
    #[error(
        "domain '{domain}' inherits '{dataset}', which this node does not serve (add it to ALLOWED_DOMAINS)"
    )]
    DatasetNotServed {
        domain: DomainCode,
        dataset: DomainCode,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A person recognised in one of the searched domains.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub person: PersonId,
    /// The domain whose data matched (the queried one or an inherited one).
    pub domain: DomainCode,
    pub distance: f32,
    pub votes: usize,
    /// See [`confidence`].
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    /// The match, if the best hit is within the threshold.
    pub best: Option<Match>,
    /// The domains actually searched, in order.
    pub searched: Vec<DomainCode>,
}

struct Route {
    order: Vec<DomainCode>,
    mode: SearchMode,
}

/// The served domains' indexes. Replacing one is a pointer swap: a query
/// sees either the old index or the new one, never a half-built one.
pub struct IndexSet {
    params: SearchParams,
    indexes: RwLock<HashMap<DomainCode, Arc<DomainIndex>>>,
    routes: HashMap<DomainCode, Route>,
}

impl IndexSet {
    /// Loads `served` domains from `store`: builds each index from redb and
    /// resolves each domain's search order. Every inherited dataset must be
    /// served too — an edge never reaches outside its set.
    pub fn load(
        store: &Store,
        served: &[DomainCode],
        params: SearchParams,
    ) -> Result<Self, IndexError> {
        let served_set: BTreeSet<&DomainCode> = served.iter().collect();
        let graph = store.dataset_graph()?;
        let mut routes = HashMap::new();
        let mut indexes = HashMap::new();
        for d in served {
            let domain = store.domain(d)?;
            let order = graph.search_order(d);
            if let Some(outside) = order.iter().find(|o| !served_set.contains(o)) {
                return Err(IndexError::DatasetNotServed {
                    domain: d.clone(),
                    dataset: outside.clone(),
                });
            }
            routes.insert(
                d.clone(),
                Route {
                    order,
                    mode: domain.search_mode,
                },
            );
            let embeddings = store.domain_embeddings(d)?;
            indexes.insert(
                d.clone(),
                Arc::new(DomainIndex::build(d.clone(), &embeddings)),
            );
        }
        Ok(Self {
            params,
            indexes: RwLock::new(indexes),
            routes,
        })
    }

    pub fn params(&self) -> &SearchParams {
        &self.params
    }

    /// The index of a served domain.
    pub fn get(&self, domain: &DomainCode) -> Result<Arc<DomainIndex>, IndexError> {
        self.indexes
            .read()
            .expect("index set lock")
            .get(domain)
            .cloned()
            .ok_or_else(|| IndexError::NotServed(domain.clone()))
    }

    /// Swaps in a (re)built index for a served domain.
    pub fn replace(&self, index: DomainIndex) -> Result<(), IndexError> {
        let mut indexes = self.indexes.write().expect("index set lock");
        let domain = index.domain().clone();
        if !indexes.contains_key(&domain) {
            return Err(IndexError::NotServed(domain));
        }
        indexes.insert(domain, Arc::new(index));
        Ok(())
    }

    /// Recognises `query` for a client of `domain`: its own data first, then
    /// its datasets by priority; `first_match` stops at the first domain with
    /// a match, `best` takes the closest match over all of them.
    pub fn search(&self, domain: &DomainCode, query: &[f32]) -> Result<SearchOutcome, IndexError> {
        let route = self
            .routes
            .get(domain)
            .ok_or_else(|| IndexError::NotServed(domain.clone()))?;
        let mut searched = Vec::new();
        let mut best: Option<Match> = None;
        for d in &route.order {
            let index = self.get(d)?;
            searched.push(d.clone());
            let Some(hit) = index.search(query, &self.params).into_iter().next() else {
                continue;
            };
            if hit.distance >= self.params.threshold {
                continue;
            }
            let candidate = Match {
                person: hit.person,
                domain: d.clone(),
                distance: hit.distance,
                votes: hit.votes,
                confidence: confidence(hit.distance, self.params.threshold),
            };
            if best
                .as_ref()
                .is_none_or(|b| candidate.distance < b.distance)
            {
                best = Some(candidate);
            }
            if route.mode == SearchMode::FirstMatch {
                break;
            }
        }
        Ok(SearchOutcome { best, searched })
    }
}
