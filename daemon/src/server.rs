//! Starting and stopping a node: open storage, resolve tokens, bind, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use facerec_storage::{DomainCode, DomainConfigFile, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use facerec_api::AppState;
use facerec_api::auth::{TokenTable, ensure_bootstrap_admin};
use facerec_node::{NodeScope, Role};

/// A node serving HTTP in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The node's registry (for embedding and tests: the file is locked).
    pub store: Arc<Store>,
    /// An edge's search indexes.
    pub index: Option<Arc<facerec_index::IndexSet>>,
    /// A hub's batch publisher (None on an edge or with MQTT off).
    pub publisher: Option<facerec_hub::publisher::Publisher>,
    /// Batch sync as this node sees it (None when MQTT is off).
    pub sync_status: Option<facerec_edge::subscriber::SyncStatus>,
    /// An edge's cameras and their event bus (None without cameras).
    pub live: Option<facerec_live::Live>,
    /// Where the generated admin token is, when the config names none.
    pub bootstrap_token_file: Option<PathBuf>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, and closes storage.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some(live) = &self.live {
            live.cameras.iter().for_each(|c| c.stop());
        }
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
    let mut node = node_scope(config, role)?;
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

    let mqtt = config.mqtt(role)?;
    if let facerec_sync::config::BrokerChoice::Embedded { listen } = &mqtt.broker {
        facerec_sync::broker::start(*listen).with_context(|| {
            format!("cannot start the embedded MQTT broker on {listen} (set FACEREC_MQTT_BROKER to use another broker, or `off`)")
        })?;
    }
    let metrics = Arc::new(facerec_node::metrics::Metrics::new());
    let mut publisher = None;
    let mut index = None;
    let mut sync_status = None;
    let mut live = None;
    let engines = Arc::new(facerec_vision::Engines::new(
        facerec_vision::ModelFiles::new(&config.models_dir),
    ));
    let plugins = if role == Role::Hub {
        // The batch-signing key exists from the first start, so its public
        // half can be handed to edges before any batch is built.
        let key = facerec_sync::keys::hub_key(store.layout())?;
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
        if mqtt.enabled() {
            publisher = Some(facerec_hub::publisher::start(&mqtt, store.clone(), key)?);
        }
        Some(Arc::new(config.plugin_host()?))
    } else {
        let roots: Vec<DomainCode> = node.allowed().into_iter().flatten().collect();
        let served = served_domains(&store, &node, &mqtt).await?;
        node = NodeScope::new(Role::Edge, node.primary.clone(), &served);
        let options = facerec_index::IndexOptions::new(facerec_index::SearchParams {
            ef: config.search_ef,
            ef_large: config.search_ef_large,
            ..facerec_index::SearchParams::with_threshold(facerec_vision::MATCH_THRESHOLD)
        });
        let (set, _reports) = {
            let store = store.clone();
            let served = served.clone();
            tokio::task::spawn_blocking(move || {
                let opened = facerec_index::IndexSet::open(store, &served, options);
                // Building a graph leaves hnsw_rs's freed structures in
                // glibc's free lists; they are not the index's to keep.
                facerec_node::memory::release_freed();
                opened
            })
            .await??
        };
        let set = Arc::new(set);
        let mut mqtt_client = None;
        if mqtt.enabled() {
            let (status, client) = facerec_edge::subscriber::start(
                &mqtt,
                store.clone(),
                set.clone(),
                &served,
                node.clone(),
                roots,
                metrics.clone(),
            )?;
            sync_status = Some(status);
            mqtt_client = Some(client);
        }
        if !config.cameras.is_empty() {
            // Load the cameras' packs now: a missing model fails the start,
            // not the first face.
            let (loader, index_for_packs, cameras_domain) =
                (engines.clone(), set.clone(), node.primary.clone());
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                loader.detector()?;
                if let Some(domain) = cameras_domain {
                    for pack in facerec_live::recognition::route_packs(&index_for_packs, &domain)? {
                        loader.get(pack)?;
                    }
                }
                Ok(())
            })
            .await?
            .with_context(|| {
                format!(
                    "cannot load the face models from {}",
                    config.models_dir.display()
                )
            })?;
            let started = facerec_live::start(
                &config.cameras,
                node.primary.as_ref(),
                facerec_live::LiveDeps {
                    engines: engines.clone(),
                    index: set.clone(),
                    store: store.clone(),
                    device_id: mqtt.device_id.clone(),
                    bus: facerec_live::EventBus::new(config.event_history),
                    metrics: metrics.clone(),
                },
            )?;
            if let Some(client) = mqtt_client {
                facerec_live::mqtt::forward(
                    client,
                    mqtt.topics().device_events(&mqtt.device_id),
                    &started.bus,
                    metrics.clone(),
                );
            }
            live = Some(started);
        }
        index = Some(set);
        None
    };
    watch_storage(store.clone());
    let state = AppState {
        plugins,
        publisher: publisher.clone(),
        index: index.clone(),
        sync_status: sync_status.clone(),
        metrics,
        live: live.clone(),
        jobs: Default::default(),
        engines,
        http_limits: config.plugin_limits.http.clone(),
        store: store.clone(),
        tokens: Arc::new(TokenTable::from_config(&tokens)?),
        access_tokens: Default::default(),
        node: Arc::new(node),
        public_hosts: Arc::new(config.public_hosts.clone()),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, %role, data_root = %config.data_root.display(), "facerecd serving");

    let (tx, rx) = oneshot::channel::<()>();
    let app = facerec_api::router(state);
    let limits = config.http_limits;
    let task = tokio::spawn(async move {
        facerec_api::http_server::serve(listener, app, limits, async {
            let _ = rx.await;
        })
        .await;
        Ok::<(), std::io::Error>(())
    });
    Ok(RunningServer {
        addr,
        store,
        index,
        publisher,
        sync_status,
        live,
        bootstrap_token_file,
        shutdown: tx,
        task,
    })
}

/// An edge's domains: its own, every domain it inherits and every allowed
/// one. With MQTT, the hub's definitions fill in what the registry lacks;
/// without it, they must have been imported (FACEREC_DOMAINS_FILE).
async fn served_domains(
    store: &Arc<Store>,
    node: &NodeScope,
    mqtt: &facerec_sync::config::MqttConfig,
) -> anyhow::Result<Vec<DomainCode>> {
    let mut served: Vec<DomainCode> = node.allowed().into_iter().flatten().collect();
    if mqtt.enabled() {
        for d in facerec_edge::definitions::fetch_missing(mqtt, store, &served).await? {
            if !served.contains(&d) {
                served.push(d);
            }
        }
    }
    for d in &served {
        let store2 = store.clone();
        let d2 = d.clone();
        let known = tokio::task::spawn_blocking(move || store2.domain(&d2)).await?;
        if known.is_err() {
            bail!(
                "this edge serves domain '{d}', which its registry does not know: import the domain \
configuration (FACEREC_DOMAINS_FILE, or `facerecd domains import`) first, or connect \
the edge to the hub's broker, which publishes it"
            );
        }
    }
    Ok(served)
}

/// How often a node checks that its registry still accepts writes.
const STORAGE_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Reopens the registry after an I/O error (a full disk) once writing works
/// again, so that no restart is needed; `/readyz` says not ready meanwhile.
/// Ends with the node (it holds the registry only while checking).
fn watch_storage(store: Arc<Store>) {
    let store = Arc::downgrade(&store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STORAGE_CHECK);
        let mut failing_since: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            let Some(s) = store.upgrade() else {
                return;
            };
            let Ok(result) = tokio::task::spawn_blocking(move || s.recover()).await else {
                continue;
            };
            match result {
                Ok(true) => {
                    failing_since = None;
                    tracing::warn!(
                        "the registry was reopened after an I/O error and accepts writes again"
                    );
                }
                Ok(false) => failing_since = None,
                Err(e) => {
                    // Once when it starts, then every minute while it lasts.
                    let say = failing_since
                        .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60));
                    if say {
                        failing_since = Some(std::time::Instant::now());
                        tracing::error!(error = %e, "the registry refuses writes after an I/O error; retrying");
                    }
                }
            }
        }
    });
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
