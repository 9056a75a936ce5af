//! Batch sync over real brokers (the embedded one and mosquitto) between a
//! hub in this process and `facerecd edge` processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use facerec_index::{IndexOptions, IndexSet, SearchParams};
use facerec_storage::{DomainCode, PersonStatus, Store};
use facerec_sync::batch::{BatchManifest, batch_dir};
use facerec_sync::chunks::{MAX_CHUNK_BYTES, split};
use facerec_sync::messages::{Announcement, Message};
use facerec_sync::topics::{BatchRef, Topics};
use facerec_vision::{
    DecodeLimits, DetectorConfig, FaceEngine, ModelFiles, decode_image, default_models_dir,
};
use rumqttc::QoS;

use crate::common::shared_data;
use crate::sync_fixtures::*;

const WAIT: Duration = Duration::from_secs(60);

/// Real descriptors: per identity, the photos to enrol and one to probe.
struct RealPeople {
    enrol: Vec<(String, Vec<Vec<f32>>)>,
    probes: Vec<(String, Vec<f32>)>,
}

fn real_people(ids: &[&str]) -> Option<RealPeople> {
    let dir = shared_data("data/faces", "identities.csv")?;
    let engine = FaceEngine::load(&ModelFiles::new(default_models_dir())).unwrap();
    let csv = std::fs::read_to_string(dir.join("identities.csv")).unwrap();
    let mut photos: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let (file, id) = line.split_once(',').unwrap();
        photos.entry(id.trim()).or_default().push(file.trim());
    }
    let embed = |file: &str| -> Vec<f32> {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let image = decode_image(&bytes, &DecodeLimits::default()).unwrap();
        let mut faces = engine.analyze(&image, &DetectorConfig::default()).unwrap();
        faces.sort_by(|a, b| b.face.bbox.area().total_cmp(&a.face.bbox.area()));
        faces.remove(0).descriptor.0
    };
    let mut out = RealPeople {
        enrol: vec![],
        probes: vec![],
    };
    for id in ids {
        let files = &photos[id];
        let (probe, enrol) = files.split_last().unwrap();
        out.enrol.push((
            id.to_string(),
            enrol.iter().take(3).map(|f| embed(f)).collect(),
        ));
        out.probes.push((id.to_string(), embed(probe)));
    }
    Some(out)
}

fn serbia() -> DomainCode {
    DomainCode::parse("serbia").unwrap()
}

/// The production people of serbia in an edge's (stopped) data root.
fn edge_people(root: &Path) -> Vec<String> {
    let store = Store::open(root).unwrap();
    let mut ids: Vec<String> = store
        .list_people(&serbia(), Some(PersonStatus::Production))
        .unwrap()
        .into_iter()
        .map(|p| p.id.to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn edges_converge_through_outages_on_every_broker() {
    let people = real_people(&["person_01", "person_02", "person_03", "person_10"]);
    for kind in brokers() {
        converge_on(kind, people.as_ref()).await;
    }
}

async fn converge_on(kind: BrokerKind, real: Option<&RealPeople>) {
    eprintln!("broker: {kind:?}");
    let mut broker = Broker::start(kind);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub(hub_dir.path(), &broker).await;
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    let enrol = |i: usize| match real {
        Some(r) => vec![r.enrol[i].clone()],
        None => random_people(&format!("person_{i:02}"), 1, 3, i as u64),
    };

    // Batch 1 reaches an edge that is online.
    approve(&store, "serbia", &enrol(0));
    build_batch(&hub, "serbia").await;
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(
        edge_dir.path(),
        &broker,
        &key,
        &format!("edge-{kind:?}").to_lowercase(),
    );
    edge.start();
    edge.wait_applied(1, WAIT).await;

    // Batches 2 and 3 are published while the edge is down; a batch of
    // another domain too. The edge catches up on reconnect.
    edge.stop();
    approve(&store, "serbia", &enrol(1));
    build_batch(&hub, "serbia").await;
    approve(&store, "greece", &random_people("greek", 2, 2, 9));
    build_batch(&hub, "greece").await;
    approve(&store, "serbia", &enrol(2));
    build_batch(&hub, "serbia").await;
    edge.start();
    edge.wait_applied(3, WAIT).await;

    // The broker restarts in the middle of a large batch (≈ 30 chunks).
    approve(&store, "serbia", &random_people("crowd", 600, 5, 4));
    let hub_for_build = &hub;
    let build = build_batch(hub_for_build, "serbia");
    let (_, ()) = tokio::join!(build, async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        broker.restart();
    });
    edge.wait_applied(4, WAIT * 2).await;

    // Erasure travels too: person 0 is removed by batch 5.
    let erased = enrol(0)[0].0.clone();
    let resp = hub
        .req(
            reqwest::Method::DELETE,
            &format!("/api/domains/serbia/people/{erased}"),
            Some(crate::common::ADMIN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    build_batch(&hub, "serbia").await;
    edge.wait_applied(5, WAIT).await;
    edge.stop();
    let hub_view = crate::common::json(hub.get("/api/sync", crate::common::ADMIN).await, 200).await;
    assert_eq!(hub_view["device_id"], "hub-test");
    assert_eq!(hub_view["role"], "hub");
    let serbia_row = hub_view["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "serbia")
        .unwrap();
    assert_eq!(serbia_row["applied_seq"], 5);

    let on_edge = edge_people(edge_dir.path());
    assert_eq!(on_edge.len(), 2 + 600, "two enrolled people and the crowd");
    assert!(
        !on_edge.contains(&erased),
        "the erased person is gone from the edge"
    );
    for i in 1..3 {
        assert!(on_edge.contains(&enrol(i)[0].0));
    }
    let edge_store = Store::open(edge_dir.path()).unwrap();
    assert!(
        edge_store
            .list_people(&DomainCode::parse("greece").unwrap(), None)
            .unwrap()
            .is_empty(),
        "a batch of another domain never reached the serbian edge"
    );

    // The edge recognises the people it was sent, from photos it never saw.
    if let Some(real) = real {
        let set = open_index(edge_store);
        for (i, (id, probe)) in real.probes.iter().enumerate().take(4) {
            // The probes were embedded with the default pack, as the hub
            // embeds a new domain's photos.
            let pack = facerec_vision::DEFAULT_PACK;
            let query = [facerec_index::PackQuery {
                pack: pack.name,
                vector: probe,
                threshold: pack.match_distance(),
            }];
            let found = set
                .search(&serbia(), &query)
                .unwrap()
                .best
                .map(|m| m.person.to_string());
            match i {
                0 => assert_ne!(found.as_deref(), Some(id.as_str()), "erased"),
                1 | 2 => assert_eq!(found.as_deref(), Some(id.as_str()), "{id} is recognised"),
                _ => assert_eq!(found, None, "{id} was never enrolled: a stranger"),
            }
        }
    }
    hub.stop().await;
}

fn open_index(store: Store) -> IndexSet {
    let params = SearchParams::with_threshold(facerec_vision::MATCH_THRESHOLD);
    IndexSet::open(Arc::new(store), &[serbia()], IndexOptions::new(params))
        .unwrap()
        .0
}

/// Subscribes to a device's retained state.
async fn device_states(
    broker: &Broker,
    device: &str,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<facerec_sync::messages::DeviceState>,
) {
    let options = facerec_sync::client::options("state-watcher", "127.0.0.1", broker.port);
    let (client, mut events) = facerec_sync::client::connect(options);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let topic = Topics::new("facerec/v1").unwrap().device_state(device);
    let c = client.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                facerec_sync::client::LinkEvent::Connected { .. } => {
                    c.subscribe(topic.clone(), QoS::AtLeastOnce).await.unwrap();
                }
                facerec_sync::client::LinkEvent::Message(p) => {
                    if let Ok(Message::DeviceState(s)) = Message::decode(&p.payload) {
                        let _ = tx.send(s);
                    }
                }
                facerec_sync::client::LinkEvent::Disconnected(_) => {}
            }
        }
    });
    (client, rx)
}

async fn next_state(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<facerec_sync::messages::DeviceState>,
) -> facerec_sync::messages::DeviceState {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a device state within the wait")
        .expect("the watcher is running")
}

/// A raw client for publishing what a hub never would.
async fn raw_client(broker: &Broker) -> rumqttc::AsyncClient {
    let options = facerec_sync::client::options("forger", "127.0.0.1", broker.port);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 1024);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

fn read_batch(store: &Store, seq: u64) -> (BatchManifest, Vec<u8>) {
    facerec_sync::batch::read_dir(&batch_dir(store, &serbia(), seq)).unwrap()
}

async fn publish(
    client: &rumqttc::AsyncClient,
    topic_domain: &str,
    manifest: &BatchManifest,
    content: &[u8],
) {
    publish_parts(client, topic_domain, manifest, content, |_, bytes| {
        bytes.to_vec()
    })
    .await
}

async fn publish_parts(
    client: &rumqttc::AsyncClient,
    topic_domain: &str,
    manifest: &BatchManifest,
    content: &[u8],
    mangle: impl Fn(usize, &[u8]) -> Vec<u8>,
) {
    publish_chunked(
        client,
        topic_domain,
        manifest,
        content,
        MAX_CHUNK_BYTES,
        |n, b| Some(mangle(n, b)),
    )
    .await
}

/// Publishes a batch in chunks of `chunk_len`, each as `part` makes it
/// (`None`: not sent).
async fn publish_chunked(
    client: &rumqttc::AsyncClient,
    topic_domain: &str,
    manifest: &BatchManifest,
    content: &[u8],
    chunk_len: usize,
    part: impl Fn(usize, &[u8]) -> Option<Vec<u8>>,
) {
    let topics = Topics::new("facerec/v1").unwrap();
    let b = BatchRef {
        domain: DomainCode::parse(topic_domain).unwrap(),
        kind: manifest.kind,
        seq: manifest.seq,
    };
    let (plan, parts) = split(content, chunk_len);
    let msg = Message::Announcement(Announcement {
        manifest: manifest.clone(),
        plan,
    });
    client
        .publish(topics.manifest(&b), QoS::AtLeastOnce, false, msg.encode())
        .await
        .unwrap();
    for (n, bytes) in parts.iter().enumerate() {
        let Some(bytes) = part(n, bytes) else {
            continue;
        };
        client
            .publish(topics.chunk(&b, n as u32), QoS::AtLeastOnce, false, bytes)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chunks_lost_on_the_way_cost_a_segment_not_the_batch() {
    let broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub_with(hub_dir.path(), &broker, |mqtt| {
        mqtt.chunk_bytes = Some(1024);
    })
    .await;
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    approve(&store, "serbia", &random_people("first", 3, 2, 1));
    build_batch(&hub, "serbia").await;
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-lossy");
    edge.start();
    edge.wait_applied(1, WAIT).await;

    // Batch 2 (~150 chunks of 1 KiB, 5 segments) is built without the hub
    // publishing it, then sent with chunks 40–79 lost: the edge asks the
    // hub for segments 1 and 2 only, and applies the batch.
    approve(&store, "serbia", &random_people("second", 100, 2, 2));
    let signing = facerec_sync::keys::hub_key(store.layout()).unwrap();
    facerec_hub::batch::build_delta(&store, &serbia(), &signing)
        .unwrap()
        .unwrap();
    let (m2, c2) = read_batch(&store, 2);
    assert!(c2.len() > 4 * 32 * 1024, "{} bytes", c2.len());
    let lossy = raw_client(&broker).await;
    publish_chunked(&lossy, "serbia", &m2, &c2, 1024, |n, b| {
        (!(40..80).contains(&n)).then(|| b.to_vec())
    })
    .await;
    edge.wait_applied(2, WAIT).await;
    edge.stop();
    assert_eq!(edge_people(edge_dir.path()).len(), 3 + 100);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicated_reordered_and_forged_batches_never_change_an_edge() {
    let broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub(hub_dir.path(), &broker).await;
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    approve(&store, "serbia", &random_people("first", 3, 2, 1));
    build_batch(&hub, "serbia").await;

    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-forged");
    edge.start();
    edge.wait_applied(1, WAIT).await;
    let forger = raw_client(&broker).await;

    // Batches 2 and 3 are built without being published, then sent by hand
    // in reverse order, batch 1 again in between.
    let signing = facerec_sync::keys::hub_key(store.layout()).unwrap();
    approve(&store, "serbia", &random_people("second", 2, 2, 2));
    facerec_hub::batch::build_delta(&store, &serbia(), &signing)
        .unwrap()
        .unwrap();
    approve(&store, "serbia", &random_people("third", 2, 2, 3));
    facerec_hub::batch::build_delta(&store, &serbia(), &signing)
        .unwrap()
        .unwrap();
    let (m3, c3) = read_batch(&store, 3);
    let (m2, c2) = read_batch(&store, 2);
    let (m1, c1) = read_batch(&store, 1);
    publish(&forger, "serbia", &m3, &c3).await;
    publish(&forger, "serbia", &m1, &c1).await;
    publish(&forger, "serbia", &m2, &c2).await;
    edge.wait_applied(3, WAIT).await;

    // Batch 4 arrives first in every bad form, then as the hub signed it.
    approve(&store, "serbia", &random_people("fourth", 2, 2, 4));
    facerec_hub::batch::build_delta(&store, &serbia(), &signing)
        .unwrap()
        .unwrap();
    let (m4, c4) = read_batch(&store, 4);
    // Truncated: the chunk is shorter than planned.
    publish_parts(&forger, "serbia", &m4, &c4, |_, b| {
        b[..b.len() / 2].to_vec()
    })
    .await;
    // Corrupt: a flipped bit, so the segment's sha256 does not match.
    publish_parts(&forger, "serbia", &m4, &c4, |_, b| {
        let mut b = b.to_vec();
        b[0] ^= 1;
        b
    })
    .await;
    // Tampered: other content, chunked consistently, under the real manifest.
    let mut tampered: serde_json::Value = serde_json::from_slice(&c4).unwrap();
    tampered["added"][0]["person"] = "intruder".into();
    let tampered = serde_json::to_vec(&tampered).unwrap();
    publish(&forger, "serbia", &m4, &tampered).await;
    // Wrongly signed: a consistent manifest signed by another key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut forged = m4.clone();
    forged.content_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&tampered));
    forged.public_key = hex::encode(other.verifying_key().to_bytes());
    forged.signature = hex::encode(
        ed25519_dalek::Signer::sign(&other, forged.signed_message().as_bytes()).to_bytes(),
    );
    publish(&forger, "serbia", &forged, &tampered).await;
    // Another domain's batch on this domain's topics.
    approve(&store, "greece", &random_people("greek", 1, 1, 5));
    let g =
        facerec_hub::batch::build_delta(&store, &DomainCode::parse("greece").unwrap(), &signing)
            .unwrap()
            .unwrap();
    let gdir = batch_dir(&store, &DomainCode::parse("greece").unwrap(), g.seq);
    let (mut gm, gc) = facerec_sync::batch::read_dir(&gdir).unwrap();
    publish(&forger, "serbia", &gm, &gc).await;
    gm.seq = 4; // and once claiming serbia's next seq
    publish(&forger, "serbia", &gm, &gc).await;
    // Garbage.
    forger
        .publish(
            "facerec/v1/domains/serbia/batches/4/manifest",
            QoS::AtLeastOnce,
            false,
            b"{not json".to_vec(),
        )
        .await
        .unwrap();
    // Signed by the hub, but of a pack this edge cannot run, and of a pack
    // other than the one its copy of serbia holds (a delta cannot switch).
    for pack in ["future-v9", "dlib-v1"] {
        let mut other_pack = m4.clone();
        other_pack.pack = pack.into();
        other_pack.signature = hex::encode(
            ed25519_dalek::Signer::sign(&signing, other_pack.signed_message().as_bytes())
                .to_bytes(),
        );
        publish(&forger, "serbia", &other_pack, &c4).await;
    }
    // Finally the real batch 4.
    publish(&forger, "serbia", &m4, &c4).await;
    edge.wait_applied(4, WAIT).await;
    let rejected = edge
        .metrics()
        .await
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"facerec_sync_batches_total{domain="serbia",outcome="rejected"} "#)
                .map(|n| n.parse::<u64>().unwrap())
        })
        .unwrap_or(0);
    // The forged signature, the two foreign batches, the garbage and the
    // two packs at least (the tampered content too, unless the edge had
    // meanwhile asked the hub for batch 4 and applied it).
    assert!(rejected >= 6, "{rejected} rejections counted");
    let metrics = edge.metrics().await;
    for pack in ["future-v9", "dlib-v1"] {
        let line =
            format!(r#"facerec_sync_pack_refusals_total{{domain="serbia",pack="{pack}"}} 1"#);
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }

    // The retained device state says the same; once the edge is gone, its
    // Last Will says it is offline.
    let (watcher, mut states) = device_states(&broker, "edge-forged").await;
    // The retained state may still be the one from before batch 4 (it is
    // published after the apply the API already shows): read on until the
    // edge publishes 4, within the wait.
    let mut online = next_state(&mut states).await;
    while online.domains[0].applied_seq < 4 {
        online = next_state(&mut states).await;
    }
    assert!(online.online);
    assert_eq!(online.domains[0].applied_seq, 4);
    edge.stop();
    let mut offline = next_state(&mut states).await;
    while offline.online {
        offline = next_state(&mut states).await;
    }
    drop(watcher);

    let log = edge.log();
    for reason in [
        "does not fit the plan",
        "corrupt",
        "sha256",
        "does not verify",
        "does not match its topic",
        "malformed",
        "a model pack this edge cannot run",
        "descriptors of two packs are never mixed",
    ] {
        assert!(
            log.contains(reason),
            "the edge's log names the rejection ({reason}):\n{log}"
        );
    }
    let on_edge = edge_people(edge_dir.path());
    assert_eq!(on_edge.len(), 3 + 2 + 2 + 2);
    assert!(!on_edge.contains(&"intruder".to_string()));
    assert!(on_edge.iter().all(|p| !p.starts_with("greek")));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edge_killed_while_applying_restarts_before_or_after_the_batch() {
    let broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub(hub_dir.path(), &broker).await;
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-killed");

    // What serbia holds after each batch: seq → (people, descriptors).
    let mut expected: BTreeMap<u64, (usize, u64)> = BTreeMap::from([(0, (0, 0))]);
    let (mut people, mut descriptors) = (0usize, 0u64);
    let mut kills_mid_batch = 0;
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..20u64 {
        // A new batch of 1,000 descriptors every other round.
        if round % 2 == 0 {
            approve(
                &store,
                "serbia",
                &random_people(&format!("r{round:02}"), 200, 5, round),
            );
            build_batch(&hub, "serbia").await;
            people += 200;
            descriptors += 1000;
            expected.insert(round / 2 + 1, (people, descriptors));
        }
        let started = std::time::Instant::now();
        edge.start();
        eprintln!("round {round}: edge up in {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
        let before = edge.applied().await;
        edge.kill();

        let edge_store = Store::open(edge_dir.path()).unwrap();
        let seq = edge_store.applied_seq(&serbia()).unwrap();
        let (want_people, want_descriptors) = expected[&seq];
        let got_people = edge_store
            .list_people(&serbia(), Some(PersonStatus::Production))
            .unwrap()
            .len();
        assert_eq!(
            got_people, want_people,
            "round {round}: people at seq {seq}"
        );
        assert_eq!(
            edge_store.embedding_count(&serbia()).unwrap(),
            want_descriptors,
            "round {round}: descriptors at seq {seq}"
        );
        if seq > before {
            kills_mid_batch += 1; // committed after the last status we saw
        }
    }
    eprintln!("{kills_mid_batch} of 20 kills came after a commit the API had not shown yet");

    // Restarted once more, it converges and its index serves the last batch.
    edge.start();
    let head = *expected.keys().last().unwrap();
    edge.wait_applied(head, WAIT).await;
    let status = edge.status().await.unwrap();
    assert_eq!(status["domains"][0]["descriptors"], descriptors);
    edge.stop();
    hub.stop().await;
}

/// A mosquitto password file in `dir` for `users`, all with `password`.
fn password_file(dir: &Path, users: &[&str], password: &str) -> PathBuf {
    let path = dir.join("passwd");
    for (i, user) in users.iter().enumerate() {
        let mut cmd = std::process::Command::new("mosquitto_passwd");
        cmd.arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        let ok = cmd
            .arg(&path)
            .arg(user)
            .arg(password)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mosquitto_passwd for {user}");
    }
    path
}

/// A client of a mosquitto that checks `deploy/mosquitto/facerec.acl`.
async fn acl_client(
    port: u16,
    user: &str,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut options = facerec_sync::client::options(user, "127.0.0.1", port);
    options.set_credentials(user, "secret");
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event {
                let _ = tx.send(p.topic);
            }
        }
    });
    (client, rx)
}

#[tokio::test]
async fn the_shipped_mosquitto_acls_keep_each_edge_to_its_domains() {
    if !brokers().contains(&BrokerKind::Mosquitto) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let passwd = password_file(
        dir.path(),
        &["hub", "edge-belgrade-arena", "edge-ljubljana-1"],
        "secret",
    );
    let acl = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mosquitto/facerec.acl");
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "{MOSQUITTO_USER}listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n",
            passwd.display(),
            acl.display()
        ),
    )
    .unwrap();
    let mut broker = start_mosquitto(&conf, port);

    let (hub, _) = acl_client(port, "hub").await;
    let (belgrade, mut belgrade_got) = acl_client(port, "edge-belgrade-arena").await;
    let (ljubljana, mut ljubljana_got) = acl_client(port, "edge-ljubljana-1").await;
    // Both try to read every domain.
    belgrade
        .subscribe("facerec/v1/domains/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    ljubljana
        .subscribe("facerec/v1/domains/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A Serbian edge forges a batch and a head: nobody receives them.
    belgrade
        .publish(
            "facerec/v1/domains/serbia/batches/9/manifest",
            QoS::AtLeastOnce,
            false,
            b"forged".to_vec(),
        )
        .await
        .unwrap();
    belgrade
        .publish(
            "facerec/v1/domains/slovenia/head",
            QoS::AtLeastOnce,
            false,
            b"forged".to_vec(),
        )
        .await
        .unwrap();
    belgrade
        .publish(
            "facerec/v1/domains/serbia/definition",
            QoS::AtLeastOnce,
            false,
            b"forged".to_vec(),
        )
        .await
        .unwrap();
    // The hub publishes Greek, Slovenian and Serbian heads and definitions.
    for domain in ["greece", "slovenia", "serbia"] {
        for leaf in ["head", "definition"] {
            hub.publish(
                format!("facerec/v1/domains/{domain}/{leaf}"),
                QoS::AtLeastOnce,
                false,
                b"{}".to_vec(),
            )
            .await
            .unwrap();
        }
    }
    let collect = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        let mut got = vec![];
        while let Ok(t) = rx.try_recv() {
            got.push(t);
        }
        got.sort();
        got
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        collect(&mut belgrade_got),
        [
            "facerec/v1/domains/serbia/definition",
            "facerec/v1/domains/serbia/head"
        ]
    );
    assert_eq!(
        collect(&mut ljubljana_got),
        [
            "facerec/v1/domains/serbia/definition",
            "facerec/v1/domains/serbia/head",
            "facerec/v1/domains/slovenia/definition",
            "facerec/v1/domains/slovenia/head"
        ]
    );
    let _ = broker.kill();
    let _ = broker.wait();
}

fn openssl(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl {args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sync_runs_over_tls_with_credentials_and_refuses_an_unknown_ca() {
    if !brokers().contains(&BrokerKind::Mosquitto) {
        return;
    }
    // A private CA and a broker certificate for localhost.
    let pki = tempfile::tempdir().unwrap();
    let p = pki.path();
    openssl(
        p,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=facerec test CA",
        ],
    );
    openssl(
        p,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "broker.key",
            "-out",
            "broker.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(p.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(
        p,
        &[
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "broker.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let passwd = password_file(p, &["hub", "edge-tls"], "s3cret");
    let port = free_port();
    std::fs::write(
        p.join("mosquitto.conf"),
        format!(
            "{MOSQUITTO_USER}listener {port} 127.0.0.1\ncafile {0}/ca.crt\ncertfile {0}/broker.crt\nkeyfile {0}/broker.key\n\
             allow_anonymous false\npassword_file {1}\n",
            p.display(),
            passwd.display()
        ),
    )
    .unwrap();
    let mut broker = start_mosquitto(&p.join("mosquitto.conf"), port);
    let url = format!("mqtts://localhost:{port}");

    // The hub, over TLS with its credentials and the private CA.
    let hub_dir = tempfile::tempdir().unwrap();
    let mut cfg = crate::common::config(hub_dir.path(), None, &[]);
    cfg.mqtt_overrides.broker = Some(url.clone());
    cfg.mqtt_overrides.device_id = Some("hub".into());
    cfg.mqtt_overrides.username = Some("hub".into());
    cfg.mqtt_overrides.password = Some("s3cret".into());
    cfg.mqtt_file.ca_file = Some(p.join("ca.crt"));
    let hub = crate::common::Node::start(&cfg, facerec_node::Role::Hub).await;
    assert_eq!(hub.create("serbia").await.status(), 201);
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    approve(&store, "serbia", &random_people("tls", 3, 2, 11));
    build_batch(&hub, "serbia").await;

    // An edge configured with the CA syncs; one trusting only the system's
    // roots cannot connect, and says why.
    let placeholder = Broker::start(BrokerKind::Embedded); // only for Edge::new's default URL
    let trusting_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        trusting_dir.path().join("edge.toml"),
        format!(
            "[mqtt]\nca_file = {:?}\n",
            p.join("ca.crt").display().to_string()
        ),
    )
    .unwrap();
    let credentials = |config: Option<&Path>| {
        let mut env = vec![
            ("FACEREC_MQTT_BROKER".to_string(), url.clone()),
            ("FACEREC_MQTT_USERNAME".to_string(), "edge-tls".to_string()),
            ("FACEREC_MQTT_PASSWORD".to_string(), "s3cret".to_string()),
        ];
        if let Some(c) = config {
            env.push(("FACEREC_CONFIG".to_string(), c.display().to_string()));
        }
        env
    };
    let mut trusting = Edge::new(trusting_dir.path(), &placeholder, &key, "edge-tls");
    trusting.env = credentials(Some(&trusting_dir.path().join("edge.toml")));
    trusting.start();
    trusting.wait_applied(1, WAIT).await;
    trusting.stop();

    let doubting_dir = tempfile::tempdir().unwrap();
    let mut doubting = Edge::new(doubting_dir.path(), &placeholder, &key, "edge-tls");
    doubting.env = credentials(None);
    // Without system roots it refuses to start; with them, it cannot connect.
    if doubting.try_start().is_ok() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(doubting.applied().await, 0);
        doubting.stop();
    }
    let log = doubting.log().to_lowercase();
    assert!(
        log.contains("certificate") || log.contains("issuer") || log.contains("ca certificates"),
        "{log}"
    );

    hub.stop().await;
    let _ = broker.kill();
    let _ = broker.wait();
}

/// Polls `check` until it is true, panicking with `what` after `within`.
async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edge_learns_its_domains_from_the_hub_and_follows_their_changes() {
    let broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub(hub_dir.path(), &broker).await;
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    approve(&store, "serbia", &random_people("serb", 3, 2, 1));
    build_batch(&hub, "serbia").await;

    // The edge knows only its domain code, the broker and the hub's key; it
    // starts before the hub has even created its domain.
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-venue");
    edge.primary = "venue_a".into();
    edge.domains_file = false;
    let starting = tokio::task::spawn_blocking(move || {
        edge.start();
        edge
    });
    let log = edge_dir.path().join("edge.log");
    wait_until("the edge waiting for its definition", WAIT, || async {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("waiting for the hub's definitions"))
    })
    .await;
    assert_eq!(hub.create("venue_a").await.status(), 201);
    let mut edge = starting.await.unwrap();
    assert!(
        edge.log().contains("waiting for the hub's definitions"),
        "{}",
        edge.log()
    );

    // The hub makes the running edge's domain inherit serbia: the edge
    // fetches serbia's definition and follows it too.
    let resp = hub
        .req(
            reqwest::Method::PUT,
            "/api/domains/venue_a/datasets",
            Some(crate::common::ADMIN),
        )
        .json(&serde_json::json!([{"domain": "serbia", "priority": 1}]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    approve(&store, "venue_a", &random_people("venue", 2, 2, 2));
    build_batch(&hub, "venue_a").await;
    wait_until("both domains applied", WAIT, || async {
        edge.applied_of("venue_a").await == 1 && edge.applied_of("serbia").await == 1
    })
    .await;
    assert!(
        edge.log()
            .contains("following a domain the hub's definitions made this edge inherit")
    );
    let venue = edge.get("/api/domains/venue_a").await.unwrap();
    assert_eq!(venue["datasets"][0]["domain"], "serbia", "{venue}");
    assert_eq!(
        edge.get("/api/domains/greece").await.unwrap()["status"],
        403,
        "an edge never learns another tenant's domain"
    );

    // A change on the hub reaches the running edge.
    let resp = hub
        .req(
            reqwest::Method::PATCH,
            "/api/domains/venue_a",
            Some(crate::common::ADMIN),
        )
        .json(&serde_json::json!({"display_name": "Venue A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    wait_until("the new display name on the edge", WAIT, || async {
        edge.get("/api/domains/venue_a").await.unwrap()["display_name"] == "Venue A"
    })
    .await;

    // A definition signed by another key is refused and changes nothing.
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let forged = {
        let dir = tempfile::tempdir().unwrap();
        let fake_hub = Store::open(dir.path()).unwrap();
        let mut new = facerec_storage::NewDomain::named("venue_a");
        new.display_name = Some("Forged".into());
        fake_hub.create_domain(new).unwrap();
        facerec_sync::definitions::sign(&fake_hub, &forger, &DomainCode::parse("venue_a").unwrap())
            .unwrap()
            .unwrap()
    };
    let client = raw_client(&broker).await;
    let topics = Topics::new(facerec_sync::topics::DEFAULT_PREFIX).unwrap();
    client
        .publish(
            topics.definition(&DomainCode::parse("venue_a").unwrap()),
            QoS::AtLeastOnce,
            false,
            Message::Definition(forged).encode(),
        )
        .await
        .unwrap();
    wait_until("the forged definition counted as refused", WAIT, || async {
        edge.metrics()
            .await
            .contains(r#"facerec_sync_definitions_total{domain="venue_a",outcome="refused"} 1"#)
    })
    .await;
    assert_eq!(
        edge.get("/api/domains/venue_a").await.unwrap()["display_name"],
        "Venue A"
    );

    // The hub drops the inheritance: the edge stops following serbia and
    // deletes serbia's data.
    assert!(edge_dir.path().join("index/serbia").exists());
    let resp = hub
        .req(
            reqwest::Method::PUT,
            "/api/domains/venue_a/datasets",
            Some(crate::common::ADMIN),
        )
        .json(&serde_json::json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    wait_until("serbia no longer followed", WAIT, || async {
        edge.status().await.is_some_and(|s| {
            let domains = s["domains"].as_array().unwrap();
            domains.len() == 1 && domains[0]["domain"] == "venue_a"
        })
    })
    .await;
    assert_eq!(
        edge.get("/api/domains/serbia").await.unwrap()["status"],
        403
    );
    assert!(
        !edge_dir.path().join("index/serbia").exists(),
        "serbia's index was deleted from the edge"
    );

    // Restarted, it needs nothing from the hub to serve what it has.
    edge.stop();
    edge.start();
    wait_until("applied after the restart", WAIT, || async {
        edge.applied_of("venue_a").await == 1
    })
    .await;
    let edge_store_domains = edge.status().await.unwrap()["domains"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(edge_store_domains, 1);
    edge.stop();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_inside_the_hubs_quiet_window_is_answered_when_it_closes() {
    let broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub(hub_dir.path(), &broker).await;
    approve(&hub_store(&hub), "serbia", &random_people("p", 2, 2, 3));
    build_batch(&hub, "serbia").await;

    // A client in the place of an edge that asks twice in a row, as an edge
    // restarting right after the hub answered another one does.
    let options = facerec_sync::client::options("edge-asking", "127.0.0.1", broker.port);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    let (tx, mut manifests) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = event
                && p.topic.ends_with("/manifest")
            {
                let _ = tx.send((p.topic, ()));
            }
        }
    });
    let topics = Topics::new(facerec_sync::topics::DEFAULT_PREFIX).unwrap();
    client
        .subscribe("facerec/v1/domains/serbia/snapshots/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    let request = Message::Request(facerec_sync::messages::SyncRequest {
        device_id: "edge-asking".into(),
        have_seq: 0,
        segments: None,
    })
    .encode();
    let ask = || async {
        client
            .publish(
                topics.requests(&serbia()),
                QoS::AtLeastOnce,
                false,
                request.clone(),
            )
            .await
            .unwrap();
    };
    ask().await;
    let (first, ()) = tokio::time::timeout(WAIT, manifests.recv())
        .await
        .expect("the hub answers a new edge with a snapshot")
        .unwrap();
    assert_eq!(first, "facerec/v1/domains/serbia/snapshots/1/manifest");
    ask().await;
    let (second, _) = tokio::time::timeout(WAIT, manifests.recv())
        .await
        .expect("the second request is answered too, not dropped")
        .unwrap();
    assert_eq!(second, first);
    hub.stop().await;
}

/// The bound within which a restarted edge must reach the hub's head (a
/// lost catch-up request used to leave one a batch behind for 72 s and
/// more, until the next restart).
const CATCH_UP_BOUND: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_restarts_of_an_edge_each_reach_the_head_within_a_bound() {
    let mut broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    let hub = start_hub(hub_dir.path(), &broker).await;
    let store = hub_store(&hub);
    let key = hub_public_key(&hub).await;
    approve(&store, "serbia", &random_people("first", 2, 2, 0));
    build_batch(&hub, "serbia").await;
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-restarts");
    edge.start();
    edge.wait_applied(1, WAIT).await;

    // Someone else's request just before each start puts the hub inside
    // its no-resend window when the restarted edge asks.
    let topics = Topics::new(facerec_sync::topics::DEFAULT_PREFIX).unwrap();
    let mut head = 1;
    let mut slowest = Duration::ZERO;
    for round in 0..20u64 {
        if round % 2 == 0 {
            edge.stop();
        } else {
            edge.kill();
        }
        approve(
            &store,
            "serbia",
            &random_people(&format!("r{round:02}"), 2, 2, 100 + round),
        );
        build_batch(&hub, "serbia").await;
        head += 1;
        if round % 4 == 3 {
            // The broker restarts too, forgetting the edge's session and
            // what it held for it: only the head and a request recover it.
            broker.restart();
        }
        let request = Message::Request(facerec_sync::messages::SyncRequest {
            device_id: "another-edge".into(),
            have_seq: head - 1,
            segments: None,
        });
        let asker = raw_client(&broker).await;
        asker
            .publish(
                topics.requests(&serbia()),
                QoS::AtLeastOnce,
                false,
                request.encode(),
            )
            .await
            .unwrap();
        let started = std::time::Instant::now();
        edge.start();
        edge.wait_applied(head, CATCH_UP_BOUND).await;
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("20 restarts: the slowest reached the head {slowest:?} after its start");
    edge.stop();
    hub.stop().await;
}

/// Waits until the broker holds `domain`'s head at `seq`: the hub has then
/// published that batch (it publishes the head after the batch).
async fn wait_for_head(broker: &Broker, domain: &str, seq: u64) {
    let options = facerec_sync::client::options("head-watcher", "127.0.0.1", broker.port);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 16);
    client
        .subscribe(
            format!("facerec/v1/domains/{domain}/head"),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let seen = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) =
                eventloop.poll().await
                && let Ok(Message::Head(head)) = Message::decode(&p.payload)
                && head.seq >= seq
            {
                return;
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "the hub never published head {seq} of {domain}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_edge_pulls_a_large_snapshot_and_searches_it_with_the_graph_the_hub_built() {
    let broker = Broker::start(BrokerKind::Embedded);
    let hub_dir = tempfile::tempdir().unwrap();
    // Chunks of 4 KiB and pushing only up to 8 of them: this ~1.5 MB
    // snapshot is sent segment by segment as the edge asks, as a
    // million-descriptor one is with the defaults.
    let hub = start_hub_with(hub_dir.path(), &broker, |mqtt| {
        mqtt.chunk_bytes = Some(4096);
        mqtt.push_max_chunks = Some(8);
    })
    .await;
    let key = hub_public_key(&hub).await;
    let people = random_people("p", 300, 3, 11);
    approve(&hub_store(&hub), "serbia", &people);
    build_batch(&hub, "serbia").await;
    // Batch 1 went out before the edge exists: the edge asks with nothing
    // applied, and the hub answers with a snapshot.
    wait_for_head(&broker, "serbia", 1).await;
    let edge_dir = tempfile::tempdir().unwrap();
    let mut edge = Edge::new(edge_dir.path(), &broker, &key, "edge-new");
    edge.start();
    edge.wait_applied(1, WAIT).await;
    let metrics = edge.metrics().await;
    assert!(
        metrics
            .contains(r#"facerec_sync_snapshot_graphs_total{domain="serbia",source="from_hub"} 1"#),
        "{metrics}"
    );
    let log = edge.log();
    assert!(
        log.contains("receiving a large batch segment by segment"),
        "{log}"
    );
    let spool = edge_dir.path().join("incoming");
    let left: Vec<_> = std::fs::read_dir(&spool).map_or(vec![], |d| d.flatten().collect());
    assert!(
        left.is_empty(),
        "the spool file is gone once applied: {left:?}"
    );
    // The shipped graph answers as one built here would: every person's
    // own descriptor finds them (read from the dump the edge saved of it).
    let manifest = edge_dir.path().join("index/serbia/manifest.json");
    wait_until("the edge's index dump", WAIT, || async {
        manifest.exists()
    })
    .await;
    edge.stop();
    let store = Arc::new(Store::open(edge_dir.path()).unwrap());
    let (set, reports) = IndexSet::open(
        store,
        &[serbia()],
        IndexOptions::new(SearchParams::with_threshold(0.6)),
    )
    .unwrap();
    assert_eq!(reports[0].source, facerec_index::IndexSource::Dump);
    let pack = facerec_vision::DEFAULT_PACK.name;
    for (id, vectors) in people.iter().step_by(13) {
        let query = [facerec_index::PackQuery {
            pack,
            vector: &vectors[1],
            threshold: 0.6,
        }];
        let best = set.search(&serbia(), &query).unwrap().best.unwrap();
        assert_eq!(best.person.as_str(), id);
    }
    hub.stop().await;
}
