//! `facerecd bench sync`: publish-to-searchable time over a real broker
//! (embedded rumqttd on loopback) for a large snapshot and a small delta,
//! and the memory of an edge process holding the snapshot.
//!
//! The hub runs in this process; the edge is a child `facerecd edge`
//! process, so its memory is its own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use facerec_storage::{
    DomainCode, NewDomain, NewEmbedding, NewPerson, PersonId, PersonStatus, Store,
};
use rand::{Rng, SeedableRng};

use super::table;
use crate::config::{Config, FileConfig, Overrides};
use facerec_node::Role;
use facerec_sync::config::MqttOverrides;

const PER_PERSON: usize = 5;

pub async fn run(
    snapshot_descriptors: usize,
    delta_people: usize,
    keep_hub: Option<&Path>,
) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let broker_port = free_port()?;
    let broker_addr = format!("127.0.0.1:{broker_port}").parse()?;
    facerec_sync::broker::start(broker_addr)?;
    let broker_url = format!("mqtt://127.0.0.1:{broker_port}");

    let hub_root = work.path().join("hub");
    let domain = DomainCode::parse("bench")?;
    let kept = keep_hub.filter(|dir| seeded_with(dir) == Some(snapshot_descriptors));
    if let Some(dir) = kept {
        eprintln!("reusing the seeded hub in {}…", dir.display());
        copy_dir(dir, &hub_root)?;
    } else {
        let people = snapshot_descriptors.div_ceil(PER_PERSON);
        eprintln!("seeding the hub with {people} people × {PER_PERSON} descriptors…");
        let store = Store::open(&hub_root)?;
        store.create_domain(NewDomain::named("bench"))?;
        approve_random(&store, &domain, "p", people, 1)?;
    }
    let hub_config = Config::resolve(
        FileConfig::default(),
        Overrides {
            data_root: Some(hub_root.clone()),
            listen: Some("127.0.0.1:0".parse()?),
            mqtt: MqttOverrides {
                broker: Some(broker_url.clone()),
                device_id: Some("bench-hub".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )?;
    let hub = crate::server::start(&hub_config, Role::Hub).await?;
    let store = hub.store.clone();
    let key = facerec_sync::keys::hub_key(store.layout())?;
    let public_key = hex::encode(key.verifying_key().to_bytes());

    // The hub's side, measured apart: batch and snapshot building.
    let (mut build_batch, mut build_snapshot) = (None, None);
    if kept.is_none() {
        let started = Instant::now();
        let (s2, d2, k2) = (store.clone(), domain.clone(), key.clone());
        tokio::task::spawn_blocking(move || facerec_hub::batch::build_delta(&s2, &d2, &k2))
            .await??;
        build_batch = Some(started.elapsed());
        let started = Instant::now();
        let (s2, d2, k2) = (store.clone(), domain.clone(), key.clone());
        tokio::task::spawn_blocking(move || facerec_hub::batch::build_snapshot(&s2, &d2, &k2))
            .await??;
        build_snapshot = Some(started.elapsed());
        if let Some(dir) = keep_hub {
            eprintln!("keeping the seeded hub in {}…", dir.display());
            if dir.exists() {
                std::fs::remove_dir_all(dir)?;
            }
            copy_dir(&hub_root, dir)?;
            std::fs::write(dir.join(SEEDED_MARKER), snapshot_descriptors.to_string())?;
        }
    }
    let snapshot_seq = store.applied_seq(&domain)?;
    let snapshot_bytes = std::fs::metadata(
        facerec_sync::batch::snapshot_dir(&store, &domain, snapshot_seq).join("descriptors.json"),
    )?
    .len();

    // A new edge: connect → request → snapshot → searchable.
    let edge_root = work.path().join("edge");
    let mut edge = EdgeProcess::start(&edge_root, &broker_url, broker_port, &public_key)?;
    let connected = Instant::now();
    edge.wait_applied(1, Duration::from_secs(1800)).await?;
    let snapshot_time = connected.elapsed();
    let (rss, peak) = edge.memory()?;

    // A delta of `delta_people` people to the running edge: build → publish
    // → searchable.
    approve_random(&store, &domain, "d", delta_people, 2)?;
    let started = Instant::now();
    let (s2, d2, k2) = (store.clone(), domain.clone(), key.clone());
    let built = tokio::task::spawn_blocking(move || facerec_hub::batch::build_delta(&s2, &d2, &k2))
        .await??
        .context("the delta was empty")?;
    let delta_build = started.elapsed();
    let publisher = hub.publisher.clone().context("the hub has no publisher")?;
    let published = Instant::now();
    publisher.batch_built(&domain, built.kind, built.seq);
    edge.wait_applied(2, Duration::from_secs(120)).await?;
    let delta_time = published.elapsed();
    let (rss_after, peak_after) = edge.memory()?;

    // A crash that left the dump behind the database (the database moved
    // on by one person's descriptors): the edge restarts on a stale dump.
    edge.stop();
    {
        let edge_store = Store::open(&edge_root)?;
        let first = edge_store
            .list_people(&domain, None)?
            .into_iter()
            .next()
            .context("the edge holds nobody")?;
        edge_store.remove_person_embeddings(&domain, &first.id)?;
    }
    let restarted = Instant::now();
    let edge = EdgeProcess::start(&edge_root, &broker_url, broker_port, &public_key)?;
    edge.wait_listening(Duration::from_secs(600)).await?;
    let stale_listening = restarted.elapsed();
    edge.wait_caught_up(Duration::from_secs(600)).await?;
    let stale_caught_up = restarted.elapsed();

    let mut t = table(&["measurement", "value"]);
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    t.add_row(vec![
        "descriptors in the snapshot".into(),
        snapshot_descriptors.to_string(),
    ]);
    t.add_row(vec![
        "snapshot size / chunks".into(),
        format!(
            "{:.1} MB / {}",
            snapshot_bytes as f64 / 1e6,
            snapshot_bytes.div_ceil(facerec_sync::chunks::MAX_CHUNK_BYTES as u64)
        ),
    ]);
    let built = |d: Option<Duration>| d.map_or_else(|| "(reused)".to_string(), ms);
    t.add_row(vec!["hub: build the batch".into(), built(build_batch)]);
    t.add_row(vec![
        "hub: build the snapshot".into(),
        built(build_snapshot),
    ]);
    t.add_row(vec![
        "new edge: process start → snapshot searchable".into(),
        ms(snapshot_time),
    ]);
    t.add_row(vec![
        format!(
            "delta of {delta_people} people ({} descriptors): hub build",
            delta_people * PER_PERSON
        ),
        ms(delta_build),
    ]);
    t.add_row(vec![
        "delta: publish → searchable on the edge".into(),
        ms(delta_time),
    ]);
    t.add_row(vec![
        "edge memory with the snapshot (RSS / peak)".into(),
        format!("{:.0} MB / {:.0} MB", rss as f64 / 1e6, peak as f64 / 1e6),
    ]);
    t.add_row(vec![
        "edge memory after the delta (RSS / peak since start)".into(),
        format!(
            "{:.0} MB / {:.0} MB",
            rss_after as f64 / 1e6,
            peak_after as f64 / 1e6
        ),
    ]);
    t.add_row(vec![
        "edge restart on a stale dump: process start → serving".into(),
        ms(stale_listening),
    ]);
    t.add_row(vec![
        "edge restart on a stale dump: process start → index caught up".into(),
        ms(stale_caught_up),
    ]);
    println!("{t}");
    edge.stop();
    hub.stop().await?;
    Ok(())
}

/// Written last into a kept hub folder: the descriptors it was seeded with.
const SEEDED_MARKER: &str = "bench-seeded";

fn seeded_with(dir: &Path) -> Option<usize> {
    std::fs::read_to_string(dir.join(SEEDED_MARKER))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != SEEDED_MARKER {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(super) fn approve_random(
    store: &Store,
    domain: &DomainCode,
    prefix: &str,
    people: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..people {
        let id = PersonId::parse(&format!("{prefix}_{i:06}"))?;
        store.upsert_person(
            domain,
            NewPerson::named(id.clone(), id.to_string(), PersonStatus::Approved),
        )?;
        let embeddings: Vec<NewEmbedding> = (0..PER_PERSON)
            .map(|_| {
                let v: Vec<f32> = (0..128).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                NewEmbedding {
                    image_id: None,
                    vector: v.into_iter().map(|x| x / norm).collect(),
                }
            })
            .collect();
        store.add_embeddings(domain, "dlib-v1", &id, &embeddings)?;
    }
    Ok(())
}

struct EdgeProcess {
    child: Child,
    /// Its HTTP port.
    port: u16,
    /// The edge's retained device state, as the broker relays it.
    applied: tokio::sync::watch::Receiver<u64>,
}

impl EdgeProcess {
    fn start(
        root: &Path,
        broker_url: &str,
        broker_port: u16,
        public_key: &str,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let domains = root.join("domains.json");
        std::fs::write(&domains, r#"{"domains": {"bench": {}}}"#)?;
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .arg("edge")
            .env_remove("FACEREC_CONFIG")
            .env_remove("ALLOWED_DOMAINS")
            .env("FACEREC_DATA_ROOT", root)
            .env("PRIMARY_DOMAIN", "bench")
            .env("FACEREC_LISTEN", format!("127.0.0.1:{port}"))
            .env("FACEREC_DOMAINS_FILE", &domains)
            .env("FACEREC_MQTT_BROKER", broker_url)
            .env("FACEREC_DEVICE_ID", "bench-edge")
            .env("FACEREC_HUB_PUBLIC_KEYS", public_key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("edge.log"))?)
            .spawn()?;
        let (tx, applied) = tokio::sync::watch::channel(0u64);
        let options = facerec_sync::client::options("bench-observer", "127.0.0.1", broker_port);
        let (client, mut events) = facerec_sync::client::connect(options);
        let topic = facerec_sync::topics::Topics::new(facerec_sync::topics::DEFAULT_PREFIX)
            .expect("valid prefix")
            .device_state("bench-edge");
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                match event {
                    facerec_sync::client::LinkEvent::Connected { .. } => {
                        let _ = client
                            .subscribe(topic.clone(), rumqttc::QoS::AtMostOnce)
                            .await;
                    }
                    facerec_sync::client::LinkEvent::Message(p) => {
                        if let Ok(facerec_sync::messages::Message::DeviceState(s)) =
                            facerec_sync::messages::Message::decode(&p.payload)
                        {
                            let seq = s.domains.first().map_or(0, |d| d.applied_seq);
                            let _ = tx.send(seq);
                        }
                    }
                    facerec_sync::client::LinkEvent::Disconnected(_) => {}
                }
            }
        });
        Ok(Self {
            child,
            port,
            applied,
        })
    }

    /// Its `/readyz` answer, once it answers.
    async fn readiness(&self) -> Option<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        tokio::task::spawn_blocking(move || {
            let text = ureq::get(&url)
                .call()
                .ok()?
                .body_mut()
                .read_to_string()
                .ok()?;
            serde_json::from_str(&text).ok()
        })
        .await
        .ok()?
    }

    async fn wait_listening(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while self.readiness().await.is_none() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the edge did not listen within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Until `/readyz` lists no domain as catching up.
    async fn wait_caught_up(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let ready = self.readiness().await;
            if ready.is_some_and(|r| r.get("catching_up").is_none()) {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the edge did not catch up within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_applied(&mut self, seq: u64, within: Duration) -> anyhow::Result<()> {
        let waited = tokio::time::timeout(within, self.applied.wait_for(|s| *s >= seq)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => bail!("the edge did not apply seq {seq} within {within:?}"),
        }
    }

    /// `(VmRSS, VmHWM)` in bytes.
    fn memory(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
