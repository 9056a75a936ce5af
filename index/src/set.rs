//! The indexes a node serves, and queries across inherited domains.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use facerec_storage::{DomainCode, Embedding, PersonId, SearchMode, StorageError, Store};
use thiserror::Error;

use crate::domain::{DomainIndex, ShippedGraph};
use crate::persist::DumpProblem;
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
    #[error(
        "domain '{domain}' holds descriptors of model pack '{pack}' and the query has none of that pack"
    )]
    NoQueryForPack { domain: DomainCode, pack: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("saving the index of '{domain}': {source}")]
    Save {
        domain: DomainCode,
        source: std::io::Error,
    },
}

/// Tuning of an [`IndexSet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexOptions {
    pub params: SearchParams,
    /// Rebuild a domain's graph in the background once removed points
    /// exceed this share of all points...
    pub rebuild_tombstone_ratio: f32,
    /// ...and this many (small domains are not worth a rebuild).
    pub rebuild_min_tombstones: usize,
    /// A stale dump (the database moved on since it was saved: a crash
    /// mid-batch) of at least this many embeddings is served at once while
    /// the current index is rebuilt behind it; a smaller one is rebuilt
    /// before the node serves (it takes moments).
    pub serve_stale_from: u64,
    /// Rebuild a served stale index on a thread at once. Off only where
    /// the stale index itself is looked at (tests), then [`IndexSet::rebuild`].
    pub catch_up_behind: bool,
}

impl IndexOptions {
    pub fn new(params: SearchParams) -> Self {
        Self {
            params,
            rebuild_tombstone_ratio: 0.2,
            rebuild_min_tombstones: 256,
            serve_stale_from: 20_000,
            catch_up_behind: true,
        }
    }
}

/// One face to recognise, as a descriptor of every model pack the searched
/// domains hold (usually one), each with its pack's match threshold.
#[derive(Debug, Clone, Copy)]
pub struct PackQuery<'a> {
    pub pack: &'a str,
    pub vector: &'a [f32],
    /// Euclidean distance below which a hit is the same person.
    pub threshold: f32,
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

/// Where a domain's index came from at start-up.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexSource {
    /// A consistent dump was loaded.
    Dump,
    /// Rebuilt from redb, because of this.
    Rebuilt(DumpProblem),
    /// A stale dump, served while the current index is rebuilt behind it
    /// (people erased since are never answered meanwhile).
    ServedStale(DumpProblem),
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    pub domain: DomainCode,
    pub source: IndexSource,
    pub embeddings: usize,
    pub elapsed: Duration,
}

struct Route {
    order: Vec<DomainCode>,
    mode: SearchMode,
}

/// Writer-side state of one domain's index. Its mutex serialises every
/// change (applies, rebuilds, dumps); queries never take it.
struct SlotState {
    /// The redb embedding revision the current index reflects.
    revision: u64,
    /// Revision of the dump on disk, if any.
    saved_revision: Option<u64>,
    rebuilding: bool,
}

struct Slot {
    domain: DomainCode,
    current: RwLock<Arc<DomainIndex>>,
    state: Mutex<SlotState>,
    /// Serving a stale dump until its rebuild is swapped in.
    stale: std::sync::atomic::AtomicBool,
}

impl Slot {
    fn index(&self) -> Arc<DomainIndex> {
        self.current.read().expect("slot lock").clone()
    }
}

/// The served domains' indexes. Replacing one is a pointer swap: a query
/// sees either the old index or the new one, never a half-built one. An
/// edge may follow more domains while it runs ([`IndexSet::follow`]).
pub struct IndexSet {
    store: Arc<Store>,
    options: IndexOptions,
    slots: RwLock<HashMap<DomainCode, Arc<Slot>>>,
    routes: RwLock<HashMap<DomainCode, Arc<Route>>>,
}

/// Each served domain's search order, from the registry; an inherited
/// dataset outside `served` is an error (a node never reaches outside its
/// set).
fn routes_for(
    store: &Store,
    served: &[DomainCode],
) -> Result<HashMap<DomainCode, Arc<Route>>, IndexError> {
    let served_set: BTreeSet<&DomainCode> = served.iter().collect();
    let graph = store.dataset_graph()?;
    let mut routes = HashMap::new();
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
            Arc::new(Route {
                order,
                mode: domain.search_mode,
            }),
        );
    }
    Ok(routes)
}

impl IndexSet {
    /// Opens the indexes of the `served` domains: a consistent dump is
    /// loaded; a missing, stale or corrupt one is rebuilt from redb (one log
    /// line says why) and saved. Every inherited dataset must be served too
    /// — a node never reaches outside its set.
    pub fn open(
        store: Arc<Store>,
        served: &[DomainCode],
        options: IndexOptions,
    ) -> Result<(Self, Vec<LoadReport>), IndexError> {
        let routes = routes_for(&store, served)?;
        let mut slots = HashMap::new();
        let mut reports = Vec::new();
        for d in served {
            let (slot, report) = open_slot(&store, d, &options)?;
            slots.insert(d.clone(), Arc::new(slot));
            reports.push(report);
        }
        let set = Self {
            store,
            options,
            slots: RwLock::new(slots),
            routes: RwLock::new(routes),
        };
        for slot in set.all_slots() {
            set.catch_up_behind(slot);
        }
        Ok((set, reports))
    }

    /// Stops serving `domain` (an edge whose domains no longer inherit it):
    /// its index leaves the set and the search orders are taken again.
    /// Refused while a served domain still inherits it.
    pub fn unfollow(&self, domain: &DomainCode) -> Result<(), IndexError> {
        let served: Vec<DomainCode> = self.served().into_iter().filter(|d| d != domain).collect();
        let routes = routes_for(&self.store, &served)?;
        self.slots.write().expect("slots lock").remove(domain);
        *self.routes.write().expect("routes lock") = routes;
        Ok(())
    }

    /// Rebuilds a slot serving a stale dump on a thread of its own.
    fn catch_up_behind(&self, slot: Arc<Slot>) {
        if !self.options.catch_up_behind || !slot.stale.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        slot.state.lock().expect("slot state").rebuilding = true;
        let store = self.store.clone();
        std::thread::Builder::new()
            .name(format!("index-catch-up-{}", slot.domain))
            .spawn(move || {
                let started = Instant::now();
                match catch_up_slot(&store, &slot) {
                    Ok(how) => tracing::info!(domain = %slot.domain,
                        secs = format!("{:.1}", started.elapsed().as_secs_f64()), how,
                        "search index caught up: the stale index now holds what the database holds"),
                    Err(e) => tracing::error!(domain = %slot.domain, error = %e,
                        "catching a stale search index up failed; the stale one stays in use"),
                }
            })
            .expect("spawn index catch-up thread");
    }

    fn still_enrolled(&self, domain: &DomainCode, person: &PersonId) -> bool {
        self.store
            .get_person(domain, person)
            .ok()
            .flatten()
            .is_some_and(|p| p.status != facerec_storage::PersonStatus::Deleted)
    }

    /// Domains whose index is a stale dump, served while it is rebuilt.
    pub fn catching_up(&self) -> Vec<DomainCode> {
        let mut out: Vec<DomainCode> = self
            .all_slots()
            .into_iter()
            .filter(|s| s.stale.load(std::sync::atomic::Ordering::SeqCst))
            .map(|s| s.domain.clone())
            .collect();
        out.sort();
        out
    }

    /// Starts serving `more` domains (opened as at start-up) and takes the
    /// registry's current search orders: what an edge does when the hub's
    /// definitions change what its domains inherit. On an error (an
    /// inherited dataset still not served) the search orders stay as they
    /// were.
    pub fn follow(&self, more: &[DomainCode]) -> Result<Vec<LoadReport>, IndexError> {
        let mut reports = Vec::new();
        for d in more {
            if self.slots.read().expect("slots lock").contains_key(d) {
                continue;
            }
            let (slot, report) = open_slot(&self.store, d, &self.options)?;
            let slot = Arc::new(slot);
            self.slots
                .write()
                .expect("slots lock")
                .entry(d.clone())
                .or_insert_with(|| slot.clone());
            self.catch_up_behind(slot);
            reports.push(report);
        }
        let served = self.served();
        let routes = routes_for(&self.store, &served)?;
        *self.routes.write().expect("routes lock") = routes;
        Ok(reports)
    }

    pub fn params(&self) -> &SearchParams {
        &self.options.params
    }

    /// The domains this set serves.
    pub fn served(&self) -> Vec<DomainCode> {
        let mut served: Vec<DomainCode> = self
            .slots
            .read()
            .expect("slots lock")
            .keys()
            .cloned()
            .collect();
        served.sort();
        served
    }

    fn slot(&self, domain: &DomainCode) -> Result<Arc<Slot>, IndexError> {
        self.slots
            .read()
            .expect("slots lock")
            .get(domain)
            .cloned()
            .ok_or_else(|| IndexError::NotServed(domain.clone()))
    }

    fn route(&self, domain: &DomainCode) -> Result<Arc<Route>, IndexError> {
        self.routes
            .read()
            .expect("routes lock")
            .get(domain)
            .cloned()
            .ok_or_else(|| IndexError::NotServed(domain.clone()))
    }

    fn all_slots(&self) -> Vec<Arc<Slot>> {
        self.slots
            .read()
            .expect("slots lock")
            .values()
            .cloned()
            .collect()
    }

    /// The current index of a served domain.
    pub fn get(&self, domain: &DomainCode) -> Result<Arc<DomainIndex>, IndexError> {
        Ok(self.slot(domain)?.index())
    }

    /// Brings a domain's index up to a change already committed to redb:
    /// `added` embeddings and `removed` people, at redb `revision`. A query
    /// sees the whole change or none of it. Once removals pile up, the graph
    /// is rebuilt in the background.
    pub fn apply(
        &self,
        domain: &DomainCode,
        revision: u64,
        added: &[Embedding],
        removed: &[PersonId],
    ) -> Result<(), IndexError> {
        let slot = self.slot(domain)?;
        let mut state = slot.state.lock().expect("slot state");
        if revision <= state.revision && !(added.is_empty() && removed.is_empty()) {
            // A rebuild that finished meanwhile read the database after
            // this change: the index has it already.
            return Ok(());
        }
        let index = slot.index();
        if index.pack().is_none()
            && !added.is_empty()
            && let Some(pack) = self.store.embedding_pack(domain)?
        {
            index.set_pack(pack);
        }
        index.apply(added, removed);
        state.revision = revision;
        let dead = index.tombstones();
        let total = dead + index.len();
        let over = dead >= self.options.rebuild_min_tombstones
            && dead as f32 >= self.options.rebuild_tombstone_ratio * total as f32;
        if over && !state.rebuilding {
            state.rebuilding = true;
            drop(state);
            let store = self.store.clone();
            std::thread::Builder::new()
                .name(format!("index-rebuild-{domain}"))
                .spawn(move || {
                    tracing::info!(domain = %slot.domain, tombstones = dead, "rebuilding search index to drop removed people");
                    if let Err(e) = rebuild_slot(&store, &slot, None) {
                        tracing::error!(domain = %slot.domain, error = %e, "background index rebuild failed; the current index stays in use");
                    }
                })
                .expect("spawn rebuild thread");
        }
        Ok(())
    }

    /// Rebuilds a domain's index from redb now, swaps it in and saves it.
    pub fn rebuild(&self, domain: &DomainCode) -> Result<(), IndexError> {
        rebuild_slot(&self.store, &*self.slot(domain)?, None).map(|_| ())
    }

    /// Replaces the domain's index after a snapshot with the graph the hub
    /// shipped in it, checked against the embeddings redb now holds; a
    /// graph that does not fit them is logged with the reason and the
    /// index is built here instead. True when the shipped graph was used.
    pub fn install(&self, domain: &DomainCode, shipped: &ShippedGraph) -> Result<bool, IndexError> {
        rebuild_slot(&self.store, &*self.slot(domain)?, Some(shipped))
    }

    /// Waits until no background rebuild is running (tests, shutdown).
    pub fn wait_for_rebuilds(&self) {
        for slot in self.all_slots() {
            while slot.state.lock().expect("slot state").rebuilding {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Dumps every index whose dump is behind what it serves.
    pub fn save_all(&self) -> Result<(), IndexError> {
        for slot in self.all_slots() {
            let mut state = slot.state.lock().expect("slot state");
            if state.saved_revision != Some(state.revision) {
                save_slot(&self.store, &slot, &mut state)?;
            }
        }
        Ok(())
    }

    /// The model packs of the domains a search for `domain` walks, in
    /// order, each once: the descriptors a query must bring.
    pub fn route_packs(&self, domain: &DomainCode) -> Result<Vec<String>, IndexError> {
        let route = self.route(domain)?;
        let mut packs: Vec<String> = Vec::new();
        for d in &route.order {
            if let Some(p) = self.get(d)?.pack()
                && !packs.iter().any(|q| q == p)
            {
                packs.push(p.to_string());
            }
        }
        Ok(packs)
    }

    /// Recognises a face for a client of `domain`: its own data first, then
    /// its datasets by priority; `first_match` stops at the first domain with
    /// a match, `best` takes the closest match over all of them. Each domain
    /// is searched with the query's descriptor of that domain's pack, and
    /// distances of two packs are compared by their margin under their
    /// thresholds.
    pub fn search(
        &self,
        domain: &DomainCode,
        query: &[PackQuery<'_>],
    ) -> Result<SearchOutcome, IndexError> {
        let route = self.route(domain)?;
        let mut searched = Vec::new();
        let mut best: Option<(f32, Match)> = None;
        for d in &route.order {
            let slot = self.slot(d)?;
            let index = slot.index();
            let stale = slot.stale.load(std::sync::atomic::Ordering::SeqCst);
            searched.push(d.clone());
            let Some(pack) = index.pack() else {
                continue; // never held a descriptor
            };
            let q = query.iter().find(|q| q.pack == pack).ok_or_else(|| {
                IndexError::NoQueryForPack {
                    domain: d.clone(),
                    pack: pack.to_string(),
                }
            })?;
            let params = SearchParams {
                threshold: q.threshold,
                ..self.options.params
            };
            // A stale index may still hold people erased since it was
            // saved: they are never answered.
            let Some(hit) = index
                .search(q.vector, &params)
                .into_iter()
                .find(|h| !stale || self.still_enrolled(d, &h.person))
            else {
                continue;
            };
            if hit.distance >= q.threshold {
                continue;
            }
            let margin = hit.distance / q.threshold;
            let candidate = Match {
                person: hit.person,
                domain: d.clone(),
                distance: hit.distance,
                votes: hit.votes,
                confidence: confidence(hit.distance, q.threshold),
            };
            if best.as_ref().is_none_or(|(m, _)| margin < *m) {
                best = Some((margin, candidate));
            }
            if route.mode == SearchMode::FirstMatch {
                break;
            }
        }
        Ok(SearchOutcome {
            best: best.map(|(_, m)| m),
            searched,
        })
    }
}

fn open_slot(
    store: &Store,
    d: &DomainCode,
    options: &IndexOptions,
) -> Result<(Slot, LoadReport), IndexError> {
    let started = Instant::now();
    let dir = store.layout().index(d);
    let revision = store.embedding_revision(d)?;
    let count = store.embedding_count(d)?;
    let stored_pack = store.embedding_pack(d)?;
    let loaded = DomainIndex::load(&dir, d.clone(), revision, count).and_then(|(index, m)| {
        // A dump from before packs can only be of the legacy pack, which
        // the database then reports too.
        match &m.pack {
            Some(p) if Some(p) != stored_pack.as_ref() => Err(DumpProblem::OtherPack {
                dump: m.pack.clone(),
                db: stored_pack.clone(),
            }),
            _ => Ok(index),
        }
    });
    let stale = match &loaded {
        Err(DumpProblem::Stale { dump_count, .. }) if *dump_count >= options.serve_stale_from => {
            // Only a whole dump of the database's own pack may be served.
            DomainIndex::load_stale(&dir, d.clone())
                .ok()
                .filter(|(_, m)| m.pack.is_some() && m.pack == stored_pack)
        }
        _ => None,
    };
    let (index, revision, source) = match (loaded, stale) {
        (Ok(index), _) => (index.with_pack(stored_pack), revision, IndexSource::Dump),
        (Err(problem), Some((index, m))) => {
            tracing::warn!(domain = %d, reason = %problem,
                "serving the stale search index while the current one is rebuilt");
            (
                index.with_pack(stored_pack),
                m.revision,
                IndexSource::ServedStale(problem),
            )
        }
        (Err(problem), None) => {
            let set = store.domain_embeddings_at_revision(d)?;
            let (revision, embeddings) = (set.revision, set.embeddings);
            if problem == DumpProblem::Missing {
                tracing::info!(domain = %d, embeddings = embeddings.len(), reason = %problem, "building search index from the database");
            } else {
                tracing::warn!(domain = %d, embeddings = embeddings.len(), reason = %problem, "rebuilding search index from the database");
            }
            let index = DomainIndex::build(d.clone(), &embeddings).with_pack(set.pack);
            (index, revision, IndexSource::Rebuilt(problem))
        }
    };
    let served_stale = matches!(source, IndexSource::ServedStale(_));
    let slot = Slot {
        domain: d.clone(),
        current: RwLock::new(Arc::new(index)),
        state: Mutex::new(SlotState {
            revision,
            saved_revision: (source == IndexSource::Dump || served_stale).then_some(revision),
            rebuilding: false,
        }),
        stale: std::sync::atomic::AtomicBool::new(served_stale),
    };
    if matches!(source, IndexSource::Rebuilt(_)) {
        let mut state = slot.state.lock().expect("slot state");
        // A failed save costs only start-up time next time.
        if let Err(e) = save_slot(store, &slot, &mut state) {
            tracing::warn!(domain = %d, error = %e, "could not save the search index");
        }
    }
    let report = LoadReport {
        domain: d.clone(),
        source,
        embeddings: slot.index().len(),
        elapsed: started.elapsed(),
    };
    if report.source == IndexSource::Dump {
        tracing::info!(domain = %d, embeddings = report.embeddings, ms = report.elapsed.as_millis() as u64, "loaded search index dump");
    }
    Ok((slot, report))
}

fn save_slot(store: &Store, slot: &Slot, state: &mut SlotState) -> Result<(), IndexError> {
    let last_batch_seq = store.last_batch(&slot.domain)?.map(|b| b.seq);
    slot.index()
        .save(
            &store.layout().index(&slot.domain),
            state.revision,
            last_batch_seq,
        )
        .map_err(|source| IndexError::Save {
            domain: slot.domain.clone(),
            source,
        })?;
    state.saved_revision = Some(state.revision);
    Ok(())
}

/// Brings a slot serving a stale dump to what redb holds: the embeddings
/// added since are inserted and those gone are removed, in the index being
/// served; when most of it changed (a snapshot replaced everything), the
/// index is rebuilt instead. Says which.
fn catch_up_slot(store: &Store, slot: &Slot) -> Result<&'static str, IndexError> {
    let how = {
        let mut state = slot.state.lock().expect("slot state");
        let result = (|| -> Result<Option<&'static str>, IndexError> {
            // Only the ids of what redb holds, and the vectors of those the
            // index lacks: a million descriptors are not read twice over.
            let index = slot.index();
            let have: std::collections::HashSet<u64> = index.embedding_ids().into_iter().collect();
            let mut want = std::collections::HashSet::with_capacity(have.len());
            let mut added = Vec::new();
            let set = store.visit_domain_embeddings(&slot.domain, |e| {
                want.insert(e.id);
                if !have.contains(&e.id) {
                    added.push(e);
                }
            })?;
            let Some((added, gone)) = index.catch_up(&want, &added) else {
                return Ok(None);
            };
            tracing::debug!(domain = %slot.domain, added, gone, "stale index patched");
            state.revision = set.revision;
            slot.stale.store(false, std::sync::atomic::Ordering::SeqCst);
            save_slot(store, slot, &mut state)?;
            Ok(Some("patched"))
        })();
        state.rebuilding = false;
        result?
    };
    match how {
        Some(how) => Ok(how),
        None => rebuild_slot(store, slot, None).map(|_| "rebuilt"),
    }
}

/// Builds the slot's index from redb (or takes `shipped`, when it fits
/// what redb holds) and swaps it in; true when `shipped` was used.
fn rebuild_slot(
    store: &Store,
    slot: &Slot,
    shipped: Option<&ShippedGraph>,
) -> Result<bool, IndexError> {
    let mut state = slot.state.lock().expect("slot state");
    let result = (|| {
        // A shipped graph is assembled from redb's embeddings one at a
        // time; only if it does not fit are they all read to build one.
        let from_hub = match shipped {
            Some(graph) => {
                let mut assembly = crate::domain::ShippedAssembly::default();
                let set = store.visit_domain_embeddings(&slot.domain, |e| assembly.push(&e))?;
                match assembly.finish(slot.domain.clone(), graph) {
                    Ok(index) => Some((index, set)),
                    Err(reason) => {
                        tracing::warn!(domain = %slot.domain, %reason,
                            "the snapshot's search graph cannot be used: building it here");
                        None
                    }
                }
            }
            None => None,
        };
        let used = from_hub.is_some();
        let (index, set) = match from_hub {
            Some(built) => built,
            None => {
                let mut set = store.domain_embeddings_at_revision(&slot.domain)?;
                let index = DomainIndex::build(slot.domain.clone(), &set.embeddings);
                set.embeddings = Vec::new(); // before the swap and the dump
                (index, set)
            }
        };
        let index = index.with_pack(set.pack);
        *slot.current.write().expect("slot lock") = Arc::new(index);
        state.revision = set.revision;
        slot.stale.store(false, std::sync::atomic::Ordering::SeqCst);
        save_slot(store, slot, &mut state)?;
        Ok(used)
    })();
    state.rebuilding = false;
    result
}
