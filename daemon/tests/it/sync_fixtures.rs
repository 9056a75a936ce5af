//! Real brokers and real edge processes for the sync tests: the embedded
//! broker (`facerecd broker`) and mosquitto as child processes that can be
//! killed and restarted, and `facerecd edge` children that can be stopped
//! or SIGKILLed.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use facerec_node::Role;
use facerec_storage::{DomainCode, NewEmbedding, NewPerson, PersonId, PersonStatus, Store};
use facerecd::config::Config;
use serde_json::Value;

use crate::common::*;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BrokerKind {
    Embedded,
    Mosquitto,
}

/// The brokers to test against: the embedded one always; mosquitto when it
/// is installed, and required (a failure, not a skip) when
/// FACEREC_REQUIRE_MOSQUITTO is set, as CI does.
pub fn brokers() -> Vec<BrokerKind> {
    let have = Command::new("mosquitto")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if have {
        return vec![BrokerKind::Embedded, BrokerKind::Mosquitto];
    }
    if std::env::var_os("FACEREC_REQUIRE_MOSQUITTO").is_some() {
        panic!(
            "mosquitto is not installed and FACEREC_REQUIRE_MOSQUITTO is set (scripts/setup installs it)"
        );
    }
    eprintln!(
        "mosquitto is not installed (`apt-get install mosquitto`): testing the embedded broker only"
    );
    vec![BrokerKind::Embedded]
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Broker {
    pub kind: BrokerKind,
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Broker {
    pub fn start(kind: BrokerKind) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = spawn_broker(kind, port, dir.path());
        wait_for_port(port, "the broker");
        Self {
            kind,
            port,
            child,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn_broker(self.kind, self.port, self.dir.path());
        wait_for_port(self.port, "the restarted broker");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run as root (CI), mosquitto drops to its own user, which cannot read a
/// test's private temp folder (keys, persistence): keep it as it is.
pub const MOSQUITTO_USER: &str = "user root\n";

/// Starts mosquitto on `conf` and waits until it listens on `port`.
pub fn start_mosquitto(conf: &Path, port: u16) -> Child {
    let mut child = Command::new("mosquitto")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("mosquitto exited ({status}): {err}");
        }
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn spawn_broker(kind: BrokerKind, port: u16, dir: &Path) -> Child {
    match kind {
        BrokerKind::Embedded => Command::new(env!("CARGO_BIN_EXE_facerecd"))
            .args(["broker", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        BrokerKind::Mosquitto => {
            let conf = dir.join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    "{MOSQUITTO_USER}listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                     persistence_location {}/\nmax_queued_messages 100000\n",
                    dir.display()
                ),
            )
            .unwrap();
            Command::new("mosquitto")
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        }
    }
}

/// A hub in this process, publishing to `broker`.
pub async fn start_hub(root: &Path, broker: &Broker) -> Node {
    start_hub_with(root, broker, |_| {}).await
}

/// A hub whose `[mqtt]` settings `tune` changes first.
pub async fn start_hub_with(
    root: &Path,
    broker: &Broker,
    tune: impl FnOnce(&mut facerec_sync::config::MqttFileConfig),
) -> Node {
    let mut cfg: Config = config(root, None, &[]);
    tune(&mut cfg.mqtt_file);
    cfg.mqtt_overrides.broker = Some(broker.url());
    cfg.mqtt_overrides.device_id = Some("hub-test".into());
    let hub = Node::start(&cfg, Role::Hub).await;
    for code in ["serbia", "greece"] {
        assert_eq!(hub.create(code).await.status(), 201);
    }
    hub
}

pub fn hub_store(hub: &Node) -> Arc<Store> {
    hub.server.as_ref().unwrap().store.clone()
}

pub async fn hub_public_key(hub: &Node) -> String {
    let resp = hub.get("/api/batches/public-key", ADMIN).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// Approves `people` (id → descriptors) on the hub without the vision
/// pipeline, as review would leave them.
pub fn approve(store: &Store, domain: &str, people: &[(String, Vec<Vec<f32>>)]) {
    let d = DomainCode::parse(domain).unwrap();
    for (id, vectors) in people {
        let id = PersonId::parse(id).unwrap();
        store
            .upsert_person(
                &d,
                NewPerson::named(id.clone(), id.to_string(), PersonStatus::Approved),
            )
            .unwrap();
        store
            .set_person_status(&d, &id, PersonStatus::Approved)
            .unwrap();
        let embeddings: Vec<NewEmbedding> = vectors
            .iter()
            .map(|v| NewEmbedding {
                image_id: None,
                vector: v.clone(),
            })
            .collect();
        store
            .add_embeddings(&d, facerec_vision::DEFAULT_PACK.name, &id, &embeddings)
            .unwrap();
    }
}

/// Builds (and so publishes) the domain's next batch through the API.
pub async fn build_batch(hub: &Node, domain: &str) -> Value {
    let resp = hub
        .post_json(
            &format!("/api/domains/{domain}/batches"),
            ADMIN,
            serde_json::json!({}),
        )
        .await;
    json(resp, 201).await
}

/// Random unit vectors: synthetic people for volume.
pub fn random_people(
    prefix: &str,
    n: usize,
    per_person: usize,
    seed: u64,
) -> Vec<(String, Vec<Vec<f32>>)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let vectors = (0..per_person)
                .map(|_| {
                    let v: Vec<f32> = (0..128).map(|_| rng.random_range(-1.0f32..1.0)).collect();
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    v.into_iter().map(|x| x / norm).collect()
                })
                .collect();
            (format!("{prefix}_{i:05}"), vectors)
        })
        .collect()
}

/// A `facerecd edge` process serving serbia.
pub struct Edge {
    pub root: PathBuf,
    child: Option<Child>,
    pub http: String,
    pub device_id: String,
    broker_url: String,
    hub_key: String,
    /// Extra environment (credentials, a config file).
    pub env: Vec<(String, String)>,
    /// Its own domain (serbia unless changed).
    pub primary: String,
    /// Whether it imports `domains.json` at start (else it learns its
    /// domains from the hub's definitions).
    pub domains_file: bool,
}

impl Edge {
    pub fn new(root: &Path, broker: &Broker, hub_key: &str, device_id: &str) -> Self {
        std::fs::create_dir_all(root).unwrap();
        std::fs::write(
            root.join("domains.json"),
            r#"{"domains": {"serbia": {"display_name": "Serbia"}, "greece": {"display_name": "Greece"}}}"#,
        )
        .unwrap();
        Self {
            root: root.to_path_buf(),
            child: None,
            http: String::new(),
            device_id: device_id.into(),
            broker_url: broker.url(),
            hub_key: hub_key.into(),
            env: vec![],
            primary: "serbia".into(),
            domains_file: true,
        }
    }

    pub fn start(&mut self) {
        if let Err(log) = self.try_start() {
            panic!("the edge did not start; its log:\n{log}");
        }
    }

    /// Starts the edge; `Err(its log)` when it exits instead of serving.
    pub fn try_start(&mut self) -> Result<(), String> {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_facerecd"));
        command
            .arg("edge")
            .env_remove("FACEREC_CONFIG")
            .env_remove("FACEREC_DOMAINS_FILE");
        if self.domains_file {
            command.env("FACEREC_DOMAINS_FILE", self.root.join("domains.json"));
        }
        let child = command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("ALLOWED_DOMAINS")
            .env("FACEREC_DATA_ROOT", &self.root)
            .env("PRIMARY_DOMAIN", &self.primary)
            .env("FACEREC_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "FACEREC_MQTT_BROKER",
                self.env_or("FACEREC_MQTT_BROKER", &self.broker_url),
            )
            .env("FACEREC_DEVICE_ID", &self.device_id)
            .env("FACEREC_HUB_PUBLIC_KEYS", &self.hub_key)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.root.join("edge.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.http = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                self.kill();
                return Err(self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn env_or(&self, key: &str, default: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map_or(default.to_string(), |(_, v)| v.clone())
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("edge.log")).unwrap_or_default()
    }

    pub async fn status(&self) -> Option<Value> {
        self.get("/api/sync").await
    }

    /// A JSON answer of the edge's API (its bootstrap token is an admin);
    /// None when it is not up or answers no JSON.
    pub async fn get(&self, path: &str) -> Option<Value> {
        let token = std::fs::read_to_string(self.root.join("secrets/admin.token")).ok()?;
        let resp = reqwest::Client::new()
            .get(format!("{}{path}", self.http))
            .bearer_auth(token.trim())
            .send()
            .await
            .ok()?;
        resp.json().await.ok()
    }

    /// The seq the edge has applied of `domain`.
    pub async fn applied_of(&self, domain: &str) -> u64 {
        self.status()
            .await
            .and_then(|s| {
                s["domains"]
                    .as_array()?
                    .iter()
                    .find(|d| d["domain"] == domain)?["applied_seq"]
                    .as_u64()
            })
            .unwrap_or(0)
    }

    /// The edge's Prometheus metrics (its bootstrap token is an admin).
    pub async fn metrics(&self) -> String {
        let token = std::fs::read_to_string(self.root.join("secrets/admin.token")).unwrap();
        reqwest::Client::new()
            .get(format!("{}/metrics", self.http))
            .bearer_auth(token.trim())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn applied(&self) -> u64 {
        self.status()
            .await
            .and_then(|s| s["domains"][0]["applied_seq"].as_u64())
            .unwrap_or(0)
    }

    /// Waits until the edge has applied `seq` of serbia.
    pub async fn wait_applied(&self, seq: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let applied = self.applied().await;
            if applied >= seq {
                assert_eq!(applied, seq, "the edge went past seq {seq}");
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the edge applied {applied}, not {seq}, within {within:?}; its log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.kill();
    }
}
