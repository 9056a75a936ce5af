//! [`PluginHost`]: instantiates a plugin per call in a fresh, limited store
//! and turns whatever happens into a result or a [`PluginError`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, Store, Trap};

use crate::bindings::filter::CandidateFilter;
use crate::bindings::source::CandidateSource;
use crate::bindings::{Candidate, Decision, Query};
use crate::catalog::{Catalog, Loaded, PluginInfo, PluginKind};
use crate::error::{PluginError, PluginErrorKind};
use crate::http::{Allowlist, GuardedHttp};
use crate::limits::PluginLimits;
use crate::output::{self, Generated};
use crate::state::HostState;

/// The epoch clock's resolution: deadlines are enforced to within a tick.
const TICK: Duration = Duration::from_millis(10);

/// What a domain grants its plugins.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub domain: String,
    pub http: Arc<Allowlist>,
}

pub struct PluginHost {
    engine: Engine,
    linker: Linker<HostState>,
    catalog: Catalog,
    limits: PluginLimits,
    http: GuardedHttp,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl PluginHost {
    /// A host loading plugins from `dir` (which need not exist yet).
    pub fn new(dir: PathBuf, limits: PluginLimits) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        // Rust's std makes every guest import WASI p2; the context built in
        // `HostState` grants none of it.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        CandidateSource::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (stop, ticking) = (ticker_stop.clone(), engine.clone());
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                }
            })?;
        Ok(Self {
            http: GuardedHttp::new(limits.http.clone()),
            engine,
            linker,
            catalog: Catalog::new(dir),
            limits,
            ticker_stop,
        })
    }

    pub fn limits(&self) -> &PluginLimits {
        &self.limits
    }

    pub fn plugins_dir(&self) -> &std::path::Path {
        self.catalog.dir()
    }

    /// The installed plugins (compiling any not yet cached).
    pub fn list(&self) -> Vec<Result<PluginInfo, PluginError>> {
        self.catalog.list(&self.engine, &self.linker)
    }

    /// Loads (or reuses) a plugin and checks it is of `kind`.
    pub fn load(&self, plugin: &str, kind: PluginKind) -> Result<PluginInfo, PluginError> {
        self.loaded(plugin, kind).map(|l| l.info)
    }

    fn loaded(&self, plugin: &str, kind: PluginKind) -> Result<Loaded, PluginError> {
        let loaded = self.catalog.get(&self.engine, &self.linker, plugin)?;
        if loaded.info.kind != kind {
            return Err(PluginError::new(
                plugin,
                PluginErrorKind::WrongKind {
                    expected: kind.label(),
                    actual: loaded.info.kind.label(),
                },
            ));
        }
        Ok(loaded)
    }

    fn store(&self, plugin: &str, grants: &Grants) -> Store<HostState> {
        let state = HostState::new(
            plugin,
            &grants.domain,
            grants.http.clone(),
            self.http.clone(),
            self.limits.memory_bytes,
            self.limits.max_log_bytes,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        let ticks = self.limits.deadline.as_millis().div_ceil(TICK.as_millis()) as u64 + 1;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// Runs a source plugin's `generate`.
    pub fn generate(
        &self,
        plugin: &str,
        grants: &Grants,
        query: &Query,
    ) -> Result<Generated, PluginError> {
        let loaded = self.loaded(plugin, PluginKind::Source)?;
        let mut store = self.store(plugin, grants);
        let started = Instant::now();
        let instance = CandidateSource::instantiate(&mut store, &loaded.component, &self.linker)
            .map_err(|e| self.failure(plugin, &store, e, true))?;
        let result = instance
            .call_generate(&mut store, query)
            .map_err(|e| self.failure(plugin, &store, e, false))?;
        self.note_dropped_logs(plugin, &store);
        let candidates =
            result.map_err(|msg| PluginError::new(plugin, PluginErrorKind::Failed(msg)))?;
        let generated = output::check_candidates(candidates, &self.limits, query.limit)
            .map_err(|k| PluginError::new(plugin, k))?;
        for r in &generated.rejected {
            tracing::warn!(target: "facerec::plugin", plugin, domain = grants.domain, row = r.index,
                name = %r.name, reason = %r.reason, "a candidate was set aside");
        }
        tracing::debug!(target: "facerec::plugin", plugin, domain = grants.domain,
            candidates = generated.candidates.len(), rejected = generated.rejected.len(),
            elapsed_ms = started.elapsed().as_millis() as u64, "generate");
        Ok(generated)
    }

    /// Runs a filter plugin's `filter`: one decision per candidate.
    pub fn filter(
        &self,
        plugin: &str,
        grants: &Grants,
        query: &Query,
        candidates: &[Candidate],
    ) -> Result<Vec<Decision>, PluginError> {
        let loaded = self.loaded(plugin, PluginKind::Filter)?;
        let mut store = self.store(plugin, grants);
        let instance = CandidateFilter::instantiate(&mut store, &loaded.component, &self.linker)
            .map_err(|e| self.failure(plugin, &store, e, true))?;
        let result = instance
            .call_filter(&mut store, query, candidates)
            .map_err(|e| self.failure(plugin, &store, e, false))?;
        self.note_dropped_logs(plugin, &store);
        let mut decisions =
            result.map_err(|msg| PluginError::new(plugin, PluginErrorKind::Failed(msg)))?;
        output::check_decisions(&mut decisions, candidates.len(), &self.limits)
            .map_err(|k| PluginError::new(plugin, k))?;
        Ok(decisions)
    }

    fn note_dropped_logs(&self, plugin: &str, store: &Store<HostState>) {
        let dropped = store.data().log_dropped();
        if dropped > 0 {
            tracing::warn!(target: "facerec::plugin", plugin, dropped,
                "log lines dropped: the call's log budget of {} bytes was spent", self.limits.max_log_bytes);
        }
    }

    /// Classifies a wasmtime error: deadline, memory cap or another trap.
    fn failure(
        &self,
        plugin: &str,
        store: &Store<HostState>,
        error: wasmtime::Error,
        instantiating: bool,
    ) -> PluginError {
        let state = store.data();
        let kind = if let Some(requested) = state.memory.refused {
            PluginErrorKind::Memory {
                requested,
                cap: state.memory.cap,
            }
        } else if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            PluginErrorKind::Deadline(self.limits.deadline)
        } else if instantiating {
            PluginErrorKind::Instantiate(format!("{error:#}"))
        } else {
            let trap = error
                .downcast_ref::<Trap>()
                .map_or_else(|| format!("{error:#}"), |t| t.to_string());
            match state.stderr_tail() {
                Some(stderr) => PluginErrorKind::Trap(format!("{trap}; it wrote: {stderr}")),
                None => PluginErrorKind::Trap(trap),
            }
        };
        let err = PluginError::new(plugin, kind);
        tracing::warn!(target: "facerec::plugin", "{err}");
        err
    }
}
