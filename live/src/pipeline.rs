//! One camera's analysis loop: latest frame → detect (every Nth frame) →
//! track → embed new and stale tracks → search → decide → events, and the
//! view `/live` shows.
//!
//! The loop is a tokio task; each frame's CPU work runs on the blocking
//! pool, one frame at a time, and frames that arrive meanwhile are skipped
//! (counted), never queued. When detecting and then embedding would not
//! fit in the frame interval (30 fps, several faces), a detection frame's
//! embeddings run on a worker while the next frame is detected, and are
//! applied before that frame is tracked: the results are those of doing
//! both in turn, one frame later, and a frame costs the longer of the two
//! instead of their sum.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use facerec_camera::{Frame, FrameFeed, SourceStatus};
use facerec_index::IndexSet;
use facerec_storage::{DomainCode, PersonId, Store};
use facerec_vision::Face;
use serde::Serialize;
use utoipa::ToSchema;

use super::config::CameraConfig;
use super::events::{EventBox, EventBus, EventKind, EventPerson, LiveEvent};
use super::look::Look;
use super::scene::SceneCuts;
use super::tracker::{
    Decision, Label, LostReason, Sample, Track, TrackEvent, Tracker, TrackerConfig,
};
use crate::recognition::Recognised;

/// A track as the live view draws it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackView {
    pub track_id: u64,
    #[serde(rename = "box")]
    pub bbox: EventBox,
    /// `recognized`, `unknown`, `pending` (not decided yet) or `checking`
    /// (its look changed: the name is hidden until the face is embedded
    /// again).
    pub status: &'static str,
    pub person: Option<EventPerson>,
    pub matched_domain: Option<String>,
    /// 0–100.
    pub confidence: f32,
}

/// The latest analysed frame and its tracks. Frames live only here, in
/// memory: nothing of a camera's picture is ever written to disk.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    pub frame: Option<Frame>,
    pub tracks: Vec<TrackView>,
}

/// What the API and metrics see of a running camera.
pub struct CameraRuntime {
    pub id: String,
    pub domain: DomainCode,
    pub source: Arc<Mutex<SourceStatus>>,
    pub view: RwLock<LiveView>,
    pub stats: Mutex<CameraStats>,
    stop: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CameraStats {
    pub frames_analysed: u64,
    pub frames_dropped: u64,
    pub fps: f64,
    pub tracks: usize,
    pub events: u64,
}

impl CameraRuntime {
    pub fn source_status(&self) -> SourceStatus {
        self.source.lock().expect("status lock").clone()
    }

    /// Stops the analysis loop and the camera's source.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// What every camera's pipeline shares.
#[derive(Clone)]
pub struct LiveDeps {
    pub engines: Arc<facerec_vision::Engines>,
    pub index: Arc<IndexSet>,
    pub store: Arc<Store>,
    pub device_id: String,
    pub bus: EventBus,
    pub metrics: Arc<facerec_node::metrics::Metrics>,
}

/// Starts the camera's source and its analysis loop.
pub fn start(camera: &CameraConfig, domain: DomainCode, deps: LiveDeps) -> Arc<CameraRuntime> {
    let options = facerec_camera::SupervisorOptions {
        analysis: camera.analysis_size(),
        ..Default::default()
    };
    let feed = facerec_camera::supervisor::spawn(&camera.id, camera.source.clone(), options);
    start_with_feed(camera, domain, deps, feed)
}

/// Runs the analysis loop on an already supervised source.
pub fn start_with_feed(
    camera: &CameraConfig,
    domain: DomainCode,
    deps: LiveDeps,
    feed: FrameFeed,
) -> Arc<CameraRuntime> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runtime = Arc::new(CameraRuntime {
        id: camera.id.clone(),
        domain: domain.clone(),
        source: feed.status.clone(),
        view: RwLock::new(LiveView::default()),
        stats: Mutex::new(CameraStats::default()),
        stop,
    });
    let analysis = Analysis::new(camera, domain, deps);
    tokio::spawn(run(runtime.clone(), feed, analysis, stopped));
    runtime
}

/// The camera's tracker settings, its split and merge distances those of
/// the pack of the camera's domain (descriptors of another pack spread
/// over another range).
fn tracker_config(camera: &CameraConfig, domain: &DomainCode, deps: &LiveDeps) -> TrackerConfig {
    let pack = crate::recognition::route_packs(&deps.index, domain)
        .ok()
        .and_then(|p| p.first().copied())
        .unwrap_or(facerec_vision::DEFAULT_PACK);
    camera.settings.tracker(pack)
}

async fn run(
    runtime: Arc<CameraRuntime>,
    feed: FrameFeed,
    mut analysis: Analysis,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut frames = feed.frames.clone();
    let metrics = analysis.deps.metrics.clone();
    let camera = runtime.id.clone();
    let mut last_seq = 0u64;
    let mut last_done: Option<Instant> = None;
    let mut fps = 0.0f64;
    let mut last_frame: Option<Frame> = None;
    loop {
        // The source thread ending (a finished replay) closes the channel.
        tokio::select! {
            changed = frames.changed() => if changed.is_err() { break },
            _ = stopped.wait_for(|s| *s) => break,
        }
        let Some(frame) = frames.borrow_and_update().clone() else {
            continue;
        };
        let skipped = frame.seq.saturating_sub(last_seq + 1);
        last_seq = frame.seq;
        let started = Instant::now();
        let joined = tokio::task::spawn_blocking(move || {
            let result = analysis.frame(&frame);
            (analysis, frame, result)
        })
        .await;
        let (a, frame, result) = match joined {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(camera = %camera, "the analysis of a frame panicked: {e}");
                return;
            }
        };
        analysis = a;
        last_frame = Some(frame.clone());
        let tracks = match result {
            Ok(tracks) => tracks,
            Err(e) => {
                tracing::warn!(camera = %camera, "frame {} not analysed: {e}", frame.seq);
                continue;
            }
        };
        let now = Instant::now();
        if let Some(prev) = last_done {
            let instant = 1.0 / now.duration_since(prev).as_secs_f64().max(1e-6);
            fps = if fps == 0.0 {
                instant
            } else {
                0.9 * fps + 0.1 * instant
            };
        }
        last_done = Some(now);
        let m = &metrics.live;
        m.frames.with_label_values(&[&camera]).inc();
        m.dropped.with_label_values(&[&camera]).inc_by(skipped);
        m.fps.with_label_values(&[&camera]).set(fps);
        m.tracks
            .with_label_values(&[&camera])
            .set(tracks.len() as i64);
        m.stage_seconds
            .with_label_values(&[&camera, "frame"])
            .observe(started.elapsed().as_secs_f64());
        {
            let mut stats = runtime.stats.lock().expect("stats lock");
            stats.frames_analysed += 1;
            stats.frames_dropped += skipped;
            stats.fps = fps;
            stats.tracks = tracks.len();
            stats.events = analysis.events;
        }
        *runtime.view.write().expect("view lock") = LiveView {
            frame: Some(frame),
            tracks,
        };
    }
    // Whatever was still in view is gone now: every announced track ends.
    if let Some(frame) = &last_frame {
        analysis.end_all(LostReason::Stopped, frame);
    }
    runtime.view.write().expect("view lock").tracks.clear();
    tracing::info!(camera = %camera, "camera pipeline stopped");
    drop(feed);
}

/// A face and the picture it is embedded from (its full-resolution cut,
/// or the analysis image).
type FaceCut = (Arc<facerec_vision::RgbImage>, Face);

/// Embeddings of one frame's faces, running on a worker thread.
struct PendingEmbeddings {
    frame: Frame,
    tracks: Vec<u64>,
    started: Instant,
    worker: std::thread::JoinHandle<anyhow::Result<Vec<Recognised>>>,
}

/// The per-camera analysis state, moved onto the blocking pool per frame.
pub struct Analysis {
    camera: String,
    domain: DomainCode,
    /// The camera: its settings, masks and analysis size.
    config: CameraConfig,
    tracker: Tracker,
    scene: SceneCuts,
    /// When the latest detection ran (its frame's capture time).
    last_detection: Option<Instant>,
    /// Frames analysed since the latest detection.
    since_detection: u32,
    /// Faces the quality gate refused, by reason.
    refusals: std::collections::BTreeMap<&'static str, u64>,
    events: u64,
    /// Names and Wikidata ids, read from the registry once per person.
    people: HashMap<(String, String), EventPerson>,
    /// The previous detection's embeddings, not applied yet.
    pending: Option<PendingEmbeddings>,
    /// Recent costs (seconds, moving averages) and the capture interval,
    /// which decide whether embeddings must overlap the next detection.
    pace: Pace,
    deps: LiveDeps,
}

/// Whether a detection frame's embeddings fit in the frame interval, from
/// moving averages of what detections and embeddings cost.
#[derive(Debug, Default)]
struct Pace {
    last_captured: Option<Instant>,
    interval: f64,
    detect: f64,
    embed: f64,
}

impl Pace {
    fn average(avg: &mut f64, x: f64) {
        *avg = if *avg == 0.0 { x } else { 0.8 * *avg + 0.2 * x };
    }

    fn frame(&mut self, captured: Instant) {
        if let Some(prev) = self.last_captured
            && captured > prev
        {
            Self::average(&mut self.interval, (captured - prev).as_secs_f64());
        }
        self.last_captured = Some(captured);
    }

    /// Embedding after detecting would overrun most of the frame interval:
    /// let the embeddings overlap the next detection. With time to spare
    /// they run at once, and their names show a frame sooner.
    fn overlap(&self) -> bool {
        self.interval > 0.0 && self.detect + self.embed > 0.75 * self.interval
    }
}

impl Analysis {
    pub fn new(camera: &CameraConfig, domain: DomainCode, deps: LiveDeps) -> Self {
        Self {
            camera: camera.id.clone(),
            config: camera.clone(),
            tracker: Tracker::new(tracker_config(camera, &domain, &deps)),
            scene: SceneCuts::new(camera.settings.scene_cut),
            domain,
            last_detection: None,
            since_detection: 0,
            refusals: Default::default(),
            events: 0,
            people: HashMap::new(),
            pending: None,
            pace: Pace::default(),
            deps,
        }
    }

    /// Waits for the previous detection's embeddings and lets their
    /// samples vote, as of the frame they were taken from.
    fn settle(&mut self) -> anyhow::Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let recognised = p
            .worker
            .join()
            .map_err(|_| anyhow::anyhow!("the embedding worker panicked"))??;
        self.observe("embed", p.started);
        Pace::average(&mut self.pace.embed, p.started.elapsed().as_secs_f64());
        for (id, r) in p.tracks.into_iter().zip(recognised) {
            self.sample(id, r, &p.frame);
        }
        Ok(())
    }

    fn observe(&self, stage: &str, since: Instant) {
        self.deps
            .metrics
            .live
            .stage_seconds
            .with_label_values(&[&self.camera, stage])
            .observe(since.elapsed().as_secs_f64());
    }

    /// Analyses one frame; returns the tracks to draw.
    pub fn frame(&mut self, frame: &Frame) -> anyhow::Result<Vec<TrackView>> {
        let now = frame.captured;
        self.pace.frame(now);
        // A cut ends every track, and the new scene is detected at once.
        let cut = self.scene.is_cut(&frame.image);
        if cut {
            self.end_all(LostReason::SceneCut, frame);
        }
        let detect_now = cut
            || self.last_detection.is_none()
            || self.since_detection + 1 >= self.config.settings.detect_every
            || self.a_look_changed(frame);
        if detect_now {
            self.since_detection = 0;
            self.last_detection = Some(now);
            let t = Instant::now();
            // `min_face` is in the source's pixels; the analysis copy of a
            // full-resolution source is smaller.
            let scale = frame.source_scale();
            let mut detector = self.config.settings.detector();
            detector.min_face /= scale;
            let mut faces: Vec<Face> = self
                .deps
                .engines
                .detector()?
                .detect(&frame.image, &detector)?;
            if !self.config.masks.is_empty() {
                let (w, h) = frame.image.dimensions();
                faces.retain(|f| {
                    let b = &f.bbox;
                    !self
                        .config
                        .masked((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0, w, h)
                });
            }
            self.observe("detect", t);
            Pace::average(&mut self.pace.detect, t.elapsed().as_secs_f64());
            // The previous detection's samples vote before this one is
            // tracked (its embeddings ran during this detection).
            self.settle()?;
            let events = self.tracker.update(faces, now);
            self.announce(events, frame);
            let seen: Vec<(u64, facerec_vision::BBox)> = self
                .tracker
                .tracks()
                .iter()
                .filter(|t| t.last_seen == now)
                .map(|t| (t.id, t.bbox()))
                .collect();
            for (id, bbox) in seen {
                if let Some(look) = Look::of(&frame.image, &bbox) {
                    self.tracker.set_look(id, look);
                }
            }
            let gate = self.config.settings.quality;
            let mut due: Vec<(u64, FaceCut)> = Vec::new();
            for id in self
                .tracker
                .due_for_embedding(now, self.config.settings.embed_interval())
            {
                let Some(face) = self.tracker.get(id).map(|t| t.face.clone()) else {
                    continue;
                };
                // A face the gate refuses never votes (hands, blur, a
                // profile); it is judged, and embedded, at full resolution.
                let cut = crate::chips::face_source(frame, &face);
                match gate.check(&cut.0, &cut.1) {
                    Ok(()) => due.push((id, cut)),
                    Err(why) => {
                        tracing::debug!(camera = %self.camera, track = id, reason = ?why, "face not embedded");
                        *self.refusals.entry(why.reason()).or_default() += 1;
                        self.deps
                            .metrics
                            .live
                            .gate_refusals
                            .with_label_values(&[&self.camera, why.reason()])
                            .inc();
                    }
                }
            }
            self.within_budget(&mut due);
            // When the frame interval leaves no time for embedding after
            // detecting, the samples vote one frame later, their
            // embeddings overlapping the next detection — except a face
            // under check: its name is hidden and it may be someone else,
            // so it is decided at this detection.
            let overlap = self.pace.overlap();
            type Due = Vec<(u64, FaceCut)>;
            let (urgent, due): (Due, Due) = due
                .into_iter()
                .partition(|(id, _)| !overlap || self.tracker.get(*id).is_some_and(|t| t.checking));
            if !urgent.is_empty() {
                let t = Instant::now();
                let (ids, faces): (Vec<u64>, Vec<FaceCut>) = urgent.into_iter().unzip();
                let recognised =
                    recognise_all(&self.deps.engines, &self.deps.index, &self.domain, &faces)?;
                self.observe("embed", t);
                Pace::average(&mut self.pace.embed, t.elapsed().as_secs_f64());
                for (id, r) in ids.into_iter().zip(recognised) {
                    self.sample(id, r, frame);
                }
            }
            if !due.is_empty() {
                let (engines, index, domain) = (
                    self.deps.engines.clone(),
                    self.deps.index.clone(),
                    self.domain.clone(),
                );
                let (tracks, faces): (Vec<u64>, Vec<FaceCut>) = due.into_iter().unzip();
                let worker = std::thread::Builder::new()
                    .name(format!("embed-{}", self.camera))
                    .spawn(move || recognise_all(&engines, &index, &domain, &faces))?;
                self.pending = Some(PendingEmbeddings {
                    frame: frame.clone(),
                    tracks,
                    started: Instant::now(),
                    worker,
                });
            }
        } else {
            self.settle()?;
            self.since_detection += 1;
        }
        // Draw only faces the latest detection saw, where they should be
        // by now: a track kept alive through a short absence is not on
        // screen.
        let seen = self.last_detection;
        Ok(self
            .tracker
            .tracks()
            .iter()
            .filter(|t| Some(t.last_seen) == seen)
            .map(|t| self.view_of(t, now))
            .collect())
    }

    /// Keeps the `embed_per_frame` most urgent of the due faces: a face
    /// under check first (its name is hidden), then undecided ones, oldest
    /// first, then scheduled re-checks. The rest wait for the next
    /// detection, so that a group walking in spreads its embeddings over a
    /// few frames instead of stalling one — each event then leaves soon
    /// after its frame.
    fn within_budget<T>(&self, due: &mut Vec<(u64, T)>) {
        let budget = self.config.settings.embed_per_frame as usize;
        if due.len() <= budget {
            return;
        }
        let urgency = |id: u64| {
            self.tracker.get(id).map(|t| {
                let rank = if t.checking {
                    0
                } else if t.identity.is_none() {
                    1
                } else {
                    2
                };
                (rank, t.first_seen)
            })
        };
        due.sort_by_key(|(id, _)| urgency(*id));
        due.truncate(budget);
    }

    /// Between detections: whether a drawn face, where it should be now,
    /// no longer looks like itself (someone else may be there).
    fn a_look_changed(&self, frame: &Frame) -> bool {
        let seen = self.last_detection;
        self.tracker
            .tracks()
            .iter()
            .filter(|t| Some(t.last_seen) == seen)
            .any(|t| {
                Look::of(&frame.image, &t.bbox_at(frame.captured))
                    .is_some_and(|l| self.tracker.look_changed(t.id, &l))
            })
    }

    /// Faces the quality gate refused so far, by reason.
    pub fn refusals(&self) -> &std::collections::BTreeMap<&'static str, u64> {
        &self.refusals
    }

    /// Ends every track (a scene cut, the source ending), once the
    /// embeddings under way have voted.
    pub fn end_all(&mut self, reason: LostReason, frame: &Frame) {
        if let Err(e) = self.settle() {
            tracing::warn!(camera = %self.camera, "embeddings lost at the end of the tracks: {e:#}");
        }
        let events = self.tracker.end_all(reason);
        self.announce(events, frame);
    }

    fn sample(&mut self, id: u64, recognised: Recognised, frame: &Frame) {
        self.deps
            .metrics
            .live
            .stage_seconds
            .with_label_values(&[&self.camera, "search"])
            .observe(recognised.search_time.as_secs_f64());
        // A camera may be stricter than the pack, never looser.
        let pack = recognised.pack;
        let allowed = self
            .config
            .settings
            .match_threshold
            .map_or(pack.match_distance(), |t| {
                pack.distance_for(t).min(pack.match_distance())
            });
        let sample = match recognised.outcome.best {
            Some(m) if m.distance <= allowed => Sample {
                label: Label::Known {
                    domain: m.domain.to_string(),
                    person: m.person.to_string(),
                },
                distance: Some(m.distance),
                confidence: m.confidence,
            },
            _ => Sample {
                label: Label::Unknown,
                distance: None,
                confidence: 0.0,
            },
        };
        let events = self
            .tracker
            .add_sample(id, recognised.descriptor.0, sample, frame.captured);
        self.announce(events, frame);
    }

    fn announce(&mut self, events: Vec<TrackEvent>, frame: &Frame) {
        for event in events {
            match event {
                TrackEvent::Appeared(track) => {
                    self.emit(EventKind::TrackAppeared, &track, frame, None, None)
                }
                TrackEvent::IdentityChanged { track, previous } => {
                    let previous = self.person_of(&previous);
                    self.emit(EventKind::IdentityChanged, &track, frame, previous, None);
                }
                TrackEvent::Lost { track, reason } => {
                    self.emit(EventKind::TrackLost, &track, frame, None, Some(reason))
                }
            }
        }
    }

    fn person_of(&mut self, d: &Decision) -> Option<EventPerson> {
        let Label::Known { domain, person } = &d.label else {
            return None;
        };
        let key = (domain.clone(), person.clone());
        if let Some(p) = self.people.get(&key) {
            return Some(p.clone());
        }
        let record = DomainCode::parse(domain)
            .ok()
            .zip(PersonId::parse(person).ok())
            .and_then(|(d, p)| self.deps.store.get_person(&d, &p).ok().flatten());
        let p = EventPerson {
            id: person.clone(),
            name: record
                .as_ref()
                .map_or_else(|| person.clone(), |r| r.display_name.clone()),
            wikidata_id: record.and_then(|r| r.wikidata_id),
        };
        if self.people.len() > 10_000 {
            self.people.clear();
        }
        self.people.insert(key, p.clone());
        Some(p)
    }

    fn view_of(&self, t: &Track, now: Instant) -> TrackView {
        let b = t.bbox_at(now);
        let (status, person, matched_domain, confidence) = match t.shown_identity() {
            None if t.checking => ("checking", None, None, 0.0),
            None => ("pending", None, None, 0.0),
            Some(d) => match &d.label {
                Label::Unknown => ("unknown", None, None, 0.0),
                Label::Known { domain, person } => (
                    "recognized",
                    self.people.get(&(domain.clone(), person.clone())).cloned(),
                    Some(domain.clone()),
                    (d.confidence * 1000.0).round() / 10.0,
                ),
            },
        };
        TrackView {
            track_id: t.id,
            bbox: b.into(),
            status,
            person,
            matched_domain,
            confidence,
        }
    }

    fn emit(
        &mut self,
        kind: EventKind,
        track: &Track,
        frame: &Frame,
        previous: Option<EventPerson>,
        reason: Option<LostReason>,
    ) {
        let Some(decision) = track.identity.clone() else {
            return;
        };
        let person = self.person_of(&decision);
        let matched_domain = match &decision.label {
            Label::Known { domain, .. } => Some(domain.clone()),
            Label::Unknown => None,
        };
        self.events += 1;
        let b = track.bbox();
        let latency = frame.captured.elapsed();
        let event = LiveEvent {
            version: 1,
            kind,
            event_id: format!("{}-{}-{}", self.camera, track.id, self.events),
            device_id: self.deps.device_id.clone(),
            camera: self.camera.clone(),
            track_id: track.id,
            status: if person.is_some() {
                "recognized"
            } else {
                "unknown"
            },
            person,
            matched_domain,
            domain: self.domain.to_string(),
            distance: decision.distance,
            confidence: (decision.confidence * 1000.0).round() / 10.0,
            votes: decision.votes,
            samples: decision.of,
            previous,
            reason: reason.map(LostReason::as_str),
            bbox: crate::chips::to_source(frame, b).into(),
            frame_seq: frame.seq,
            captured_at: LiveEvent::captured(frame.captured_at),
            emitted_at: chrono::Utc::now(),
            latency_ms: latency.as_secs_f64() * 1e3,
        };
        let m = &self.deps.metrics.live;
        m.events
            .with_label_values(&[&self.camera, kind.as_str()])
            .inc();
        if kind != EventKind::TrackLost {
            m.event_latency
                .with_label_values(&[&self.camera])
                .observe(latency.as_secs_f64());
        }
        tracing::info!(camera = %self.camera, track = track.id, event = kind.as_str(),
            person = event.person.as_ref().map(|p| p.name.as_str()).unwrap_or("unknown"),
            latency_ms = format!("{:.0}", event.latency_ms), "recognition event");
        self.deps.bus.send(event);
    }
}

/// Embeds and searches the faces, on two threads when there are several:
/// faces that appear together (a group walking in) are announced sooner.
fn recognise_all(
    engines: &facerec_vision::Engines,
    index: &IndexSet,
    domain: &DomainCode,
    faces: &[FaceCut],
) -> anyhow::Result<Vec<Recognised>> {
    let embed = |part: &[FaceCut]| -> anyhow::Result<Vec<_>> {
        part.iter()
            .map(|(image, f)| crate::recognition::recognise(engines, index, domain, image, f))
            .collect()
    };
    if faces.len() < 2 {
        return embed(faces);
    }
    let (first, second) = faces.split_at(faces.len() / 2);
    let (a, b) = std::thread::scope(|s| {
        let other = s.spawn(|| embed(second));
        (embed(first), other.join().expect("embedding thread"))
    });
    let mut all = a?;
    all.extend(b?);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn embeddings_overlap_the_next_detection_only_when_time_is_short() {
        let mut pace = Pace::default();
        assert!(!pace.overlap(), "nothing known yet: embed at once");
        let t0 = Instant::now();
        for i in 0..10 {
            pace.frame(t0 + Duration::from_millis(33 * i));
        }
        pace.detect = 0.010;
        pace.embed = 0.020;
        assert!(pace.overlap(), "30 fps: 30 ms of 33 ms");
        let mut slow = Pace::default();
        for i in 0..10 {
            slow.frame(t0 + Duration::from_millis(100 * i));
        }
        slow.detect = 0.010;
        slow.embed = 0.020;
        assert!(!slow.overlap(), "10 fps: 30 ms of 100 ms");
    }
}
