//! Starting and stopping a node: open storage, resolve tokens, bind, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use facerec_storage::{DomainConfigFile, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{self, AppState};
use crate::auth::{TokenTable, ensure_bootstrap_admin};
use crate::config::Config;
use crate::node::{NodeScope, Role};

/// A node serving HTTP in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where the generated admin token is, when the config names none.
    pub bootstrap_token_file: Option<PathBuf>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, and closes storage.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task
            .await
            .context("server task panicked")?
            .context("server failed")?;
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM, then stops gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can install a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Checks that the configuration makes sense for `role`.
pub fn node_scope(config: &Config, role: Role) -> anyhow::Result<NodeScope> {
    if role == Role::Edge && config.primary_domain.is_none() {
        bail!(
            "an edge needs its own domain: set PRIMARY_DOMAIN (or primary_domain in the config file)"
        );
    }
    Ok(NodeScope::new(
        role,
        config.primary_domain.clone(),
        &config.allowed_domains,
    ))
}

/// Opens the node's storage and starts serving on `config.listen`
/// (port 0 picks a free port; see [`RunningServer::addr`]).
pub async fn start(config: &Config, role: Role) -> anyhow::Result<RunningServer> {
    let node = node_scope(config, role)?;
    let root = config.data_root.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&root))
        .await?
        .with_context(|| format!("cannot open the data root {}", config.data_root.display()))?;
    let store = Arc::new(store);

    if let Some(file) = &config.domains_file {
        let report = import_domains_file(&store, file, false).await?;
        tracing::info!(file = %file.display(), created = ?report.created, updated = ?report.updated,
            datasets_changed = ?report.datasets_changed, "domain configuration imported");
    }

    let mut tokens = config.tokens.clone();
    let mut bootstrap_token_file = None;
    if !TokenTable::from_config(&tokens)?.has_admin() {
        let (entry, path) = ensure_bootstrap_admin(store.layout())?;
        tracing::warn!(file = %path.display(),
            "no admin token configured: using the generated one in this file");
        tokens.push(entry);
        bootstrap_token_file = Some(path);
    }

    let plugins = if role == Role::Hub {
        // The batch-signing key exists from the first start, so its public
        // half can be handed to edges before any batch is built.
        let key = crate::hub::keys::hub_key(store.layout())?;
        tracing::info!(public_key = %hex::encode(key.verifying_key().to_bytes()), "hub batch-signing key");
        match facerec_plugin_host::bundled::install_missing(&config.plugins_dir) {
            Ok(written) if !written.is_empty() => {
                tracing::info!(dir = %config.plugins_dir.display(),
                plugins = ?written, "installed the bundled plugins")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(dir = %config.plugins_dir.display(),
                "cannot install the bundled plugins: {e}"),
        }
        Some(Arc::new(crate::commands::train::plugin_host(config)?))
    } else {
        None
    };
    let state = AppState {
        plugins,
        jobs: Default::default(),
        engine: Default::default(),
        models_dir: Arc::new(config.models_dir.clone()),
        http_limits: config.plugin_limits.http.clone(),
        store,
        tokens: Arc::new(TokenTable::from_config(&tokens)?),
        node: Arc::new(node),
        public_hosts: Arc::new(config.public_hosts.clone()),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, %role, data_root = %config.data_root.display(), "facerecd serving");

    let (tx, rx) = oneshot::channel::<()>();
    let app = api::router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        bootstrap_token_file,
        shutdown: tx,
        task,
    })
}

/// Reads and imports a domain configuration JSON file.
pub async fn import_domains_file(
    store: &Arc<Store>,
    path: &std::path::Path,
    dry_run: bool,
) -> anyhow::Result<facerec_storage::ImportReport> {
    let text = tokio::fs::read_to_string(path)
        .await
        .with_context(|| format!("cannot read domain configuration {}", path.display()))?;
    let file = DomainConfigFile::from_json(&text)
        .with_context(|| format!("{} is not a valid domain configuration", path.display()))?;
    let store = store.clone();
    let report = tokio::task::spawn_blocking(move || store.import_domains(&file, dry_run))
        .await?
        .with_context(|| format!("importing {} changed nothing", path.display()))?;
    Ok(report)
}
