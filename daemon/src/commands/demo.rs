//! `facerecd demo`: the whole system on loopback in one process, on the
//! bundled sample photos — an embedded MQTT broker, a hub that trains two
//! domains and publishes their batches, a Slovenian edge (inheriting
//! croatia, then serbia) and a Greek edge that sync them and watch replayed
//! camera frames — then a table of who each edge recognised and whether
//! the domains stayed apart. Exits non-zero when a check fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use facerec_camera::SourceSpec;
use facerec_storage::{BatchKind, DomainCode, PersonId};
use facerec_vision::{DecodeLimits, FaceEngine, decode_image};
use image::{Rgb, RgbImage, imageops};

use super::bench::table;
use crate::config::{Config, FileConfig, Overrides};
use crate::server::RunningServer;
use facerec_live::events::EventKind;
use facerec_live::{CameraConfig, LiveSettings};
use facerec_node::Role;
use facerec_sync::config::MqttOverrides;

const DOMAINS_JSON: &str = include_str!("../../../deploy/examples/domains.json");

/// Who trains where: (domain, display name, training photos).
const TRAINING: [(&str, &str, &[&str]); 3] = [
    (
        "serbia",
        "Person 05",
        &["img16.jpg", "img17.jpg", "img61.jpg"],
    ),
    ("serbia", "Person 03", &["img50.jpg", "img51.jpg"]),
    ("greece", "Person 10", &["img44.jpg"]),
];

/// What the cameras show, in order: photos none of the training used.
/// img62 also shows an unenrolled person.
const SCENES: [(&str, &str); 2] = [
    ("img62.jpg", "person_05 and a stranger"),
    ("img46.jpg", "person_10"),
];

pub async fn run(config: &Config, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let work = dir.unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    let samples = samples_dir(config)?;
    let domains_file = work.join("domains.json");
    std::fs::write(&domains_file, DOMAINS_JSON)?;
    let broker_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    facerec_sync::broker::start(format!("127.0.0.1:{broker_port}").parse()?)?;
    let broker = format!("mqtt://127.0.0.1:{broker_port}");
    step(&format!("embedded MQTT broker on 127.0.0.1:{broker_port}"));

    let node_config =
        |name: &str, primary: Option<&str>, allowed: &[&str], keys: Option<String>| {
            Config::resolve(
                FileConfig::default(),
                Overrides {
                    data_root: Some(work.join(name)),
                    listen: Some("127.0.0.1:0".parse().expect("address")),
                    primary_domain: primary.map(str::to_string),
                    allowed_domains: Some(allowed.iter().map(|s| s.to_string()).collect()),
                    domains_file: Some(domains_file.clone()),
                    models_dir: Some(config.models_dir.clone()),
                    mqtt: MqttOverrides {
                        broker: Some(broker.clone()),
                        device_id: Some(format!("demo-{name}")),
                        hub_public_keys: keys.map(|k| vec![k]),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
        };

    let hub = crate::server::start(&node_config("hub", None, &[], None)?, Role::Hub).await?;
    step(&format!(
        "hub on http://{} with the example domains",
        hub.addr
    ));
    let engines = Arc::new(facerec_vision::Engines::new(
        facerec_vision::ModelFiles::new(&config.models_dir),
    ));
    let engine = engines.get(facerec_vision::DEFAULT_PACK)?;
    let key = facerec_sync::keys::hub_key(hub.store.layout())?;
    {
        let (store, engine, key, samples, work) = (
            hub.store.clone(),
            engine.clone(),
            key.clone(),
            samples.clone(),
            work.clone(),
        );
        let published =
            tokio::task::spawn_blocking(move || train(&store, &engine, &key, &samples, &work))
                .await??;
        let publisher = hub.publisher.as_ref().context("the hub has no publisher")?;
        for (domain, seq, people) in &published {
            publisher.batch_built(domain, BatchKind::Delta, *seq);
            let people = match people {
                1 => "1 person".to_string(),
                n => format!("{n} people"),
            };
            step(&format!(
                "trained {domain}: {people}, batch {seq} signed and published"
            ));
        }
    }
    let public_key = hex::encode(key.verifying_key().to_bytes());

    let frames = work.join("frames");
    write_frames(&samples, &frames)?;
    let mut edges = Vec::new();
    for (name, primary, allowed, synced) in [
        (
            "edge-slovenia",
            "slovenia",
            &["croatia", "serbia"][..],
            "serbia",
        ),
        ("edge-greece", "greece", &[][..], "greece"),
    ] {
        let cfg = node_config(name, Some(primary), allowed, Some(public_key.clone()))?;
        let edge = crate::server::start(&cfg, Role::Edge).await?;
        wait_applied(&edge, synced, Duration::from_secs(90)).await?;
        step(&format!(
            "{name} on http://{} ({primary}, inherits [{}]): batch of {synced} applied",
            edge.addr,
            allowed.join(", ")
        ));
        edges.push((name, primary, edge));
    }

    // Both edges watch the same replayed scene.
    let mut watchers = Vec::new();
    for (name, primary, edge) in &edges {
        let bus = facerec_live::EventBus::default();
        let events = bus.subscribe();
        let live = facerec_live::start(
            &[CameraConfig {
                masks: vec![],
                analysis_max_side: 1920,
                id: "door".into(),
                source: SourceSpec::Replay {
                    path: frames.clone(),
                    fps: 10,
                    repeat: false,
                },
                domain: None,
                // Faces of passers-by in the photos' backgrounds are left out.
                settings: LiveSettings {
                    lost_after_ms: 600,
                    min_face: 80.0,
                    ..Default::default()
                },
            }],
            Some(&DomainCode::parse(primary)?),
            facerec_live::LiveDeps {
                engines: engines.clone(),
                index: edge.index.clone().context("an edge has an index")?,
                store: edge.store.clone(),
                device_id: format!("demo-{name}"),
                bus,
                metrics: Arc::new(facerec_node::metrics::Metrics::new()),
            },
        )?;
        watchers.push((*name, events, live));
    }
    step("replaying the camera scene into both edges…");
    let mut rows = Vec::new();
    for (name, mut events, live) in watchers {
        let deadline = Instant::now() + Duration::from_secs(120);
        let camera = live.cameras[0].clone();
        loop {
            match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
                Ok(Ok(e)) if e.kind != EventKind::TrackLost => rows.push((name, (*e).clone())),
                Ok(_) => {}
                Err(_)
                    if camera.source_status().state == facerec_camera::SourceState::Ended
                        && camera.stats.lock().expect("stats").frames_analysed > 0 =>
                {
                    break;
                }
                Err(_) => {}
            }
            if Instant::now() > deadline {
                bail!("{name}: the replay did not finish in time");
            }
        }
        camera.stop();
    }

    // Frames: 10 empty, then per scene 15 showing it and 10 empty.
    let scene = |frame_seq: u64| {
        let i = (frame_seq.saturating_sub(11) / 25) as usize;
        SCENES
            .get(i)
            .map_or("?".to_string(), |(file, who)| format!("{file} ({who})"))
    };
    let mut t = table(&[
        "edge",
        "scene shown",
        "track",
        "event",
        "who",
        "found in",
        "confidence",
    ]);
    for (edge, e) in &rows {
        t.add_row(vec![
            edge.to_string(),
            scene(e.frame_seq),
            e.track_id.to_string(),
            e.kind.as_str().to_string(),
            e.person
                .as_ref()
                .map_or("unknown".into(), |p| format!("{} ({})", p.name, p.id)),
            e.matched_domain.clone().unwrap_or_else(|| "—".into()),
            e.person
                .as_ref()
                .map_or("—".into(), |_| format!("{:.0}%", e.confidence)),
        ]);
    }
    println!("\n{t}\n");

    let saw = |edge: &str, person: &str, domain: &str| {
        rows.iter().any(|(n, e)| {
            *n == edge
                && e.person.as_ref().is_some_and(|p| p.id == person)
                && e.matched_domain.as_deref() == Some(domain)
        })
    };
    let never = |edge: &str, person: &str| {
        !rows
            .iter()
            .any(|(n, e)| *n == edge && e.person.as_ref().is_some_and(|p| p.id == person))
    };
    let slovenia_index = &edges[0].2.index.as_ref().expect("index");
    let greek_on_slovenian = slovenia_index
        .served()
        .iter()
        .any(|d| d.as_str() == "greece");
    let checks = [
        (
            "the Slovenian edge recognised the Serbian face through inheritance (slovenia → croatia → serbia)",
            saw("edge-slovenia", "person_05", "serbia"),
        ),
        (
            "the Greek edge recognised the Greek face in greece",
            saw("edge-greece", "person_10", "greece"),
        ),
        (
            "the Greek-only face is unknown on the Slovenian edge",
            never("edge-slovenia", "person_10"),
        ),
        (
            "the Serbian face is unknown on the Greek edge",
            never("edge-greece", "person_05"),
        ),
        (
            "the Slovenian edge holds no Greek data (it never loads or subscribes to greece)",
            !greek_on_slovenian,
        ),
    ];
    let mut failed = 0;
    for (what, held) in checks {
        println!("{} {what}", if held { "✓" } else { "✗" });
        failed += usize::from(!held);
    }
    for (_, _, edge) in edges {
        edge.stop().await?;
    }
    hub.stop().await?;
    if failed > 0 {
        bail!("{failed} demo check(s) failed");
    }
    println!("\nall checks held ({})", work.display());
    Ok(())
}

fn step(what: &str) {
    eprintln!("· {what}");
}

/// The bundled sample photos (`samples/faces`), next to the models or in
/// the source tree this binary was built from.
fn samples_dir(config: &Config) -> anyhow::Result<PathBuf> {
    let candidates = [
        config.models_dir.join("../samples/faces"),
        PathBuf::from("samples/faces"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/faces"),
    ];
    candidates
        .into_iter()
        .find(|p| p.join("identities.csv").is_file())
        .context("the sample photos (samples/faces) are not here: run the demo from the repository")
}

/// Ingests, processes, approves and batches the training photos; returns
/// (domain, seq, people) of each batch built.
fn train(
    store: &facerec_storage::Store,
    engine: &FaceEngine,
    key: &ed25519_dalek::SigningKey,
    samples: &Path,
    work: &Path,
) -> anyhow::Result<Vec<(DomainCode, u64, usize)>> {
    let mut out = Vec::new();
    for domain in ["serbia", "greece"] {
        let code = DomainCode::parse(domain)?;
        let photos = work.join("photos").join(domain);
        for (d, name, files) in TRAINING.iter().filter(|(d, _, _)| *d == domain) {
            let dir = photos.join(name.replace(' ', "_"));
            std::fs::create_dir_all(&dir)?;
            for f in *files {
                std::fs::copy(samples.join(f), dir.join(f))
                    .with_context(|| format!("cannot copy {f} for {d}"))?;
            }
        }
        facerec_hub::acquire::ingest_dir(store, &code, &photos, |_| {})?;
        facerec_hub::process::process_domain(store, engine, &code, &Default::default(), 2, &|| {})?;
        let people: Vec<PersonId> = facerec_hub::review::staging(store, &code)?
            .into_iter()
            .map(|e| e.person.id)
            .collect();
        facerec_hub::review::approve(store, &code, &people, None)?;
        let manifest =
            facerec_hub::batch::build_delta(store, &code, key)?.context("nothing to batch")?;
        out.push((code, manifest.seq, people.len()));
    }
    Ok(out)
}

/// 1 s of empty scene, then each scene photo for 1.5 s with 1 s between,
/// as 640×480 frames.
fn write_frames(samples: &Path, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let blank = RgbImage::from_pixel(640, 480, Rgb([70, 70, 70]));
    let mut frames = vec![blank.clone(); 10];
    for (file, _) in SCENES {
        let photo = decode_image(
            &std::fs::read(samples.join(file))?,
            &DecodeLimits::default(),
        )?;
        let scale = (440.0 / photo.height() as f32).min(560.0 / photo.width() as f32);
        let scaled = imageops::resize(
            &photo,
            (photo.width() as f32 * scale) as u32,
            (photo.height() as f32 * scale) as u32,
            imageops::FilterType::Triangle,
        );
        for i in 0..15 {
            let mut f = blank.clone();
            imageops::overlay(&mut f, &scaled, 40 + 2 * i, 20);
            frames.push(f);
        }
        frames.extend(vec![blank.clone(); 10]);
    }
    for (i, f) in frames.iter().enumerate() {
        f.save(dir.join(format!("frame{i:04}.jpg")))?;
    }
    Ok(())
}

async fn wait_applied(edge: &RunningServer, domain: &str, within: Duration) -> anyhow::Result<()> {
    let status = edge.sync_status.clone().context("the edge has no sync")?;
    let deadline = Instant::now() + within;
    loop {
        let applied = status
            .read()
            .expect("status lock")
            .domains
            .iter()
            .any(|d| d.domain == domain && d.applied_seq >= 1);
        if applied {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the edge did not receive the {domain} batch within {} s",
                within.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
