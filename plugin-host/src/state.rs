//! The per-call store state and the host imports plugins may use.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::host::{self, HttpError, HttpResponse, Level};
use crate::bindings::source::facerec::plugin::types;
use crate::http::{Allowlist, FetchError, GuardedHttp};
use crate::limits::MemoryCap;

/// Longest single log line kept; the rest is cut.
const MAX_LOG_LINE: usize = 2048;
/// Guest stderr kept to explain a panic.
const STDERR_CAPACITY: usize = 8 * 1024;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory: MemoryCap,
    pub stderr: MemoryOutputPipe,
    plugin: Arc<str>,
    domain: Arc<str>,
    allowlist: Arc<Allowlist>,
    http: GuardedHttp,
    log_budget: usize,
    log_dropped: usize,
}

impl HostState {
    pub fn new(
        plugin: &str,
        domain: &str,
        allowlist: Arc<Allowlist>,
        http: GuardedHttp,
        memory_cap: usize,
        log_budget: usize,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // Nothing is granted: no preopened directories, no environment, no
        // arguments, no sockets, stdin closed. Only stderr is captured, so a
        // panic message can be reported.
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        Self {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap {
                cap: memory_cap,
                refused: None,
            },
            stderr,
            plugin: plugin.into(),
            domain: domain.into(),
            allowlist,
            http,
            log_budget,
            log_dropped: 0,
        }
    }

    /// The last line(s) the guest wrote to stderr (its panic message).
    pub fn stderr_tail(&self) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        // Rust's panic handler suggests an environment variable a plugin
        // cannot set: leave that line out of what operators read.
        let text: String = text
            .lines()
            .filter(|l| !l.contains("RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join("\n");
        let text = text.trim();
        (!text.is_empty()).then(|| {
            let start = text.len().saturating_sub(500);
            let start = (start..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            text[start..].replace('\n', " ")
        })
    }

    pub fn log_dropped(&self) -> usize {
        self.log_dropped
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        if message.len() > self.log_budget {
            self.log_dropped += 1;
            return;
        }
        let mut line = message;
        if line.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        self.log_budget -= line.len();
        let (plugin, domain) = (&*self.plugin, &*self.domain);
        match level {
            Level::Trace => tracing::trace!(target: "facerec::plugin", plugin, domain, "{line}"),
            Level::Debug => tracing::debug!(target: "facerec::plugin", plugin, domain, "{line}"),
            Level::Info => tracing::info!(target: "facerec::plugin", plugin, domain, "{line}"),
            Level::Warn => tracing::warn!(target: "facerec::plugin", plugin, domain, "{line}"),
            Level::Error => tracing::error!(target: "facerec::plugin", plugin, domain, "{line}"),
        }
    }

    fn http_get(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
    ) -> Result<HttpResponse, HttpError> {
        let result = self.http.get(&self.allowlist, &url, &headers);
        match &result {
            Ok(r) => tracing::debug!(target: "facerec::plugin", plugin = &*self.plugin,
                domain = &*self.domain, url, status = r.status, bytes = r.body.len(), "http-get"),
            Err(e) => tracing::warn!(target: "facerec::plugin", plugin = &*self.plugin,
                domain = &*self.domain, url, "http-get refused or failed: {e}"),
        }
        result
            .map(|r| HttpResponse {
                status: r.status,
                content_type: r.content_type,
                body: r.body,
            })
            .map_err(|e| match e {
                FetchError::Denied(why) => HttpError::Denied(why),
                FetchError::Timeout => HttpError::Timeout,
                FetchError::TooLarge(n) => HttpError::TooLarge(n),
                FetchError::Failed(why) => HttpError::Failed(why),
            })
    }
}
