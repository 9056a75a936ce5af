//! `facerecd eval video`: the live pipeline run over annotated clips,
//! frame by frame, against their ground truth ([`truth`]), and scored
//! ([`score`]) for what a viewer of the live picture would see: wrong
//! names, identity switches, how soon people are named.
//!
//! A clip is a folder of frames (file-name order) with `truth.csv`, or an
//! `.mjpeg` file with `<stem>.truth.csv` beside it. The gallery is a
//! labelled folder, one sub-folder of photos per person. Frames are fed at
//! the clip's own frame rate on a simulated clock, so the figures do not
//! depend on how fast the machine is — every frame is analysed (a
//! camera's `detect_every` still applies).

pub mod montage;
mod report;
pub mod score;
pub mod truth;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use facerec_camera::{Frame, SourceSpec};
use facerec_storage::{
    DomainCode, NewDomain, NewEmbedding, NewPerson, PersonId, PersonStatus, Store,
};
use facerec_vision::{DecodeLimits, ModelFiles, ModelPack, decode_image};
use serde::Serialize;

use super::dataset::{Dataset, images_in};
use facerec_live::tracker::LostReason;
use facerec_live::{CameraConfig, LiveDeps, LiveSettings};
pub use report::print_table;
use score::{Announced, ClipScore, Drawn};
use truth::Truth;

pub struct VideoRequest {
    pub gallery: PathBuf,
    pub clips: Vec<PathBuf>,
    pub pack: &'static ModelPack,
    pub models_dir: PathBuf,
    pub settings: LiveSettings,
}

#[derive(Debug, Serialize)]
pub struct VideoReport {
    pub pack: &'static str,
    pub gallery_people: usize,
    pub gallery_photos: usize,
    /// Gallery photos a face was enrolled from.
    pub enrolled_faces: usize,
    pub clips: Vec<ClipScore>,
}

pub fn run(request: &VideoRequest) -> anyhow::Result<VideoReport> {
    let clips: Vec<(String, Truth, Frames)> = request
        .clips
        .iter()
        .map(|c| open_clip(c))
        .collect::<anyhow::Result<_>>()?;
    let engines = Arc::new(facerec_vision::Engines::new(ModelFiles::new(
        request.models_dir.clone(),
    )));
    let work = tempfile::tempdir()?;
    let domain = DomainCode::parse("eval")?;
    let store = Arc::new(Store::open(work.path())?);
    store.create_domain(NewDomain {
        pack: Some(request.pack.name.to_string()),
        ..NewDomain::named("eval")
    })?;
    let gallery = Dataset::load(std::slice::from_ref(&request.gallery))?;
    let (names, enrolled) = enrol(&store, &domain, &engines, request.pack, &gallery)?;
    let index = Arc::new(
        facerec_index::IndexSet::open(
            store.clone(),
            std::slice::from_ref(&domain),
            facerec_index::IndexOptions::new(facerec_index::SearchParams::with_threshold(
                request.pack.match_distance(),
            )),
        )?
        .0,
    );
    let deps = LiveDeps {
        engines,
        index,
        store,
        device_id: "eval".into(),
        bus: Default::default(),
        metrics: Arc::new(facerec_node::metrics::Metrics::new()),
    };
    let mut scores = Vec::new();
    for (name, truth, frames) in clips {
        scores.push(run_clip(
            &name,
            &truth,
            frames,
            &deps,
            &request.settings,
            &names,
        )?);
    }
    Ok(VideoReport {
        pack: request.pack.name,
        gallery_people: names.len(),
        gallery_photos: gallery.photos.len(),
        enrolled_faces: enrolled,
        clips: scores,
    })
}

/// Enrols the largest face of every gallery photo; returns the person ids'
/// identity names and how many faces were enrolled.
fn enrol(
    store: &Store,
    domain: &DomainCode,
    engines: &facerec_vision::Engines,
    pack: &'static ModelPack,
    gallery: &Dataset,
) -> anyhow::Result<(HashMap<String, String>, usize)> {
    let engine = engines.get(pack)?;
    let limits = DecodeLimits::default();
    let mut names = HashMap::new();
    let mut enrolled = 0;
    for photo in &gallery.photos {
        let name = photo.identity.rsplit('/').next().unwrap_or(&photo.identity);
        let id = PersonId::parse(&person_id(name))
            .with_context(|| format!("the gallery folder `{name}` makes no person id"))?;
        if names.insert(id.to_string(), name.to_string()).is_none() {
            store.upsert_person(
                domain,
                NewPerson::named(id.clone(), name, PersonStatus::Approved),
            )?;
        }
        let bytes = std::fs::read(&photo.path)
            .with_context(|| format!("cannot read {}", photo.path.display()))?;
        let image =
            decode_image(&bytes, &limits).with_context(|| photo.path.display().to_string())?;
        let mut faces = engine.analyze(&image, &facerec_vision::DetectorConfig::default())?;
        faces.sort_by(|a, b| b.face.bbox.area().total_cmp(&a.face.bbox.area()));
        if let Some(face) = faces.into_iter().next() {
            store.add_embeddings(
                domain,
                pack.name,
                &id,
                &[NewEmbedding {
                    image_id: None,
                    vector: face.descriptor.0,
                }],
            )?;
            enrolled += 1;
        }
    }
    if names.is_empty() {
        bail!("the gallery {} has no photos", gallery_name(gallery));
    }
    Ok((names, enrolled))
}

fn gallery_name(gallery: &Dataset) -> String {
    gallery
        .sets
        .first()
        .map(|s| s.0.clone())
        .unwrap_or_default()
}

/// A folder name as a person id: lower case, `_` for anything else.
fn person_id(name: &str) -> String {
    let id: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    id.trim_start_matches('_').to_string()
}

/// A clip's frames: files read one at a time, the JPEGs of a stream, or
/// a video file decoded by ffmpeg at the truth's frame rate.
enum Frames {
    Files(Vec<PathBuf>),
    Mjpeg(Vec<Vec<u8>>),
    Video(PathBuf),
}

impl Frames {
    /// Frames known before reading (a video's are counted as it plays).
    fn len(&self) -> usize {
        match self {
            Frames::Files(f) => f.len(),
            Frames::Mjpeg(j) => j.len(),
            Frames::Video(_) => 0,
        }
    }
}

/// Containers `eval video` decodes with ffmpeg.
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mkv", "mov", "m4v", "ts", "webm", "avi"];

/// A video's ground truth: `NAME.truth.csv`, else `NAME.csv`, beside it.
fn video_truth(path: &Path) -> anyhow::Result<Truth> {
    let named = path.with_extension("truth.csv");
    let plain = path.with_extension("csv");
    let file = if named.exists() || !plain.exists() {
        named
    } else {
        plain
    };
    Truth::read(&file)
}

/// Decodes `path` at `fps`, every frame (the file waits for the analysis).
fn open_video(path: &Path, fps: f32) -> anyhow::Result<facerec_camera::ffmpeg::FfmpegSource> {
    use facerec_camera::ffmpeg::{FfmpegSource, Input, Options, Pace};
    Ok(FfmpegSource::open(&Options {
        input: Input::File {
            path: path.display().to_string(),
            pace: Pace::AsFastAsRead,
            repeat: false,
        },
        fps: Some(fps.round().max(1.0) as u32),
        stall: Duration::from_secs(30),
        extra_input_args: vec![],
        secrets: vec![],
    })?)
}

fn open_clip(path: &Path) -> anyhow::Result<(String, Truth, Frames)> {
    let name = path
        .file_stem()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    if path.is_dir() {
        let truth = Truth::read(&path.join("truth.csv"))?;
        let files = images_in(path)?;
        if files.is_empty() {
            bail!("the clip {} has no frames (jpg, png…)", path.display());
        }
        Ok((name, truth, Frames::Files(files)))
    } else if path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
    {
        let truth = video_truth(path)?;
        Ok((name, truth, Frames::Video(path.to_path_buf())))
    } else {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the clip {}", path.display()))?;
        let truth = Truth::read(&path.with_extension("truth.csv"))?;
        Ok((name, truth, Frames::Mjpeg(split_mjpeg(&bytes))))
    }
}

/// The JPEGs of a motion-JPEG stream: each starts with an SOI marker.
fn split_mjpeg(bytes: &[u8]) -> Vec<Vec<u8>> {
    let starts: Vec<usize> = bytes
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == [0xFF, 0xD8, 0xFF])
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| bytes[s..starts.get(k + 1).copied().unwrap_or(bytes.len())].to_vec())
        .collect()
}

fn run_clip(
    name: &str,
    truth: &Truth,
    frames: Frames,
    deps: &LiveDeps,
    settings: &LiveSettings,
    names: &HashMap<String, String>,
) -> anyhow::Result<ClipScore> {
    let camera = CameraConfig {
        masks: vec![],
        analysis_max_side: 1920,
        id: "eval".into(),
        source: SourceSpec::Replay {
            path: PathBuf::from(name),
            fps: truth.fps.round() as u32,
            repeat: false,
        },
        domain: None,
        settings: *settings,
    };
    camera.validate().map_err(anyhow::Error::msg)?;
    let domain = DomainCode::parse("eval")?;
    let mut analysis = facerec_live::pipeline::Analysis::new(&camera, domain, deps.clone());
    let mut bus = deps.bus.subscribe();
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let limits = DecodeLimits::default();
    let count = frames.len();
    let t0 = Instant::now();
    let mut drawn = Vec::with_capacity(count);
    let mut events = Vec::new();
    let mut times = Vec::with_capacity(count);
    let mut last = None;
    let mut video = match &frames {
        Frames::Video(path) => Some(open_video(path, truth.fps)?),
        _ => None,
    };
    let analysis_size = camera.analysis_size();
    for i in 0.. {
        let (image, full, what) = match (&frames, video.as_mut()) {
            (Frames::Video(path), Some(source)) => {
                use facerec_camera::{CameraError, FrameSource, Picture};
                let what = format!("{} frame {i}", path.display());
                match source.next_picture() {
                    Ok(Picture::Yuv(yuv)) => {
                        let (w, h) = analysis_size.of(yuv.width(), yuv.height());
                        (yuv.to_rgb_scaled(w, h), Some(Arc::new(yuv)), what)
                    }
                    Ok(Picture::Rgb(rgb)) => (rgb, None, what),
                    Err(CameraError::Ended(_)) => break,
                    Err(e) => return Err(anyhow::Error::new(e).context(what)),
                }
            }
            _ if i >= count => break,
            (Frames::Files(f), _) => {
                let read = std::fs::read(&f[i])
                    .with_context(|| format!("cannot read {}", f[i].display()))?;
                let what = f[i].display().to_string();
                let image = decode_image(&read, &limits).with_context(|| what.clone())?;
                (image, None, what)
            }
            (Frames::Mjpeg(jpegs), _) => {
                let what = format!("{name} frame {i}");
                let image = decode_image(&jpegs[i], &limits).with_context(|| what.clone())?;
                (image, None, what)
            }
            (Frames::Video(_), None) => unreachable!("a video clip has its source"),
        };
        let frame = Frame {
            seq: i as u64,
            image: Arc::new(image),
            full,
            captured: t0 + Duration::from_secs_f64(i as f64 / truth.fps as f64),
            captured_at: SystemTime::now(),
        };
        let started = Instant::now();
        let views = analysis.frame(&frame).with_context(|| what)?;
        times.push(started.elapsed());
        drawn.push(
            views
                .into_iter()
                .map(|v| Drawn {
                    track: v.track_id,
                    // In the clip's own pixels, as events and the truth are.
                    bbox: facerec_live::chips::to_source(&frame, v.bbox.into()),
                    person: v.person.map(|p| name_of(&p.id)),
                })
                .collect(),
        );
        collect(&mut bus, &mut events, &name_of);
        last = Some(frame);
    }
    if let Some(frame) = &last {
        analysis.end_all(LostReason::Stopped, frame);
    }
    collect(&mut bus, &mut events, &name_of);
    let mut s = score::score(name, truth, &drawn, &events);
    s.gate_refusals = analysis
        .refusals()
        .iter()
        .map(|(reason, n)| (reason.to_string(), *n))
        .collect();
    times.sort();
    s.ms_per_frame = times
        .get(times.len() / 2)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3);
    Ok(s)
}

fn collect(
    bus: &mut tokio::sync::broadcast::Receiver<Arc<facerec_live::events::Sequenced>>,
    into: &mut Vec<Announced>,
    name_of: &impl Fn(&str) -> String,
) {
    while let Ok(e) = bus.try_recv() {
        into.push(Announced {
            kind: e.kind.as_str(),
            frame: e.frame_seq as usize,
            track: e.track_id,
            bbox: e.bbox.into(),
            person: e.person.as_ref().map(|p| name_of(&p.id)),
            reason: e.reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mjpeg_stream_splits_at_each_start_of_image() {
        let a = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 0xFF, 0xD9];
        let b = [0xFF, 0xD8, 0xFF, 0xDB, 3, 0xFF, 0xD9];
        let stream: Vec<u8> = a.iter().chain(&b).copied().collect();
        assert_eq!(split_mjpeg(&stream), vec![a.to_vec(), b.to_vec()]);
        assert_eq!(person_id("Bbt Amy-2"), "bbt_amy_2");
    }
}
