//! The whole live path on an edge: replayed camera frames built from real
//! photos → detection → tracks → recognition → events on the in-process
//! bus, SSE, MQTT and metrics; the live page rendered by headless Chromium.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use facerec_camera::SourceSpec;
use facerec_live::{CameraConfig, LiveSettings};
use facerec_node::Role;
use facerec_storage::{NewDomain, Store};
use facerec_vision::{DecodeLimits, decode_image};
use image::{Rgb, RgbImage, imageops};
use reqwest::Method;
use rumqttc::{Event, Packet, QoS};
use serde_json::Value;

use crate::common::*;
use crate::sync_fixtures::{Broker, BrokerKind};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/faces")
        .join(name)
}

fn photo(name: &str) -> RgbImage {
    decode_image(
        &std::fs::read(sample(name)).unwrap(),
        &DecodeLimits::default(),
    )
    .unwrap()
}

/// A 640×480 camera frame showing `photo` (scaled to fit), shifted right by
/// `dx` pixels, as a person moving slightly would be.
fn frame_of(photo: &RgbImage, dx: i64) -> RgbImage {
    let mut frame = RgbImage::from_pixel(640, 480, Rgb([70, 70, 70]));
    let scale = (440.0 / photo.height() as f32).min(560.0 / photo.width() as f32);
    let (w, h) = (
        (photo.width() as f32 * scale) as u32,
        (photo.height() as f32 * scale) as u32,
    );
    let resized = imageops::resize(photo, w, h, imageops::FilterType::Triangle);
    imageops::overlay(&mut frame, &resized, 40 + dx, 20);
    frame
}

/// 1 s of empty scene, person_05 (a photo the edge never saw), empty, a
/// stranger, empty, then person_03 until the end — at 10 fps.
fn write_clip(dir: &Path) {
    write_frames(dir, &clip_frames());
}

pub(crate) fn write_frames(dir: &Path, frames: &[RgbImage]) {
    for (i, f) in frames.iter().enumerate() {
        f.save(dir.join(format!("frame{i:04}.jpg"))).unwrap();
    }
}

pub(crate) fn clip_frames() -> Vec<RgbImage> {
    let blank = RgbImage::from_pixel(640, 480, Rgb([70, 70, 70]));
    let mut frames: Vec<RgbImage> = vec![blank.clone(); 10];
    for name in ["img61.jpg", "img44.jpg", "img51.jpg"] {
        let p = photo(name);
        frames.extend((0..15).map(|i| frame_of(&p, i * 2)));
        if name != "img51.jpg" {
            frames.extend(vec![blank.clone(); 10]);
        }
    }
    frames
}

pub(crate) fn enrol(store: &Store, index: &facerec_index::IndexSet) {
    crate::recognize::enrol_serbia(
        store,
        index,
        &[
            (
                "person_05",
                "Person Five",
                &["img16.jpg", "img17.jpg", "img62.jpg"],
            ),
            ("person_03", "Person Three", &["img50.jpg"]),
        ],
    );
}

/// Reads SSE messages (`event:` and `data:` lines) until `until` holds.
pub(crate) async fn read_sse(
    resp: reqwest::Response,
    within: Duration,
    until: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let mut resp = resp;
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + within;
    while !until(&out) && Instant::now() < deadline {
        let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(1), resp.chunk()).await
        else {
            continue;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let message: String = buf.drain(..end + 2).collect();
            let mut kind = String::new();
            let mut data = String::new();
            let mut id = None;
            for line in message.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().into();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                }
            }
            if !data.is_empty() {
                let mut value: Value = serde_json::from_str(&data).unwrap();
                if let (Some(id), Some(map)) = (id, value.as_object_mut()) {
                    map.insert("sse_id".into(), id.into());
                }
                out.push((kind, value));
            }
        }
    }
    out
}

pub(crate) fn appeared(events: &[(String, Value)]) -> Vec<&Value> {
    events
        .iter()
        .filter(|(k, _)| k == "track_appeared")
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_frames_are_tracked_recognised_and_announced() {
    let root = tempfile::tempdir().unwrap();
    let clip = tempfile::tempdir().unwrap();
    write_clip(clip.path());
    // person_03 alone, looped, for the live page.
    let hall_clip = tempfile::tempdir().unwrap();
    write_frames(hall_clip.path(), &clip_frames()[60..75]);
    {
        let store = Store::open(root.path()).unwrap();
        store.create_domain(NewDomain::named("serbia")).unwrap();
        store.create_domain(NewDomain::named("greece")).unwrap();
    }
    let broker = Broker::start(BrokerKind::Embedded);
    // A watcher on the device's event topic, subscribed before the edge
    // starts.
    let options = facerec_sync::client::options("event-watcher", "127.0.0.1", broker.port);
    let (watcher, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    watcher
        .subscribe("facerec/v1/devices/edge-door/events", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (mqtt_tx, mut mqtt_rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut subscribed = Some(subscribed_tx);
        while let Ok(event) = eventloop.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(tx) = subscribed.take() {
                        let _ = tx.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    let _ = mqtt_tx.send(serde_json::from_slice(&p.payload).unwrap());
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), subscribed_rx)
        .await
        .expect("subscribed to the event topic")
        .unwrap();

    // Enrol first (the edge is started once, with its cameras).
    {
        let mut config = config(root.path(), Some("serbia"), &[]);
        config.cameras = vec![];
        let edge = Node::start(&config, Role::Edge).await;
        let s = edge.server.as_ref().unwrap();
        enrol(&s.store, s.index.as_ref().unwrap());
        edge.stop().await;
    }

    let mut config = config(root.path(), Some("serbia"), &[]);
    config.mqtt_overrides.broker = Some(broker.url());
    config.mqtt_overrides.device_id = Some("edge-door".into());
    config.mqtt_overrides.hub_public_keys = Some(vec![hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
            .verifying_key()
            .to_bytes(),
    )]);
    let settings = LiveSettings {
        lost_after_ms: 600,
        ..Default::default()
    };
    config.cameras = vec![
        CameraConfig {
            masks: vec![],
            analysis_max_side: 1920,
            id: "door".into(),
            source: SourceSpec::Replay {
                path: clip.path().to_path_buf(),
                fps: 10,
                repeat: false,
            },
            domain: None,
            settings,
        },
        // A camera that is not there: retried in the background, while the
        // other one works.
        CameraConfig {
            masks: vec![],
            analysis_max_side: 1920,
            id: "yard".into(),
            source: SourceSpec::MjpegHttp {
                url: format!(
                    "http://127.0.0.1:{}/video",
                    crate::sync_fixtures::free_port()
                ),
                timeout_ms: 300,
            },
            domain: None,
            settings,
        },
        CameraConfig {
            masks: vec![],
            analysis_max_side: 1920,
            id: "hall".into(),
            source: SourceSpec::Replay {
                path: hall_clip.path().to_path_buf(),
                fps: 5,
                repeat: true,
            },
            domain: None,
            settings,
        },
    ];
    let edge = Node::start(&config, Role::Edge).await;
    let bus = edge
        .server
        .as_ref()
        .unwrap()
        .live
        .as_ref()
        .unwrap()
        .bus
        .clone();
    let mut on_bus = bus.subscribe();
    let sse = edge
        .req(Method::GET, "/api/events?camera=door", Some(SERBIA))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(
        sse.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // Greece's client sees none of Serbia's cameras.
    let resp = edge.get("/api/cameras", GREECE).await;
    assert_eq!(json(resp, 200).await, serde_json::json!([]));
    let resp = edge
        .req(Method::GET, "/api/events?camera=door", Some(GREECE))
        .send()
        .await
        .unwrap();
    problem(resp, 404).await;

    // The replay ends after person_03: every track that appeared is lost.
    let events = read_sse(sse, Duration::from_secs(90), |e| {
        appeared(e).len() >= 3 && e.iter().filter(|(k, _)| k == "track_lost").count() >= 3
    })
    .await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    let shown = appeared(&events);
    let summary: Vec<String> = events
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} t{} {} f{}",
                v["track_id"], v["person"]["id"], v["frame_seq"]
            )
        })
        .collect();
    assert_eq!(shown.len(), 3, "one event per appearance: {summary:#?}");
    assert_eq!(shown[0]["status"], "recognized", "{}", shown[0]);
    assert_eq!(shown[0]["person"]["id"], "person_05");
    assert_eq!(shown[0]["person"]["name"], "Person Five");
    assert_eq!(shown[0]["matched_domain"], "serbia");
    assert!(shown[0]["distance"].as_f64().unwrap() < 0.6);
    assert_eq!(shown[1]["status"], "unknown", "the stranger: {}", shown[1]);
    assert!(shown[1]["person"].is_null());
    assert_eq!(shown[2]["person"]["id"], "person_03", "{}", shown[2]);
    let ids: Vec<u64> = shown
        .iter()
        .map(|e| e["track_id"].as_u64().unwrap())
        .collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
    // Each person kept one track id while in view: the tracks that ended
    // are the ones that appeared, each once, and nothing changed identity.
    let lost: Vec<&Value> = events
        .iter()
        .filter(|(k, _)| k == "track_lost")
        .map(|(_, v)| v)
        .collect();
    let lost_ids: Vec<u64> = lost
        .iter()
        .map(|v| v["track_id"].as_u64().unwrap())
        .collect();
    assert_eq!(lost_ids, ids, "{summary:#?}");
    // The face leaving the picture changes much of it (a cut) or not
    // (left); the last track ends with the replay.
    for e in &lost[..2] {
        assert!(
            matches!(e["reason"].as_str(), Some("scene_cut" | "left")),
            "{e}"
        );
    }
    assert_eq!(lost[2]["reason"], "stopped", "{}", lost[2]);
    assert!(!kinds.contains(&"identity_changed"), "{kinds:?}");
    for (_, e) in &events {
        assert_eq!(e["camera"], "door");
        assert_eq!(e["device_id"], "edge-door");
        assert!(e["latency_ms"].as_f64().unwrap() >= 0.0);
    }

    // A reader that reconnects with the id of the first event gets every
    // later one, then word that it is live.
    let first_id = events[0].1["sse_id"].as_str().unwrap().to_string();
    let resumed = edge
        .req(Method::GET, "/api/events?camera=door", Some(SERBIA))
        .header("Last-Event-ID", &first_id)
        .send()
        .await
        .unwrap();
    let replayed = read_sse(resumed, Duration::from_secs(30), |e| {
        e.iter().any(|(k, _)| k == "caught_up")
    })
    .await;
    let replayed_ids: Vec<&str> = replayed
        .iter()
        .filter(|(k, _)| k != "caught_up")
        .map(|(_, v)| v["event_id"].as_str().unwrap())
        .collect();
    let missed_ids: Vec<&str> = events[1..]
        .iter()
        .map(|(_, v)| v["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(replayed_ids, missed_ids);
    assert_eq!(replayed.last().unwrap().1["replayed"], missed_ids.len());
    problem(
        edge.req(Method::GET, "/api/events", Some(SERBIA))
            .header("Last-Event-ID", "yesterday")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;

    // A browser's EventSource opens streams with a short-lived token in
    // the URL, which grants what its bearer token grants, and only there.
    let minted: Value = json(
        edge.req(Method::POST, "/api/access-tokens", Some(SERBIA))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let access = minted["access_token"].as_str().unwrap();
    assert_eq!(minted["expires_in"], 60);
    let with_access = edge
        .req(
            Method::GET,
            &format!("/api/events?camera=door&last_event_id=0-0&access_token={access}"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(with_access.status(), 200);
    let all = read_sse(with_access, Duration::from_secs(30), |e| {
        e.iter().any(|(k, _)| k == "caught_up")
    })
    .await;
    assert_eq!(
        all.len(),
        events.len() + 1,
        "every kept event, then caught_up"
    );
    let greek: Value = json(
        edge.req(Method::POST, "/api/access-tokens", Some(GREECE))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let greek = greek["access_token"].as_str().unwrap();
    problem(
        edge.req(
            Method::GET,
            &format!("/api/events?camera=door&access_token={greek}"),
            None,
        )
        .send()
        .await
        .unwrap(),
        404,
    )
    .await;
    let mut forged = access.to_string();
    forged.replace_range(4..5, if &forged[4..5] == "A" { "B" } else { "A" });
    for path in [
        format!("/api/events?access_token={forged}"),
        "/api/events".to_string(),
        format!("/api/cameras?access_token={access}"),
    ] {
        problem(
            edge.req(Method::GET, &path, None).send().await.unwrap(),
            401,
        )
        .await;
    }

    // The same events on the bus and on MQTT.
    let mut bus_kinds = vec![];
    while let Ok(e) = on_bus.try_recv() {
        if e.camera == "door" {
            bus_kinds.push(e.kind.as_str());
        }
    }
    assert_eq!(bus_kinds, kinds);
    let mut over_mqtt = vec![];
    let deadline = Instant::now() + Duration::from_secs(10);
    while over_mqtt.len() < events.len() && Instant::now() < deadline {
        if let Ok(Some(v)) = tokio::time::timeout(Duration::from_millis(200), mqtt_rx.recv()).await
            && v["camera"] == "door"
        {
            over_mqtt.push(v);
        }
    }
    let mqtt_ids: Vec<&str> = over_mqtt
        .iter()
        .map(|v| v["event_id"].as_str().unwrap())
        .collect();
    let sse_ids: Vec<&str> = events
        .iter()
        .map(|(_, v)| v["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(mqtt_ids, sse_ids);

    // The replay has ended; the view keeps its last frame, with no face.
    let deadline = Instant::now() + Duration::from_secs(30);
    let cameras = loop {
        let cams: Value = json(edge.get("/api/cameras", SERBIA).await, 200).await;
        if cams[0]["source"]["state"] == "ended" {
            break cams;
        }
        assert!(Instant::now() < deadline, "{cams}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(cameras[0]["id"], "door");
    assert!(
        cameras[0]["pipeline"]["frames_analysed"].as_u64().unwrap() >= 10,
        "{cameras}"
    );
    assert_eq!(cameras[1]["id"], "yard");
    assert_eq!(cameras[1]["source"]["state"], "reconnecting", "{cameras}");
    assert!(
        cameras[1]["source"]["errors"]["open"].as_u64().unwrap() >= 1,
        "{cameras}"
    );
    let tracks: Value = json(edge.get("/api/cameras/door/tracks", SERBIA).await, 200).await;
    assert_eq!(tracks["width"], 640);
    assert_eq!(tracks["tracks"], serde_json::json!([]), "{tracks}");
    let frame = edge.get("/api/cameras/door/frame.jpg", SERBIA).await;
    assert_eq!(frame.status(), 200);
    let jpeg = frame.bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&jpeg).unwrap().width(), 640);
    problem(edge.get("/api/cameras/nope/tracks", SERBIA).await, 404).await;
    problem(edge.get("/api/cameras/door/frame.jpg", GREECE).await, 404).await;

    let metrics = edge.get("/metrics", ADMIN).await.text().await.unwrap();
    for line in [
        r#"facerec_live_events_total{camera="door",type="track_appeared"} 3"#,
        r#"facerec_live_events_total{camera="door",type="track_lost"} 3"#,
        r#"facerec_camera_up{camera="yard"} 0"#,
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    for name in [
        "facerec_live_frames_total{camera=\"door\"}",
        "facerec_live_stage_seconds_bucket{camera=\"door\",stage=\"detect\"",
        "facerec_live_event_latency_seconds_count{camera=\"door\"}",
        "facerec_live_fps{camera=\"door\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }

    check_live_page(&edge).await;
    edge.stop().await;
}

/// Loads `/live` in headless Chromium and reads the names it drew.
async fn check_live_page(edge: &Node) {
    let Some(chromium) = chromium("the /live page check") else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/live#snapshot&token={SERBIA}", edge.base);
    let out = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=5000",
            "--dump-dom",
            &url,
        ])
        .output()
        .await
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("class=\"face-box recognized\"") && dom.contains("Person Three · serbia"),
        "the live page did not draw the recognised face:\n{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("door · serbia"), "{dom}");
    // The yard camera is listed, though it has no frame.
    assert!(dom.contains("yard · serbia"), "{dom}");
    // Each camera's face count is the number of boxes drawn: both come
    // from one view message.
    for section in dom.split("<section class=\"camera\"").skip(1) {
        let faces: usize = section
            .split("<span class=\"faces\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no face count in {section}"));
        assert_eq!(
            faces,
            section.matches("class=\"face-box").count(),
            "{section}"
        );
    }
    // Events reached the page through SSE (opened with an access token).
    assert!(dom.contains("data-type=\"track_appeared\""), "{dom}");
}
