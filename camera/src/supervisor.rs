//! Runs a frame source on its own thread, reopens it when it fails, and
//! hands consumers only the latest frame.
//!
//! The hand-over is a `watch` channel: the source overwrites the one slot,
//! so a slow consumer sees the newest frame and skips the rest (it can
//! count them from the gap in [`Frame::seq`]). Nothing queues.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::watch;

use crate::error::CameraResult;
use crate::{CameraError, Frame, FrameSource, SourceSpec};

#[derive(Debug, Clone, Copy)]
pub struct SupervisorOptions {
    /// First wait before reopening a failed source; doubles per failure.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The analysis copy of a full-resolution source's frames.
    pub analysis: AnalysisSize,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(250),
            // Moonfire NVR retries about every second forever: a camera
            // back from a reboot streams again within seconds.
            backoff_max: Duration::from_secs(4),
            analysis: AnalysisSize::default(),
        }
    }
}

/// The size of the copy a full-resolution frame is analysed at: `scale` of
/// the source (the detector needs its smallest face at 20 px; a camera
/// that wants 40 px faces analyses at half size), with the longer side at
/// most `max_side`. Faces are then cut from the full frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisSize {
    pub scale: f32,
    pub max_side: u32,
}

impl Default for AnalysisSize {
    fn default() -> Self {
        Self {
            scale: 1.0,
            max_side: 1920,
        }
    }
}

impl AnalysisSize {
    /// The analysis copy's size for a `width × height` source.
    pub fn of(&self, width: u32, height: u32) -> (u32, u32) {
        let longest = width.max(height) as f32;
        let mut s = self.scale.clamp(0.05, 1.0);
        if self.max_side > 0 && longest * s > self.max_side as f32 {
            s = self.max_side as f32 / longest;
        }
        (
            ((width as f32 * s).round() as u32).max(1),
            ((height as f32 * s).round() as u32).max(1),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    #[default]
    Starting,
    Running,
    /// Failed; waiting to reopen.
    Reconnecting,
    /// A replay that does not repeat has finished.
    Ended,
    Stopped,
}

/// What a supervised source is doing, for `/api/cameras` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStatus {
    pub state: SourceState,
    /// The open source, as it describes itself.
    pub description: Option<String>,
    pub frames: u64,
    /// Frames that could not be decoded and were skipped.
    pub corrupt_frames: u64,
    /// Times the source was reopened after a failure.
    pub restarts: u64,
    /// Failures by kind (`open`, `disconnected`, `stalled`, `corrupt_frame`).
    pub errors: BTreeMap<&'static str, u64>,
    pub last_error: Option<String>,
    /// While not running: why, in words a person can act on
    /// (`401 wrong credentials`, `404 no such stream`,
    /// `codec vvc not supported`, `timeout: the source did not answer`).
    pub reason: Option<String>,
    #[serde(with = "system_time_ms")]
    pub last_frame_at: Option<SystemTime>,
}

mod system_time_ms {
    use std::time::{SystemTime, UNIX_EPOCH};
    pub fn serialize<S: serde::Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }
}

/// The consumer's end of a supervised source. Dropping every clone of
/// `frames` (or calling [`FrameFeed::stop`]) ends the source's thread.
pub struct FrameFeed {
    pub frames: watch::Receiver<Option<Frame>>,
    pub status: Arc<Mutex<SourceStatus>>,
    stop: Arc<AtomicBool>,
}

impl FrameFeed {
    pub fn status(&self) -> SourceStatus {
        self.status.lock().expect("status lock").clone()
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for FrameFeed {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Supervises the source `spec` describes.
pub fn spawn(name: &str, spec: SourceSpec, options: SupervisorOptions) -> FrameFeed {
    spawn_with(name, move || crate::open(&spec), options)
}

/// Supervises whatever `open` opens (a test can hand in its own source).
pub fn spawn_with(
    name: &str,
    open: impl FnMut() -> CameraResult<Box<dyn FrameSource>> + Send + 'static,
    options: SupervisorOptions,
) -> FrameFeed {
    let (tx, rx) = watch::channel(None);
    let status = Arc::new(Mutex::new(SourceStatus::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let worker = Worker {
        name: name.to_string(),
        tx,
        status: status.clone(),
        stop: stop.clone(),
        options,
    };
    std::thread::Builder::new()
        .name(format!("camera-{name}"))
        .spawn(move || worker.run(open))
        .expect("can start a camera thread");
    FrameFeed {
        frames: rx,
        status,
        stop,
    }
}

struct Worker {
    name: String,
    tx: watch::Sender<Option<Frame>>,
    status: Arc<Mutex<SourceStatus>>,
    stop: Arc<AtomicBool>,
    options: SupervisorOptions,
}

impl Worker {
    fn update(&self, f: impl FnOnce(&mut SourceStatus)) {
        f(&mut self.status.lock().expect("status lock"));
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.tx.is_closed()
    }

    fn record(&self, e: &CameraError) {
        self.update(|s| {
            *s.errors.entry(e.kind()).or_default() += 1;
            s.last_error = Some(e.to_string());
            if e.is_fatal() {
                s.reason = Some(e.reason());
            }
        });
    }

    /// Sleeps up to `d`, waking early to stop.
    fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.stopping() {
            std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        }
    }

    fn run(self, mut open: impl FnMut() -> CameraResult<Box<dyn FrameSource>>) {
        let mut seq = 0u64;
        let mut backoff = self.options.backoff_min;
        let mut first = true;
        while !self.stopping() {
            if !first {
                self.update(|s| {
                    s.state = SourceState::Reconnecting;
                    s.restarts += 1;
                });
                self.pause(backoff);
                backoff = (backoff * 2).min(self.options.backoff_max);
                if self.stopping() {
                    break;
                }
            }
            first = false;
            let mut source = match open() {
                Ok(source) => source,
                Err(e) => {
                    tracing::warn!(camera = %self.name, retry_in = ?backoff, "{e}");
                    self.record(&e);
                    continue;
                }
            };
            let description = source.describe();
            tracing::info!(camera = %self.name, source = %description, "camera opened");
            self.update(|s| {
                s.state = SourceState::Running;
                s.description = Some(description);
                s.reason = None;
            });
            loop {
                if self.stopping() {
                    break;
                }
                match source.next_picture() {
                    Ok(picture) => {
                        let (image, full) = match picture {
                            crate::Picture::Rgb(rgb) => (rgb, None),
                            crate::Picture::Yuv(yuv) => {
                                let (w, h) = self.options.analysis.of(yuv.width(), yuv.height());
                                (yuv.to_rgb_scaled(w, h), Some(Arc::new(yuv)))
                            }
                        };
                        backoff = self.options.backoff_min;
                        seq += 1;
                        let now = SystemTime::now();
                        self.update(|s| {
                            s.frames += 1;
                            s.last_frame_at = Some(now);
                        });
                        self.tx.send_replace(Some(Frame {
                            seq,
                            image: Arc::new(image),
                            full,
                            captured: Instant::now(),
                            captured_at: now,
                        }));
                    }
                    Err(e) if !e.is_fatal() => {
                        tracing::debug!(camera = %self.name, "skipped a frame: {e}");
                        self.record(&e);
                        self.update(|s| s.corrupt_frames += 1);
                    }
                    Err(e @ CameraError::Ended(_)) => {
                        tracing::info!(camera = %self.name, "{e}");
                        self.update(|s| s.state = SourceState::Ended);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(camera = %self.name, retry_in = ?backoff, "{e}; reopening");
                        self.record(&e);
                        break;
                    }
                }
            }
        }
        self.update(|s| s.state = SourceState::Stopped);
    }
}
