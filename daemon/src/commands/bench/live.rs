//! `facerecd bench live`: the edge's camera pipeline on replayed 640×480
//! frames (1 and 5 faces that come and go), and `POST /api/recognize` on a
//! 2-megapixel photo against a large domain, alone and under concurrency.
//!
//! Everything runs in this process, on loopback: the pipeline exactly as an
//! edge runs it (replay source, supervisor, tracker, index, event bus), and
//! a real edge HTTP server for the recognition requests.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use facerec_camera::SourceSpec;
use facerec_storage::{
    DomainCode, NewDomain, NewEmbedding, NewPerson, PersonId, PersonStatus, Store,
};
use facerec_vision::{DecodeLimits, DetectorConfig, FaceEngine, ModelFiles, decode_image};
use image::{Rgb, RgbImage, imageops};

use super::{Samples, table};
use crate::config::{Config, FileConfig, Overrides};
use facerec_live::events::EventKind;
use facerec_live::{CameraConfig, LiveSettings};
use facerec_node::Role;
use facerec_sync::config::MqttOverrides;

/// Sample photos with one clear face each (samples/faces).
const FACES: [&str; 5] = [
    "img61.jpg",
    "img12.jpg",
    "img25.jpg",
    "img44.jpg",
    "img50.jpg",
];

pub struct Options {
    pub seconds: u64,
    pub gallery: usize,
    pub recognize_gallery: usize,
    pub requests: usize,
    pub pack: &'static facerec_vision::ModelPack,
}

pub async fn run(config: &Config, opts: Options) -> anyhow::Result<()> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/faces");
    let engines = Arc::new(facerec_vision::Engines::new(ModelFiles::new(
        config.models_dir.clone(),
    )));
    let engine = engines.get(opts.pack)?;
    eprintln!("pack {}", opts.pack.name);
    let photos: Vec<RgbImage> = FACES
        .iter()
        .map(|f| {
            let bytes =
                std::fs::read(samples.join(f)).with_context(|| format!("cannot read {f}"))?;
            Ok(decode_image(&bytes, &DecodeLimits::default())?)
        })
        .collect::<anyhow::Result<_>>()?;

    eprintln!(
        "seeding a {}-descriptor gallery with the sample people…",
        opts.gallery
    );
    let work = tempfile::tempdir()?;
    let domain = DomainCode::parse("bench")?;
    let root = work.path().join("edge");
    {
        let store = Store::open(&root)?;
        store.create_domain(NewDomain::named("bench"))?;
        let real = enrol_samples(&store, &domain, &engine, &photos)?;
        add_lookalikes(&store, &domain, opts.pack, &real, opts.gallery, 3)?;
    }
    let store = Arc::new(Store::open(&root)?);
    let index = Arc::new(
        facerec_index::IndexSet::open(
            store.clone(),
            std::slice::from_ref(&domain),
            facerec_index::IndexOptions::new(facerec_index::SearchParams::with_threshold(
                facerec_vision::MATCH_THRESHOLD,
            )),
        )?
        .0,
    );

    let mut t = table(&[
        "frames",
        "detect every",
        "analysed fps",
        "skipped",
        "CPU (cores)",
        "events",
        "frame→event p50",
        "frame→event p99",
    ]);
    for faces in [1usize, 5].into_iter().filter(|_| opts.seconds > 0) {
        let clip = work.path().join(format!("clip{faces}"));
        std::fs::create_dir_all(&clip)?;
        write_clip(&clip, &photos[..faces])?;
        for detect_every in [1u32, 3] {
            let r = run_pipeline(
                &clip,
                &engines,
                &index,
                &store,
                &domain,
                detect_every,
                opts.seconds,
            )
            .await?;
            t.add_row(vec![
                format!("640×480, {faces} face(s), 30 fps"),
                detect_every.to_string(),
                format!("{:.1}", r.fps),
                format!("{:.0}%", 100.0 * r.skipped),
                format!("{:.2}", r.cores),
                r.latencies.0.len().to_string(),
                format!("{:.0} ms", r.latencies.percentile(50.0)),
                format!("{:.0} ms", r.latencies.percentile(99.0)),
            ]);
        }
    }
    println!(
        "\nLive pipeline ({} s per row; faces come for 1.5 s and go for 1 s; gallery {} descriptors)",
        opts.seconds, opts.gallery
    );
    println!("{t}");
    drop(index);
    drop(store);

    recognize(&opts, &engine, &photos, work.path()).await
}

/// Enrols the sample people; returns their descriptors.
fn enrol_samples(
    store: &Store,
    domain: &DomainCode,
    engine: &FaceEngine,
    photos: &[RgbImage],
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut out = Vec::new();
    for (i, photo) in photos.iter().enumerate() {
        let mut faces = engine.analyze(photo, &DetectorConfig::default())?;
        faces.sort_by(|a, b| b.face.bbox.area().total_cmp(&a.face.bbox.area()));
        let Some(face) = faces.into_iter().next() else {
            continue;
        };
        let id = PersonId::parse(&format!("sample_{i}"))?;
        store.upsert_person(
            domain,
            NewPerson::named(id.clone(), format!("Sample {i}"), PersonStatus::Approved),
        )?;
        out.push(face.descriptor.0.clone());
        store.add_embeddings(
            domain,
            engine.pack.name,
            &id,
            &[NewEmbedding {
                image_id: None,
                vector: face.descriptor.0,
            }],
        )?;
    }
    Ok(out)
}

/// Synthetic people around the real descriptors' mean, spread like dlib's
/// (people ≈ 0.9 apart, a person's photos ≈ 0.4 apart) scaled to the
/// pack's distances, 5 photos each — a gallery the real people sit inside
/// of, as in a real domain.
fn add_lookalikes(
    store: &Store,
    domain: &DomainCode,
    pack: &'static facerec_vision::ModelPack,
    real: &[Vec<f32>],
    descriptors: usize,
    seed: u64,
) -> anyhow::Result<()> {
    use super::index::around;
    use rand::SeedableRng;
    let dim = facerec_vision::DESCRIPTOR_LEN;
    let mean: Vec<f32> = (0..dim)
        .map(|i| real.iter().map(|d| d[i]).sum::<f32>() / real.len() as f32)
        .collect();
    let scale = pack.match_distance() / facerec_vision::MATCH_THRESHOLD;
    let (person, photo) = (
        scale * 0.9 / (2.0 * dim as f32).sqrt(),
        scale * 0.4 / (2.0 * dim as f32).sqrt(),
    );
    let unit = |mut v: Vec<f32>| {
        if pack.normalised() {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
            v.iter_mut().for_each(|x| *x /= n);
        }
        v
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for p in 0..descriptors.div_ceil(5) {
        let id = PersonId::parse(&format!("p_{p:06}"))?;
        store.upsert_person(
            domain,
            NewPerson::named(id.clone(), id.to_string(), PersonStatus::Approved),
        )?;
        let center = around(&mut rng, &mean, person);
        let photos: Vec<NewEmbedding> = (0..5)
            .map(|_| NewEmbedding {
                image_id: None,
                vector: unit(around(&mut rng, &center, photo)),
            })
            .collect();
        store.add_embeddings(domain, pack.name, &id, &photos)?;
    }
    Ok(())
}

/// `photos` side by side in a 640×480 frame.
fn compose(photos: &[RgbImage]) -> RgbImage {
    let mut frame = RgbImage::from_pixel(640, 480, Rgb([70, 70, 70]));
    let (cols, rows) = if photos.len() == 1 { (1, 1) } else { (3, 2) };
    let (cw, ch) = (640 / cols, 480 / rows);
    for (i, p) in photos.iter().enumerate() {
        let scale = (ch as f32 * 0.95 / p.height() as f32).min(cw as f32 * 0.95 / p.width() as f32);
        let r = imageops::resize(
            p,
            (p.width() as f32 * scale) as u32,
            (p.height() as f32 * scale) as u32,
            imageops::FilterType::Triangle,
        );
        let (x, y) = ((i as u32 % cols) * cw, (i as u32 / cols) * ch);
        imageops::overlay(&mut frame, &r, x as i64, y as i64);
    }
    frame
}

/// 45 frames with the faces (1.5 s at 30 fps), then 30 empty ones.
fn write_clip(dir: &Path, photos: &[RgbImage]) -> anyhow::Result<()> {
    let with = compose(photos);
    let without = RgbImage::from_pixel(640, 480, Rgb([70, 70, 70]));
    for i in 0..75 {
        let f = if i < 45 { &with } else { &without };
        f.save(dir.join(format!("f{i:03}.jpg")))?;
    }
    Ok(())
}

struct PipelineRun {
    fps: f64,
    skipped: f64,
    cores: f64,
    latencies: Samples,
}

/// Process CPU time (user + system) from /proc; Linux's USER_HZ is 100.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some(
                (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
                    / 100.0,
            )
        })
        .unwrap_or(f64::NAN)
}

async fn run_pipeline(
    clip: &Path,
    engines: &Arc<facerec_vision::Engines>,
    index: &Arc<facerec_index::IndexSet>,
    store: &Arc<Store>,
    domain: &DomainCode,
    detect_every: u32,
    seconds: u64,
) -> anyhow::Result<PipelineRun> {
    let metrics = Arc::new(facerec_node::metrics::Metrics::new());
    let bus = facerec_live::EventBus::default();
    let mut events = bus.subscribe();
    let camera = CameraConfig {
        masks: vec![],
        analysis_max_side: 1920,
        id: "bench".into(),
        source: SourceSpec::Replay {
            path: clip.to_path_buf(),
            fps: 30,
            repeat: true,
        },
        domain: None,
        // Every return is a new appearance here, so each cycle is measured.
        settings: LiveSettings {
            detect_every,
            lost_after_ms: 500,
            ..Default::default()
        },
    };
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let runtime = facerec_live::pipeline::start(
        &camera,
        domain.clone(),
        facerec_live::LiveDeps {
            engines: engines.clone(),
            index: index.clone(),
            store: store.clone(),
            device_id: "bench".into(),
            bus,
            metrics,
        },
    );
    let mut latencies = Samples::default();
    let deadline = started + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        match tokio::time::timeout(deadline - Instant::now(), events.recv()).await {
            Ok(Ok(e)) if e.kind == EventKind::TrackAppeared => latencies.0.push(e.latency_ms),
            Ok(_) | Err(_) => {}
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cores = (cpu_seconds() - cpu0) / wall;
    let stats = runtime.stats.lock().expect("stats lock").clone();
    let source = runtime.source_status();
    runtime.stop();
    Ok(PipelineRun {
        fps: stats.frames_analysed as f64 / wall,
        skipped: stats.frames_dropped as f64 / source.frames.max(1) as f64,
        cores,
        latencies,
    })
}

async fn recognize(
    opts: &Options,
    engine: &FaceEngine,
    photos: &[RgbImage],
    work: &Path,
) -> anyhow::Result<()> {
    eprintln!(
        "seeding a {}-descriptor domain for /api/recognize (the edge builds its index at start)…",
        opts.recognize_gallery
    );
    let root = work.join("recognize");
    let domain = DomainCode::parse("bench")?;
    {
        let store = Store::open(&root)?;
        store.create_domain(NewDomain::named("bench"))?;
        let real = enrol_samples(&store, &domain, engine, photos)?;
        add_lookalikes(
            &store,
            &domain,
            engine.pack,
            &real,
            opts.recognize_gallery,
            4,
        )?;
    }
    let config = Config::resolve(
        FileConfig::default(),
        Overrides {
            data_root: Some(root.clone()),
            listen: Some("127.0.0.1:0".parse()?),
            primary_domain: Some("bench".into()),
            mqtt: MqttOverrides {
                broker: Some("off".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )?;
    let started = Instant::now();
    let edge = crate::server::start(&config, Role::Edge).await?;
    eprintln!("edge ready in {:.1} s", started.elapsed().as_secs_f64());
    let token = std::fs::read_to_string(
        edge.bootstrap_token_file
            .as_ref()
            .context("no bootstrap token")?,
    )?
    .trim()
    .to_string();
    // A 2-megapixel photo (1632×1224) with one face.
    let mut photo = RgbImage::from_pixel(1632, 1224, Rgb([90, 90, 90]));
    let face = imageops::resize(
        &photos[0],
        700,
        (700.0 * photos[0].height() as f32 / photos[0].width() as f32) as u32,
        imageops::FilterType::Triangle,
    );
    imageops::overlay(&mut photo, &face, 400, 100);
    let mut jpeg = std::io::Cursor::new(Vec::new());
    photo.write_to(&mut jpeg, image::ImageFormat::Jpeg)?;
    let body = Arc::new(jpeg.into_inner());
    let url = format!("http://{}/api/recognize", edge.addr);

    let send = {
        let (url, token, body) = (url.clone(), token.clone(), body.clone());
        move |agent: &ureq::Agent| -> anyhow::Result<Duration> {
            let t = Instant::now();
            let resp = agent
                .post(&url)
                .header("authorization", &format!("Bearer {token}"))
                .header("content-type", "image/jpeg")
                .send(body.as_slice())?;
            let text = resp.into_body().read_to_string()?;
            anyhow::ensure!(
                text.contains("sample_0"),
                "the face was not recognised: {text}"
            );
            Ok(t.elapsed())
        }
    };
    let mut t = table(&[
        "/api/recognize, 2 MP photo",
        "requests",
        "p50",
        "p99",
        "throughput",
    ]);
    for clients in [1usize, 16] {
        let per_client = (opts.requests / clients).max(4);
        let send = send.clone();
        let started = Instant::now();
        let all = tokio::task::spawn_blocking(move || {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..clients)
                    .map(|_| {
                        let send = send.clone();
                        s.spawn(move || {
                            let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                            let _ = send(&agent); // warm-up
                            (0..per_client)
                                .map(|_| send(&agent))
                                .collect::<anyhow::Result<Vec<_>>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("client thread"))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
        })
        .await??;
        let wall = started.elapsed().as_secs_f64();
        let mut samples = Samples::default();
        all.into_iter().flatten().for_each(|d| samples.push(d));
        t.add_row(vec![
            format!(
                "{clients} client(s), {} descriptors",
                opts.recognize_gallery
            ),
            samples.0.len().to_string(),
            format!("{:.1} ms", samples.percentile(50.0)),
            format!("{:.1} ms", samples.percentile(99.0)),
            format!("{:.1} req/s", samples.0.len() as f64 / wall),
        ]);
    }
    println!("\n{t}");
    edge.stop().await?;
    Ok(())
}
