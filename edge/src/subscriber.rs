//! The edge's side of sync: follows its own domains' topics only,
//! reassembles and verifies batches, and applies them strictly in seq
//! order. When it is behind (a retained head says so, or a batch is
//! missing), it asks the hub; a new or far-behind edge is answered with a
//! snapshot. Chunks go into a spool file; a batch too large to push is
//! pulled a few segments at a time, and segments that went missing or
//! arrived corrupt are asked for again (see `chunks.rs`).
//!
//! Acknowledgements: the chunk that completes a batch is acknowledged only
//! after the batch is committed (or rejected). Earlier chunks and
//! manifests are acknowledged once spooled — brokers cap unacknowledged
//! messages (20 on a default mosquitto), and a batch has more chunks than
//! that. Spools do not outlive the process: what a crash interrupts, the
//! head-and-request path fetches again.
//!
//! Architecture invariant: an edge never subscribes to, buffers or applies
//! another domain's data, and never applies a batch whose signature does
//! not verify against a configured hub key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::VerifyingKey;
use facerec_index::IndexSet;
use facerec_storage::{BatchKind, DomainCode, IncomingBatch, Store};
use rumqttc::{AsyncClient, LastWill, Publish, QoS};

use crate::apply::{apply, incoming, save_dump};
use facerec_sync::batch::{BatchManifest, verify_file, verify_manifest};
use facerec_sync::chunks::{Accepted, ChunkError, Reassembly};
use facerec_sync::client::{LinkEvent, connect, connect_options};
use facerec_sync::config::MqttConfig;
use facerec_sync::messages::{
    Announcement, DeviceState, DomainSyncState, Message, SegmentRequest, SyncRequest,
};
use facerec_sync::topics::{BatchRef, Topic, Topics};

/// How long to wait for progress before asking the hub (again).
const REQUEST_AFTER: Duration = Duration::from_secs(3);
/// Batches being reassembled per domain; an older one is dropped beyond it.
const MAX_ASSEMBLIES: usize = 8;
/// Verified batches waiting for an earlier one, per domain.
const MAX_WAITING: usize = 64;
/// Segments asked for and not yet in, per batch: the flow control of a
/// large batch (2 × 4 MiB in the broker's queue at most).
const PULL_AHEAD: usize = 2;

/// What the edge's sync looks like from outside (the API and the retained
/// device state).
pub type SyncStatus = Arc<RwLock<DeviceState>>;

struct Assembly {
    manifest: BatchManifest,
    chunks: Reassembly,
    /// Segments asked for and when.
    asked: HashMap<u32, Instant>,
    last_chunk: Instant,
}

#[derive(Default)]
struct DomainSync {
    applied: u64,
    head: Option<u64>,
    assemblies: HashMap<(BatchKind, u64), Assembly>,
    waiting: BTreeMap<u64, IncomingBatch>,
    last_request: Option<Instant>,
    last_progress: Option<Instant>,
}

struct EdgeSync {
    client: AsyncClient,
    topics: Topics,
    store: Arc<Store>,
    index: Arc<IndexSet>,
    trusted: Vec<VerifyingKey>,
    device_id: String,
    domains: HashMap<DomainCode, DomainSync>,
    status: SyncStatus,
    metrics: Arc<facerec_node::metrics::Metrics>,
    scope: facerec_node::NodeScope,
    /// The domains this edge is configured with (its own and any allowed):
    /// it follows them and what they inherit, and nothing else.
    roots: Vec<DomainCode>,
    /// Hub definitions that wait for the definitions of domains they inherit.
    pending: crate::definitions::Pending,
    /// Domains outside the served set whose definitions are awaited.
    awaiting: std::collections::BTreeSet<DomainCode>,
    /// The newest definition applied per domain: an older one replayed
    /// later is refused.
    definitions_seen: HashMap<DomainCode, chrono::DateTime<chrono::Utc>>,
}

/// Connects to the broker and starts following `domains`, and any domain
/// the hub's definitions make them inherit later (added to `scope`).
pub fn start(
    config: &MqttConfig,
    store: Arc<Store>,
    index: Arc<IndexSet>,
    domains: &[DomainCode],
    scope: facerec_node::NodeScope,
    roots: Vec<DomainCode>,
    metrics: Arc<facerec_node::metrics::Metrics>,
) -> anyhow::Result<(SyncStatus, AsyncClient)> {
    if config.hub_public_keys.is_empty() {
        anyhow::bail!(
            "an edge needs the hub's public key to trust its batches: run `facerecd batch public-key` \
on the hub and set FACEREC_HUB_PUBLIC_KEYS (or hub_public_keys in [mqtt])"
        );
    }
    let topics = config.topics();
    // Spooled batches of a previous run are incomplete: they are asked for again.
    let incoming = store.layout().incoming();
    if incoming.exists() {
        std::fs::remove_dir_all(&incoming)
            .with_context(|| format!("cannot empty {}", incoming.display()))?;
    }
    let mut tracked = HashMap::new();
    for d in domains {
        tracked.insert(
            d.clone(),
            DomainSync {
                applied: store.applied_seq(d)?,
                ..Default::default()
            },
        );
    }
    let status: SyncStatus = Arc::new(RwLock::new(DeviceState {
        device_id: config.device_id.clone(),
        online: false,
        role: "edge".into(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        domains: vec![],
        updated_at: chrono::Utc::now(),
    }));
    let mut offline = status.read().expect("status lock").clone();
    offline.domains = tracked
        .iter()
        .map(|(d, s)| DomainSyncState {
            domain: d.to_string(),
            applied_seq: s.applied,
            head_seq: None,
            descriptors: 0,
            pack: None,
        })
        .collect();
    let will = LastWill::new(
        topics.device_state(&config.device_id),
        Message::DeviceState(offline).encode(),
        QoS::AtLeastOnce,
        true,
    );
    let options = connect_options(config, &config.device_id, Some(will))?;
    let (client, mut events) = connect(options);
    let mut edge = EdgeSync {
        client: client.clone(),
        topics,
        store,
        index,
        trusted: config.hub_public_keys.clone(),
        device_id: config.device_id.clone(),
        domains: tracked,
        status: status.clone(),
        metrics,
        scope,
        roots,
        pending: Default::default(),
        awaiting: Default::default(),
        definitions_seen: HashMap::new(),
    };
    edge.refresh_status(false);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let result = tokio::select! {
                event = events.recv() => match event {
                    Some(event) => edge.on_event(event).await,
                    None => return,
                },
                _ = tick.tick() => edge.ask_if_stalled().await,
            };
            if let Err(e) = result {
                tracing::warn!(error = format!("{e:#}"), "batch sync");
            }
        }
    });
    Ok((status, client))
}

/// Logs why a batch was refused (nothing of it was applied) and counts it.
fn rejected(metrics: &facerec_node::metrics::Metrics, b: &BatchRef, reason: &str) {
    tracing::warn!(domain = %b.domain, seq = b.seq, kind = ?b.kind, reason, "rejected a batch");
    metrics
        .sync_batches
        .with_label_values(&[b.domain.as_str(), "rejected"])
        .inc();
}

impl EdgeSync {
    async fn on_event(&mut self, event: LinkEvent) -> anyhow::Result<()> {
        match event {
            LinkEvent::Connected { session_present } => {
                tracing::info!(session_present, "edge connected to the MQTT broker");
                let filters: Vec<String> = self
                    .domains
                    .keys()
                    .flat_map(|d| self.topics.edge_filters(d))
                    .collect();
                for f in filters {
                    self.client.subscribe(f, QoS::AtLeastOnce).await?;
                }
                self.refresh_status(true);
                self.publish_state().await?;
                // Ask straight away: a retained head may not exist yet, and
                // a restarted edge should not wait for the stall timer.
                let domains: Vec<DomainCode> = self.domains.keys().cloned().collect();
                for d in domains {
                    self.request(&d).await?;
                }
                Ok(())
            }
            LinkEvent::Disconnected(_) => {
                self.refresh_status(false);
                Ok(())
            }
            LinkEvent::Message(publish) => {
                let result = self.on_message(&publish).await;
                self.client.ack(&publish).await?;
                result
            }
        }
    }

    async fn on_message(&mut self, publish: &Publish) -> anyhow::Result<()> {
        let Some(topic) = self.topics.parse(&publish.topic) else {
            tracing::debug!(topic = %publish.topic, "ignoring a message outside the topic tree");
            return Ok(());
        };
        if let Topic::Definition(d) = &topic {
            if self.domains.contains_key(d) || self.awaiting.contains(d) {
                self.on_definition(d, &publish.payload).await?;
            }
            return Ok(());
        }
        let domain = match &topic {
            Topic::Head(d) | Topic::Request(d) | Topic::Definition(d) => d,
            Topic::Manifest(b) | Topic::Chunk(b, _) => &b.domain,
            Topic::DeviceState(_) | Topic::DeviceEvents(_) => return Ok(()),
        };
        if !self.domains.contains_key(domain) {
            tracing::warn!(topic = %publish.topic, "ignoring a message for a domain this edge does not serve");
            return Ok(());
        }
        match topic {
            Topic::Head(d) => self.on_head(&d, &publish.payload).await,
            Topic::Manifest(b) => self.on_manifest(&b, &publish.payload).await,
            Topic::Chunk(b, n) => self.on_chunk(&b, n, &publish.payload).await,
            _ => Ok(()),
        }
    }

    async fn on_head(&mut self, domain: &DomainCode, payload: &[u8]) -> anyhow::Result<()> {
        let head = match Message::decode(payload) {
            Ok(Message::Head(h)) if h.domain == domain.as_str() => h,
            _ => {
                tracing::warn!(%domain, "ignoring a malformed head");
                return Ok(());
            }
        };
        let sync = self.domains.get_mut(domain).expect("served");
        sync.head = Some(head.seq);
        let behind = sync.applied < head.seq;
        self.refresh_status(true);
        if behind {
            self.request(domain).await?;
        }
        Ok(())
    }

    /// Follows the hub's changes to a served domain's registry entry. A
    /// definition inheriting a domain this edge does not know waits for
    /// that domain's definition; then both are imported and the new domain
    /// is followed like the others. A domain the hub deleted keeps its data
    /// here: the hub's delete does not reach into appliances.
    async fn on_definition(&mut self, domain: &DomainCode, payload: &[u8]) -> anyhow::Result<()> {
        let count = |m: &facerec_node::metrics::Metrics, outcome: &str| {
            m.sync_definitions
                .with_label_values(&[domain.as_str(), outcome])
                .inc();
        };
        let definition = match crate::definitions::decode_verified(payload, &self.trusted, domain) {
            Ok(Some(d)) => d,
            Ok(None) => {
                tracing::warn!(%domain, "the hub no longer defines this domain; its data stays on this edge");
                return Ok(());
            }
            Err(e) => {
                count(&self.metrics, "refused");
                tracing::warn!(%domain, reason = format!("{e:#}"), "refused a domain definition");
                return Ok(());
            }
        };
        if self
            .definitions_seen
            .get(domain)
            .is_some_and(|seen| definition.updated_at < *seen)
        {
            count(&self.metrics, "refused");
            tracing::warn!(%domain, "refused a domain definition older than one already applied");
            return Ok(());
        }
        self.definitions_seen
            .insert(domain.clone(), definition.updated_at);
        self.pending.add(domain.clone(), definition);
        let missing = self.pending.missing(&self.store)?;
        if !missing.is_empty() {
            count(&self.metrics, "waiting");
            tracing::info!(%domain, needs = ?missing,
                "the hub's definition inherits domains this edge does not know yet: fetching their definitions");
            for d in missing {
                if self.awaiting.insert(d.clone()) {
                    self.client
                        .subscribe(self.topics.definition(&d), QoS::AtLeastOnce)
                        .await?;
                }
            }
            return Ok(());
        }
        let store = self.store.clone();
        let mut pending = std::mem::take(&mut self.pending);
        match tokio::task::spawn_blocking(move || pending.import(&store)).await? {
            Ok(report) => {
                count(&self.metrics, "applied");
                if report.changed_anything() {
                    tracing::info!(%domain, created = ?report.created, updated = ?report.updated,
                        "domain definitions updated from the hub");
                }
            }
            Err(e) => {
                count(&self.metrics, "refused");
                tracing::warn!(%domain, reason = format!("{e:#}"), "cannot apply the hub's domain definition");
                return Ok(());
            }
        }
        self.awaiting.clear();
        self.follow_inherited().await
    }

    /// Serves every domain the registry now says this edge's own domains
    /// inherit, stops serving (and deletes the data of) any they no longer
    /// inherit, and takes the new search orders.
    async fn follow_inherited(&mut self) -> anyhow::Result<()> {
        let (store, roots) = (self.store.clone(), self.roots.clone());
        let (known, _) = tokio::task::spawn_blocking(move || {
            facerec_sync::definitions::inheritance_closure(&store, &roots)
        })
        .await??;
        let new: Vec<DomainCode> = known
            .iter()
            .filter(|d| !self.domains.contains_key(*d))
            .cloned()
            .collect();
        let dropped: Vec<DomainCode> = self
            .domains
            .keys()
            .filter(|d| !known.contains(d))
            .cloned()
            .collect();
        let (index, added) = (self.index.clone(), new.clone());
        tokio::task::spawn_blocking(move || index.follow(&added)).await??;
        for d in new {
            tracing::info!(domain = %d, "following a domain the hub's definitions made this edge inherit");
            self.scope.follow(d.clone());
            self.domains.insert(
                d.clone(),
                DomainSync {
                    applied: self.store.applied_seq(&d)?,
                    ..Default::default()
                },
            );
            for f in self.topics.edge_filters(&d) {
                self.client.subscribe(f, QoS::AtLeastOnce).await?;
            }
            self.request(&d).await?;
        }
        for d in dropped {
            self.unfollow(&d).await?;
        }
        self.refresh_status(true);
        self.publish_state().await
    }

    /// Stops following a domain no own domain inherits any more: no more
    /// of its messages, no more searches in it, and its data deleted.
    async fn unfollow(&mut self, domain: &DomainCode) -> anyhow::Result<()> {
        for f in self.topics.edge_filters(domain) {
            self.client.unsubscribe(f).await?;
        }
        self.domains.remove(domain);
        self.scope.unfollow(domain);
        let (index, store, d) = (self.index.clone(), self.store.clone(), domain.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            index.unfollow(&d)?;
            store.delete_domain(&d, true)?;
            Ok(())
        })
        .await??;
        tracing::warn!(%domain, "no longer inherited by this edge's domains: its data was deleted from this edge");
        Ok(())
    }

    async fn on_manifest(&mut self, b: &BatchRef, payload: &[u8]) -> anyhow::Result<()> {
        let announcement = match Message::decode(payload) {
            Ok(Message::Announcement(a)) => a,
            Ok(_) | Err(_) => {
                rejected(&self.metrics, b, "its manifest is malformed");
                return Ok(());
            }
        };
        if let Err(why) = self.check_manifest(b, &announcement) {
            rejected(&self.metrics, b, &format!("{why:#}"));
            return Ok(());
        }
        let spool = self.store.layout().incoming().join(format!(
            "{}_{}_{}.part",
            b.domain,
            facerec_sync::topics::kind_level(b.kind),
            b.seq
        ));
        let sync = self.domains.get_mut(&b.domain).expect("served");
        if b.seq <= sync.applied || sync.waiting.contains_key(&b.seq) {
            tracing::debug!(domain = %b.domain, seq = b.seq, "already have this batch");
            return Ok(());
        }
        let key = (b.kind, b.seq);
        if sync.assemblies.get(&key).is_some_and(|a| {
            a.manifest == announcement.manifest && *a.chunks.plan() == announcement.plan
        }) {
            // Announced again (another edge asked): keep what has arrived.
            return self.pull(b).await;
        }
        sync.assemblies.remove(&key); // its spool file goes first
        let chunks = match Reassembly::new(&announcement.plan, spool) {
            Ok(r) => r,
            Err(e) => {
                rejected(&self.metrics, b, &e.to_string());
                return Ok(());
            }
        };
        if sync.assemblies.len() >= MAX_ASSEMBLIES {
            let oldest = *sync
                .assemblies
                .keys()
                .min_by_key(|k| k.1)
                .expect("non-empty");
            sync.assemblies.remove(&oldest);
        }
        let on_request = chunks.layout().on_request;
        sync.assemblies.insert(
            key,
            Assembly {
                manifest: announcement.manifest,
                chunks,
                asked: HashMap::new(),
                last_chunk: Instant::now(),
            },
        );
        if on_request {
            tracing::info!(domain = %b.domain, seq = b.seq, kind = ?b.kind, bytes = announcement.plan.total_len,
                "receiving a large batch segment by segment");
            self.pull(b).await?;
        }
        Ok(())
    }

    /// Asks for the next segments of a batch being received, keeping at
    /// most [`PULL_AHEAD`] asked for at once; a segment asked for over
    /// [`REQUEST_AFTER`] ago without arriving is asked for again.
    async fn pull(&mut self, b: &BatchRef) -> anyhow::Result<()> {
        let sync = self.domains.get_mut(&b.domain).expect("served");
        let have_seq = sync.applied;
        let Some(a) = sync.assemblies.get_mut(&(b.kind, b.seq)) else {
            return Ok(());
        };
        a.asked.retain(|_, at| at.elapsed() < REQUEST_AFTER);
        let room = PULL_AHEAD.saturating_sub(a.asked.len());
        let next: Vec<u32> = a
            .chunks
            .missing_segments()
            .filter(|s| !a.asked.contains_key(s))
            .take(room)
            .collect();
        if next.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        for s in &next {
            a.asked.insert(*s, now);
        }
        let request = Message::Request(SyncRequest {
            device_id: self.device_id.clone(),
            have_seq,
            segments: Some(SegmentRequest {
                kind: b.kind,
                seq: b.seq,
                segments: next,
            }),
        });
        self.client
            .publish(
                self.topics.requests(&b.domain),
                QoS::AtLeastOnce,
                false,
                request.encode(),
            )
            .await?;
        Ok(())
    }

    fn check_manifest(&self, b: &BatchRef, a: &Announcement) -> anyhow::Result<()> {
        let m = &a.manifest;
        anyhow::ensure!(
            m.domain == b.domain.as_str() && m.seq == b.seq && m.kind == b.kind,
            "its manifest ({} {} of '{}') does not match its topic",
            m.seq,
            match m.kind {
                BatchKind::Delta => "delta",
                BatchKind::Snapshot => "snapshot",
            },
            m.domain
        );
        verify_manifest(m, &self.trusted)?;
        if let Err(e) = facerec_vision::ModelPack::named(&m.pack) {
            self.metrics
                .sync_pack_refusals
                .with_label_values(&[b.domain.as_str(), m.pack.as_str()])
                .inc();
            anyhow::bail!("its descriptors are of a model pack this edge cannot run: {e}");
        }
        Ok(())
    }

    async fn on_chunk(&mut self, b: &BatchRef, n: u32, bytes: &[u8]) -> anyhow::Result<()> {
        let sync = self.domains.get_mut(&b.domain).expect("served");
        let key = (b.kind, b.seq);
        let Some(assembly) = sync.assemblies.get_mut(&key) else {
            return Ok(()); // its manifest was missed or rejected; asking again recovers
        };
        let now = Instant::now();
        match assembly.chunks.accept(n, bytes) {
            Ok(Accepted::Stored | Accepted::Duplicate) => {
                assembly.last_chunk = now;
                sync.last_progress = Some(now);
                return Ok(());
            }
            Ok(Accepted::SegmentComplete(segment)) => {
                assembly.last_chunk = now;
                assembly.asked.remove(&segment);
                sync.last_progress = Some(now);
            }
            Err(e @ ChunkError::CorruptSegment { segment, .. }) => {
                // Emptied: it is asked for again (at once when pulling).
                tracing::warn!(domain = %b.domain, seq = b.seq, error = %e, "a segment of a batch is corrupt; asking for it again");
                assembly.asked.remove(&segment);
            }
            Err(e @ ChunkError::Spool { .. }) => {
                rejected(&self.metrics, b, &e.to_string());
                sync.assemblies.remove(&key);
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(domain = %b.domain, seq = b.seq, error = %e, "ignoring a chunk that does not fit the plan");
                return Ok(());
            }
        }
        let assembly = sync.assemblies.get(&key).expect("present");
        if !assembly.chunks.is_complete() {
            return if assembly.chunks.layout().on_request {
                self.pull(b).await
            } else {
                Ok(())
            };
        }
        let assembly = sync.assemblies.remove(&key).expect("present");
        let spooled = assembly.chunks.finish().expect("complete");
        let (manifest, trusted) = (assembly.manifest, self.trusted.clone());
        // Hashing and parsing a large snapshot takes seconds: off the loop.
        let verified = tokio::task::spawn_blocking(move || {
            let mut content = verify_file(&manifest, spooled.path(), &trusted)?;
            drop(spooled);
            let shipped = content.index.take();
            incoming(&manifest, content).map(|batch| (batch, shipped))
        })
        .await?;
        let (batch, shipped) = match verified {
            Ok(v) => v,
            Err(e) => {
                rejected(&self.metrics, b, &format!("{e:#}"));
                return Ok(());
            }
        };
        match b.kind {
            BatchKind::Snapshot => self.apply_now(batch, shipped).await?,
            BatchKind::Delta => {
                let sync = self.domains.get_mut(&b.domain).expect("served");
                if sync.waiting.len() < MAX_WAITING {
                    sync.waiting.insert(b.seq, batch);
                }
            }
        }
        self.apply_in_order(&b.domain).await
    }

    /// Applies waiting deltas while the next one is there; asks for a gap.
    async fn apply_in_order(&mut self, domain: &DomainCode) -> anyhow::Result<()> {
        loop {
            let sync = self.domains.get_mut(domain).expect("served");
            let applied = sync.applied;
            sync.waiting.retain(|seq, _| *seq > applied);
            sync.assemblies.retain(|(_, seq), _| *seq > applied);
            let Some(next) = sync.waiting.remove(&(applied + 1)) else {
                if !sync.waiting.is_empty() {
                    self.request(domain).await?;
                }
                return Ok(());
            };
            self.apply_now(next, None).await?;
        }
    }

    /// Applies a batch (a snapshot with the search graph the hub built
    /// for it, if it shipped one).
    async fn apply_now(
        &mut self,
        batch: IncomingBatch,
        shipped: Option<facerec_sync::batch::ShippedIndex>,
    ) -> anyhow::Result<()> {
        let domain = batch.meta.domain.clone();
        let seq = batch.meta.seq;
        let kind = batch.meta.kind;
        let (store, index) = (self.store.clone(), self.index.clone());
        let started = Instant::now();
        let result =
            tokio::task::spawn_blocking(move || apply(&store, &index, batch, shipped)).await?;
        let sync = self.domains.get_mut(&domain).expect("served");
        match result {
            Ok(report) => {
                let index = self.index.clone();
                tokio::task::spawn_blocking(move || save_dump(&index));
                self.metrics
                    .sync_batches
                    .with_label_values(&[domain.as_str(), "applied"])
                    .inc();
                sync.applied = seq;
                sync.last_progress = Some(Instant::now());
                if kind == BatchKind::Snapshot {
                    let source = if report.graph_from_hub {
                        "from_hub"
                    } else {
                        "built"
                    };
                    self.metrics
                        .sync_snapshot_graphs
                        .with_label_values(&[domain.as_str(), source])
                        .inc();
                }
                tracing::info!(%domain, seq, ?kind, descriptors = report.descriptors_added,
                    graph_from_hub = report.graph_from_hub,
                    ms = started.elapsed().as_millis() as u64, "batch applied");
            }
            Err(e) => {
                // Storage refused it (out of order after all, or invalid
                // data): nothing was applied; resync from what is stored.
                sync.applied = self.store.applied_seq(&domain).unwrap_or(sync.applied);
                if let Some(facerec_storage::StorageError::PackMismatch { given, .. }) = e
                    .chain()
                    .find_map(|c| c.downcast_ref::<facerec_storage::StorageError>())
                {
                    self.metrics
                        .sync_pack_refusals
                        .with_label_values(&[domain.as_str(), given.as_str()])
                        .inc();
                }
                self.metrics
                    .sync_batches
                    .with_label_values(&[domain.as_str(), "rejected"])
                    .inc();
                tracing::warn!(%domain, seq, reason = format!("{e:#}"), "rejected a batch");
            }
        }
        self.refresh_status(true);
        self.publish_state().await
    }

    /// Asks the hub for what `domain` lacks, at most every [`REQUEST_AFTER`].
    async fn request(&mut self, domain: &DomainCode) -> anyhow::Result<()> {
        let sync = self.domains.get_mut(domain).expect("served");
        if sync
            .last_request
            .is_some_and(|t| t.elapsed() < REQUEST_AFTER)
        {
            return Ok(());
        }
        sync.last_request = Some(Instant::now());
        let request = Message::Request(SyncRequest {
            device_id: self.device_id.clone(),
            have_seq: sync.applied,
            segments: None,
        });
        tracing::debug!(%domain, have = sync.applied, "asking the hub for batches");
        self.client
            .publish(
                self.topics.requests(domain),
                QoS::AtLeastOnce,
                false,
                request.encode(),
            )
            .await?;
        Ok(())
    }

    /// Asks again for a domain that is behind and has made no progress.
    async fn ask_if_stalled(&mut self) -> anyhow::Result<()> {
        let stalled: Vec<DomainCode> = self
            .domains
            .iter()
            .filter(|(_, s)| {
                let behind = s.head.is_some_and(|h| h > s.applied) || !s.waiting.is_empty();
                let quiet = s.last_progress.is_none_or(|t| t.elapsed() >= REQUEST_AFTER);
                behind && quiet
            })
            .map(|(d, _)| d.clone())
            .collect();
        for d in stalled {
            self.request(&d).await?;
        }
        // Batches being received whose chunks stopped coming: ask for the
        // missing segments (a pushed batch that lost chunks is completed
        // this way too, rather than sent whole again).
        let quiet: Vec<BatchRef> = self
            .domains
            .iter()
            .flat_map(|(d, s)| {
                s.assemblies
                    .iter()
                    .filter(|(_, a)| a.last_chunk.elapsed() >= REQUEST_AFTER)
                    .map(|((kind, seq), _)| BatchRef {
                        domain: d.clone(),
                        kind: *kind,
                        seq: *seq,
                    })
            })
            .collect();
        for b in quiet {
            self.pull(&b).await?;
        }
        Ok(())
    }

    fn refresh_status(&self, online: bool) {
        let domains = self
            .domains
            .iter()
            .map(|(d, s)| DomainSyncState {
                domain: d.to_string(),
                applied_seq: s.applied,
                head_seq: s.head,
                descriptors: self.index.get(d).map_or(0, |i| i.len() as u64),
                pack: self
                    .index
                    .get(d)
                    .ok()
                    .and_then(|i| i.pack().map(str::to_string)),
            })
            .collect();
        let mut status = self.status.write().expect("status lock");
        status.online = online;
        status.domains = domains;
        status.domains.sort_by(|a, b| a.domain.cmp(&b.domain));
        status.updated_at = chrono::Utc::now();
    }

    async fn publish_state(&self) -> anyhow::Result<()> {
        let state = self.status.read().expect("status lock").clone();
        self.client
            .publish(
                self.topics.device_state(&self.device_id),
                QoS::AtLeastOnce,
                true,
                Message::DeviceState(state).encode(),
            )
            .await?;
        Ok(())
    }
}
