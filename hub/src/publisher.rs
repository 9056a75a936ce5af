//! The hub's side of sync: publishes every new batch (manifest, then
//! chunks) and the domain's retained head; answers edges' requests with the
//! deltas they lack, or with a snapshot when they are new or far behind.
//!
//! One task owns the MQTT client; the API and the batch builder talk to it
//! through [`Publisher`]. Batches are read back from their files (the
//! source of truth on the hub), so a hub restart loses nothing: it
//! republishes every head on connect and edges ask for what they lack.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use facerec_storage::{BatchKind, DomainCode, Store};
use rumqttc::{AsyncClient, LastWill, QoS};
use tokio::sync::mpsc;

use crate::fleet::Fleet;
use facerec_sync::batch::{self, BatchManifest};
use facerec_sync::chunks::{ChunkPlan, Layout, SEGMENT_CHUNKS, plan_file, read_range};
use facerec_sync::client::{LinkEvent, connect, connect_options};
use facerec_sync::config::MqttConfig;
use facerec_sync::messages::{
    Announcement, DeviceState, Head, Message, SegmentRequest, SyncRequest,
};
use facerec_sync::topics::{BatchRef, Topic, Topics};

/// The same batch is not sent again within this window, however many edges
/// ask at once. A request that falls inside it is not dropped: the batch is
/// sent again when the window closes, so an edge that asked is always
/// answered (an edge restarting right after a publish missed it).
const REPUBLISH_QUIET: Duration = Duration::from_secs(3);
/// The same segment is not sent again within this window (two edges
/// pulling one snapshot at once are both served by one send).
const SEGMENT_QUIET: Duration = Duration::from_millis(500);
/// Segments served per request; an edge asks for a few at a time.
const MAX_SEGMENTS_PER_REQUEST: usize = 4;
/// Batches whose plans are kept (a plan reads the whole content once).
const PREPARED_KEPT: usize = 16;

#[derive(Debug)]
enum Command {
    Publish(BatchRef),
    Definition(DomainCode),
}

/// A handle to the hub's publishing task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Publisher {
    tx: mpsc::UnboundedSender<Command>,
    device_id: String,
    fleet: Fleet,
}

impl Publisher {
    /// The hub's MQTT client and device id.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The edges as their retained device states describe them.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Publishes a batch just built (and then the domain's head).
    pub fn batch_built(&self, domain: &DomainCode, kind: BatchKind, seq: u64) {
        let _ = self.tx.send(Command::Publish(BatchRef {
            domain: domain.clone(),
            kind,
            seq,
        }));
    }

    /// Publishes a domain's definition again after it was created, changed
    /// or deleted (deleted: the retained definition is cleared).
    pub fn domain_changed(&self, domain: &DomainCode) {
        let _ = self.tx.send(Command::Definition(domain.clone()));
    }
}

struct HubSync {
    client: AsyncClient,
    topics: Topics,
    store: Arc<Store>,
    key: SigningKey,
    device_id: String,
    snapshot_after: u64,
    recently_sent: HashMap<BatchRef, Instant>,
    /// Requested inside the quiet window: sent again when it closes.
    deferred: HashMap<BatchRef, Instant>,
    segments_sent: HashMap<(BatchRef, u32), Instant>,
    prepared: HashMap<BatchRef, Arc<Prepared>>,
    chunk_bytes: usize,
    push_max_chunks: usize,
    fleet: Fleet,
    /// Snapshots being built off the loop (a million descriptors' graph
    /// takes half an hour; other domains keep syncing meanwhile), and
    /// where their outcome is reported.
    building: std::collections::HashSet<BatchRef>,
    built: mpsc::UnboundedSender<(BatchRef, anyhow::Result<()>)>,
}

/// A batch ready to send: its manifest, its plan, and where its content
/// is (read again for each segment rather than held in memory).
#[derive(Debug)]
struct Prepared {
    manifest: BatchManifest,
    plan: ChunkPlan,
    layout: Layout,
    content: std::path::PathBuf,
    /// The content file's length and mtime when planned: a snapshot
    /// rebuilt at the same seq is planned again.
    stamp: (u64, Option<std::time::SystemTime>),
}

fn file_stamp(path: &std::path::Path) -> (u64, Option<std::time::SystemTime>) {
    std::fs::metadata(path).map_or((0, None), |m| (m.len(), m.modified().ok()))
}

/// Connects to the broker and starts the publishing task.
pub fn start(config: &MqttConfig, store: Arc<Store>, key: SigningKey) -> anyhow::Result<Publisher> {
    let topics = config.topics();
    let state_topic = topics.device_state(&config.device_id);
    let will = LastWill::new(
        state_topic,
        Message::DeviceState(device_state(&config.device_id, false, vec![])).encode(),
        QoS::AtLeastOnce,
        true,
    );
    let options = connect_options(config, &config.device_id, Some(will))?;
    let (client, mut events) = connect(options);
    let (tx, mut commands) = mpsc::unbounded_channel();
    let (built, mut snapshots_built) = mpsc::unbounded_channel();
    let fleet = Fleet::default();
    let mut hub = HubSync {
        client,
        topics,
        store,
        key,
        device_id: config.device_id.clone(),
        snapshot_after: config.snapshot_after,
        recently_sent: HashMap::new(),
        deferred: HashMap::new(),
        segments_sent: HashMap::new(),
        prepared: HashMap::new(),
        chunk_bytes: config.chunk_bytes,
        push_max_chunks: config.push_max_chunks,
        fleet: fleet.clone(),
        building: Default::default(),
        built,
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            let result = tokio::select! {
                _ = tick.tick() => hub.send_deferred().await,
                event = events.recv() => match event {
                    Some(event) => hub.on_event(event).await,
                    None => return,
                },
                command = commands.recv() => match command {
                    Some(Command::Publish(b)) => hub.publish_batch(&b, true).await,
                    Some(Command::Definition(d)) => hub.publish_definition(&d).await,
                    None => return,
                },
                Some((b, outcome)) = snapshots_built.recv() => hub.snapshot_built(b, outcome).await,
            };
            if let Err(e) = result {
                tracing::warn!(error = format!("{e:#}"), "batch publishing");
            }
        }
    });
    Ok(Publisher {
        tx,
        device_id: config.device_id.clone(),
        fleet,
    })
}

fn device_state(
    device_id: &str,
    online: bool,
    domains: Vec<facerec_sync::messages::DomainSyncState>,
) -> DeviceState {
    DeviceState {
        device_id: device_id.to_string(),
        online,
        role: "hub".into(),
        software_version: env!("CARGO_PKG_VERSION").into(),
        domains,
        updated_at: chrono::Utc::now(),
    }
}

impl HubSync {
    async fn on_event(&mut self, event: LinkEvent) -> anyhow::Result<()> {
        match event {
            LinkEvent::Connected { .. } => {
                tracing::info!("hub connected to the MQTT broker");
                self.client
                    .subscribe(self.topics.hub_filter(), QoS::AtLeastOnce)
                    .await?;
                self.client
                    .subscribe(self.topics.device_states_filter(), QoS::AtLeastOnce)
                    .await?;
                self.client
                    .publish(
                        self.topics.device_state(&self.device_id),
                        QoS::AtLeastOnce,
                        true,
                        Message::DeviceState(device_state(&self.device_id, true, vec![])).encode(),
                    )
                    .await?;
                for domain in self.domains().await? {
                    self.publish_definition(&domain).await?;
                    self.publish_head(&domain).await?;
                }
                Ok(())
            }
            LinkEvent::Disconnected(_) => Ok(()),
            LinkEvent::Message(publish) => {
                let result = self.on_message(&publish.topic, &publish.payload).await;
                self.client.ack(&publish).await?;
                result
            }
        }
    }

    async fn on_message(&mut self, topic: &str, payload: &[u8]) -> anyhow::Result<()> {
        let domain = match self.topics.parse(topic) {
            Some(Topic::Request(domain)) => domain,
            Some(Topic::DeviceState(device)) => {
                self.on_device_state(&device, payload);
                return Ok(());
            }
            _ => return Ok(()),
        };
        let request = match Message::decode(payload) {
            Ok(Message::Request(r)) => r,
            Ok(_) | Err(_) => {
                tracing::warn!(%topic, "ignoring a malformed sync request");
                return Ok(());
            }
        };
        match &request.segments {
            Some(wanted) => {
                self.serve_segments(&domain, &request.device_id, wanted)
                    .await
            }
            None => self.serve(&domain, &request).await,
        }
    }

    /// An edge's retained state: kept for the console. A state naming
    /// another device than its topic is ignored (the broker's ACL lets a
    /// device write only its own topic, so the topic is the identity).
    fn on_device_state(&self, device: &str, payload: &[u8]) {
        if payload.is_empty() {
            self.fleet.forget(device);
            return;
        }
        match Message::decode(payload) {
            Ok(Message::DeviceState(state)) if state.device_id == device => {
                if state.role == "edge" {
                    self.fleet.record(state);
                }
            }
            _ => tracing::debug!(%device, "ignoring a device state that does not parse"),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store, &SigningKey) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = self.store.clone();
        let key = self.key.clone();
        tokio::task::spawn_blocking(move || f(&store, &key)).await?
    }

    async fn domains(&self) -> anyhow::Result<Vec<DomainCode>> {
        self.blocking(|store, _| {
            Ok(store
                .list_domains()?
                .into_iter()
                .map(|d| d.domain_code)
                .collect())
        })
        .await
    }

    /// Answers an edge that has applied `have_seq`.
    async fn serve(&mut self, domain: &DomainCode, request: &SyncRequest) -> anyhow::Result<()> {
        let d = domain.clone();
        let Ok(head) = self
            .blocking(move |store, _| Ok(store.applied_seq(&d)?))
            .await
        else {
            tracing::warn!(%domain, device = %request.device_id, "sync request for an unknown domain");
            return Ok(());
        };
        tracing::info!(%domain, device = %request.device_id, have = request.have_seq, head, "sync request");
        if request.have_seq >= head {
            return self.publish_head(domain).await;
        }
        if request.have_seq == 0 || head - request.have_seq > self.snapshot_after {
            let b = BatchRef {
                domain: domain.clone(),
                kind: BatchKind::Snapshot,
                seq: head,
            };
            // A snapshot at the head that is missing or damaged is built
            // off the loop, and published when done.
            if let Err(e) = self.prepare(&b).await {
                if self.building.insert(b.clone()) {
                    tracing::info!(%domain, seq = head, reason = format!("{e:#}"), "building a snapshot");
                    let (store, key, built, b) =
                        (self.store.clone(), self.key.clone(), self.built.clone(), b);
                    tokio::task::spawn_blocking(move || {
                        let outcome = build_snapshot_at(&store, &key, &b.domain, b.seq);
                        let _ = built.send((b, outcome));
                    });
                }
                return Ok(());
            }
            return self.publish_batch(&b, false).await;
        }
        for seq in request.have_seq + 1..=head {
            let b = BatchRef {
                domain: domain.clone(),
                kind: BatchKind::Delta,
                seq,
            };
            self.publish_batch(&b, false).await?;
        }
        Ok(())
    }

    async fn snapshot_built(
        &mut self,
        b: BatchRef,
        outcome: anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.building.remove(&b);
        outcome.with_context(|| format!("building the snapshot of '{}' at {}", b.domain, b.seq))?;
        self.publish_batch(&b, false).await
    }

    /// Sends the deferred batches whose quiet window has closed.
    async fn send_deferred(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        let due: Vec<BatchRef> = self
            .deferred
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(b, _)| b.clone())
            .collect();
        for b in due {
            self.deferred.remove(&b);
            self.publish_batch(&b, false).await?;
        }
        Ok(())
    }

    /// The plan of a batch, made once from its files and checked against
    /// the hub's own key before anything leaves (a file damaged on disk is
    /// not sent).
    async fn prepare(&mut self, b: &BatchRef) -> anyhow::Result<Arc<Prepared>> {
        if let Some(p) = self.prepared.get(b)
            && file_stamp(&p.content) == p.stamp
        {
            return Ok(p.clone());
        }
        let (b2, chunk, push_max) = (b.clone(), self.chunk_bytes, self.push_max_chunks);
        let prepared = self
            .blocking(move |store, key| prepare_batch(store, key, &b2, chunk, push_max))
            .await?;
        if self.prepared.len() >= PREPARED_KEPT {
            let oldest = self.prepared.keys().min_by_key(|k| k.seq).cloned();
            oldest.map(|k| self.prepared.remove(&k));
        }
        let prepared = Arc::new(prepared);
        self.prepared.insert(b.clone(), prepared.clone());
        Ok(prepared)
    }

    /// Publishes one batch from its files, then (if asked) the head. A
    /// batch small enough is pushed whole; a larger one is announced, and
    /// its segments are sent as edges ask for them.
    async fn publish_batch(&mut self, b: &BatchRef, then_head: bool) -> anyhow::Result<()> {
        let sent_at = self
            .recently_sent
            .get(b)
            .copied()
            .filter(|t| t.elapsed() < REPUBLISH_QUIET);
        if let Some(sent_at) = sent_at {
            self.deferred.insert(b.clone(), sent_at + REPUBLISH_QUIET);
        } else {
            let prepared = self.prepare(b).await?;
            let announcement = Message::Announcement(Announcement {
                manifest: prepared.manifest.clone(),
                plan: prepared.plan.clone(),
            });
            self.client
                .publish(
                    self.topics.manifest(b),
                    QoS::AtLeastOnce,
                    false,
                    announcement.encode(),
                )
                .await?;
            if !prepared.layout.on_request {
                let all = 0..prepared.layout.chunks;
                self.publish_chunks(b, &prepared, all).await?;
            }
            tracing::info!(domain = %b.domain, seq = b.seq, kind = ?b.kind, bytes = prepared.layout.total_len,
                chunks = prepared.layout.chunks, on_request = prepared.layout.on_request, "batch published");
            self.recently_sent
                .retain(|_, t| t.elapsed() < REPUBLISH_QUIET);
            self.recently_sent.insert(b.clone(), Instant::now());
        }
        if then_head {
            self.publish_head(&b.domain).await?;
        }
        Ok(())
    }

    /// Publishes chunks `range` of a prepared batch, read from its file.
    async fn publish_chunks(
        &self,
        b: &BatchRef,
        prepared: &Prepared,
        range: std::ops::Range<u32>,
    ) -> anyhow::Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let layout = &prepared.layout;
        let bytes_range =
            layout.chunk_range(range.start).start..layout.chunk_range(range.end - 1).end;
        let content = prepared.content.clone();
        let from = bytes_range.start;
        let bytes = tokio::task::spawn_blocking(move || read_range(&content, bytes_range))
            .await?
            .with_context(|| format!("cannot read {}", prepared.content.display()))?;
        for n in range {
            let r = layout.chunk_range(n);
            let part = &bytes[(r.start - from) as usize..(r.end - from) as usize];
            self.client
                .publish(
                    self.topics.chunk(b, n),
                    QoS::AtLeastOnce,
                    false,
                    part.to_vec(),
                )
                .await?;
        }
        Ok(())
    }

    /// Sends the segments an edge asked for (each at most once per
    /// [`SEGMENT_QUIET`], however many edges ask).
    async fn serve_segments(
        &mut self,
        domain: &DomainCode,
        device: &str,
        wanted: &SegmentRequest,
    ) -> anyhow::Result<()> {
        let b = BatchRef {
            domain: domain.clone(),
            kind: wanted.kind,
            seq: wanted.seq,
        };
        let prepared = match self.prepare(&b).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(%domain, seq = b.seq, %device, error = format!("{e:#}"),
                    "an edge asked for segments of a batch this hub cannot send");
                return Ok(());
            }
        };
        self.segments_sent
            .retain(|_, t| t.elapsed() < SEGMENT_QUIET);
        let segments = prepared.layout.segments();
        for &segment in wanted.segments.iter().take(MAX_SEGMENTS_PER_REQUEST) {
            if segment >= segments {
                tracing::warn!(%domain, seq = b.seq, %device, segment, "an edge asked for a segment past the end");
                continue;
            }
            if self.segments_sent.contains_key(&(b.clone(), segment)) {
                continue;
            }
            tracing::debug!(%domain, seq = b.seq, %device, segment, "sending a segment");
            let chunks = prepared.layout.segment_chunks(segment);
            self.publish_chunks(&b, &prepared, chunks).await?;
            self.segments_sent
                .insert((b.clone(), segment), Instant::now());
        }
        Ok(())
    }

    /// The domain's signed definition, retained; an empty retained
    /// message (which clears it) when the domain is gone.
    async fn publish_definition(&self, domain: &DomainCode) -> anyhow::Result<()> {
        let d = domain.clone();
        let signed = self
            .blocking(move |store, key| facerec_sync::definitions::sign(store, key, &d))
            .await?;
        let payload = signed.map_or_else(Vec::new, |s| Message::Definition(s).encode());
        self.client
            .publish(
                self.topics.definition(domain),
                QoS::AtLeastOnce,
                true,
                payload,
            )
            .await?;
        Ok(())
    }

    async fn publish_head(&self, domain: &DomainCode) -> anyhow::Result<()> {
        let d = domain.clone();
        let head = self
            .blocking(move |store, key| {
                let last = store.last_batch(&d)?;
                Ok(Head {
                    domain: d.to_string(),
                    seq: last.as_ref().map_or(0, |b| b.seq),
                    content_sha256: last.map(|b| b.content_hash),
                    snapshot_seq: latest_snapshot(store, &d),
                    public_key: hex::encode(key.verifying_key().to_bytes()),
                    published_at: chrono::Utc::now(),
                })
            })
            .await?;
        self.client
            .publish(
                self.topics.head(domain),
                QoS::AtLeastOnce,
                true,
                Message::Head(head).encode(),
            )
            .await?;
        Ok(())
    }
}

/// Plans a batch from its files, checking them against the hub's own key.
fn prepare_batch(
    store: &Store,
    key: &SigningKey,
    b: &BatchRef,
    chunk_bytes: usize,
    push_max_chunks: usize,
) -> anyhow::Result<Prepared> {
    let dir = match b.kind {
        BatchKind::Delta => batch::batch_dir(store, &b.domain, b.seq),
        BatchKind::Snapshot => batch::snapshot_dir(store, &b.domain, b.seq),
    };
    let (manifest, content) = batch::read_manifest(&dir)?;
    let stamp = file_stamp(&content);
    batch::verify_manifest(&manifest, &[key.verifying_key()])
        .with_context(|| format!("{} failed its own verification", dir.display()))?;
    let (plan, sha256) = plan_file(&content, chunk_bytes, SEGMENT_CHUNKS, push_max_chunks)
        .with_context(|| format!("cannot read {}", content.display()))?;
    anyhow::ensure!(
        sha256 == manifest.content_sha256,
        "{} failed its own verification: its content does not match the signed hash",
        dir.display()
    );
    let layout = Layout::of(&plan)?;
    Ok(Prepared {
        manifest,
        plan,
        layout,
        content,
        stamp,
    })
}

/// The newest snapshot's seq on disk, if any.
fn latest_snapshot(store: &Store, domain: &DomainCode) -> Option<u64> {
    std::fs::read_dir(store.layout().batched(domain))
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("snapshot_")?
                .parse::<u64>()
                .ok()
        })
        .max()
}

/// Builds the snapshot at `seq` (the head).
fn build_snapshot_at(
    store: &Store,
    key: &SigningKey,
    domain: &DomainCode,
    seq: u64,
) -> anyhow::Result<()> {
    let built = crate::batch::build_snapshot(store, domain, key)?;
    anyhow::ensure!(
        built.seq == seq,
        "a batch was built meanwhile: the snapshot is at {} rather than {seq}",
        built.seq
    );
    Ok(())
}
