//! Every stream a venue or broadcaster has — RTSP cameras (H.264, H.265,
//! MJPEG), SRT, RTMP, HLS, UDP MPEG-TS, and MP4/MKV/TS files — read by one
//! `ffmpeg` process per source, as Frigate does.
//!
//! Why ffmpeg and not an RTSP crate plus a decoder: one tool decodes every
//! codec and container here (retina is RTSP only, openh264 is H.264 only
//! and without B-frames), is in Debian for amd64 and arm64, and picks up
//! hardware decoders through `-hwaccel` where a board has them. Running it
//! as a child keeps a crashing decoder out of the edge's process.
//!
//! ffmpeg writes raw I420 frames at the source's resolution to stdout
//! ([`Yuv420`]); stderr is read for the stream's codec and size and for why
//! it failed ([`diagnose`]). A reader thread hands frames over; no frame
//! for `stall` is a stall: the child is killed and the supervisor reopens.
//! Credentials are redacted from everything this module says.

pub mod args;
pub mod diagnose;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub use args::{Input, Pace};
use diagnose::{Diagnosis, redact};

use crate::error::{CameraError, CameraResult};
use crate::yuv::Yuv420;
use crate::{FrameSource, Picture};

/// The program run; `FACEREC_FFMPEG` names another (a build with hardware
/// decoders, a static binary).
pub fn program() -> String {
    std::env::var("FACEREC_FFMPEG").unwrap_or_else(|_| "ffmpeg".into())
}

/// What to open and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub input: Input,
    /// Frames a second handed over at most (`None`: every frame).
    pub fps: Option<u32>,
    /// No frame for this long is a stall (also the network timeout).
    pub stall: Duration,
    /// Extra input options (`-hwaccel vaapi`…), placed before `-i`.
    pub extra_input_args: Vec<String>,
    /// Strings never to show (a password given apart from the URL).
    pub secrets: Vec<String>,
}

/// A frame size ffmpeg may never make this edge allocate.
const MAX_PIXELS: u64 = 8192 * 8192;

pub struct FfmpegSource {
    name: String,
    description: String,
    child: Child,
    frames: Receiver<std::io::Result<Yuv420>>,
    stall: Duration,
    diagnosis: Arc<(Mutex<Diagnosis>, Condvar)>,
    /// A file ends; a live stream that ends has gone away.
    is_file: bool,
}

impl FfmpegSource {
    pub fn open(options: &Options) -> CameraResult<Self> {
        let secrets: Vec<&str> = options.secrets.iter().map(String::as_str).collect();
        let shown = match &options.input {
            Input::Rtsp { url, .. } | Input::Network { url } => url.clone(),
            Input::File { path, .. } => path.clone(),
        };
        let name = redact(&shown, &secrets);
        let open_err = |reason: String| CameraError::Open {
            source_name: name.clone(),
            reason,
        };
        if let Input::File { path, .. } = &options.input
            && !std::path::Path::new(path).is_file()
        {
            return Err(open_err("no such file".into()));
        }
        let args = args::command_line(
            &options.input,
            options.fps,
            options.stall,
            &options.extra_input_args,
        );
        let mut child = Command::new(program())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                open_err(if e.kind() == std::io::ErrorKind::NotFound {
                    format!("{} is not installed (apt-get install ffmpeg)", program())
                } else {
                    format!("cannot run {}: {e}", program())
                })
            })?;
        let diagnosis: Arc<(Mutex<Diagnosis>, Condvar)> = Default::default();
        let stderr = child.stderr.take().expect("stderr is piped");
        {
            let diagnosis = diagnosis.clone();
            let owned: Vec<String> = options.secrets.clone();
            let log_name = name.clone();
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || read_stderr(stderr, &diagnosis, &owned, &log_name))
                .expect("can start a thread");
        }
        // The output's frame size is on stderr before the first frame.
        let started = Instant::now();
        let size = {
            let (lock, ready) = &*diagnosis;
            let mut d = lock.lock().expect("diagnosis lock");
            loop {
                if let Some(size) = d.info.output_size {
                    break size;
                }
                if d.failure.is_some() || d.stderr_closed {
                    let reason = d.reason("ffmpeg ended before the first frame");
                    drop(d);
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(open_err(reason));
                }
                let left =
                    (options.stall + Duration::from_secs(2)).saturating_sub(started.elapsed());
                if left.is_zero() {
                    drop(d);
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(open_err(
                        "timeout: no stream description from ffmpeg".into(),
                    ));
                }
                d = ready.wait_timeout(d, left).expect("diagnosis lock").0;
            }
        };
        let (width, height) = size;
        if (width as u64) * (height as u64) > MAX_PIXELS {
            let _ = child.kill();
            let _ = child.wait();
            return Err(open_err(format!(
                "{width}×{height} frames are larger than an edge takes"
            )));
        }
        let description = {
            let d = diagnosis.0.lock().expect("diagnosis lock");
            format!(
                "{name} {} {width}×{height}{}",
                d.info.codec.as_deref().unwrap_or("video"),
                options
                    .fps
                    .map(|f| format!(" @ ≤{f} fps"))
                    .unwrap_or_default()
            )
        };
        let stdout = child.stdout.take().expect("stdout is piped");
        // One frame in hand: a slow consumer holds ffmpeg back on the pipe
        // rather than letting frames pile up in memory.
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new()
            .name("ffmpeg-frames".into())
            .spawn(move || {
                let mut stdout = stdout;
                let len = Yuv420::frame_len(width, height);
                loop {
                    let mut buf = vec![0u8; len];
                    let frame = stdout
                        .read_exact(&mut buf)
                        .map(|()| Yuv420::new(width, height, buf).expect("buffer is one frame"));
                    let end = frame.is_err();
                    if tx.send(frame).is_err() || end {
                        return;
                    }
                }
            })
            .expect("can start a thread");
        Ok(Self {
            name,
            description,
            child,
            frames: rx,
            stall: options.stall,
            diagnosis,
            is_file: matches!(options.input, Input::File { .. }),
        })
    }

    /// Why ffmpeg ended: its last words are read once its stderr closes
    /// (at most half a second after the frames stopped). Every stderr line
    /// was redacted as it was read.
    fn ended_reason(&mut self, fallback: &str) -> String {
        let (lock, closed) = &*self.diagnosis;
        let d = lock.lock().expect("diagnosis lock");
        let (d, _) = closed
            .wait_timeout_while(d, Duration::from_millis(500), |d| !d.stderr_closed)
            .expect("diagnosis lock");
        d.reason(fallback)
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FrameSource for FfmpegSource {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn next_frame(&mut self) -> CameraResult<image::RgbImage> {
        match self.next_picture()? {
            Picture::Rgb(rgb) => Ok(rgb),
            Picture::Yuv(yuv) => Ok(yuv.crop_rgb(crate::yuv::Region {
                x0: 0,
                y0: 0,
                x1: yuv.width(),
                y1: yuv.height(),
            })),
        }
    }

    fn next_picture(&mut self) -> CameraResult<Picture> {
        match self.frames.recv_timeout(self.stall) {
            Ok(Ok(frame)) => Ok(Picture::Yuv(frame)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                let status = self.child.try_wait().ok().flatten();
                let reason = self.ended_reason("the stream ended");
                // A file played through is over; a live stream that ends
                // has gone away and is reopened.
                let finished_file = self.is_file
                    && status.is_some_and(|s| s.success())
                    && self
                        .diagnosis
                        .0
                        .lock()
                        .expect("diagnosis lock")
                        .failure
                        .is_none();
                if finished_file {
                    Err(CameraError::Ended(self.name.clone()))
                } else {
                    Err(CameraError::Disconnected {
                        source_name: self.name.clone(),
                        reason,
                    })
                }
            }
            Ok(Err(e)) => Err(CameraError::Disconnected {
                source_name: self.name.clone(),
                reason: e.to_string(),
            }),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(CameraError::Stalled {
                    source_name: self.name.clone(),
                    seconds: self.stall.as_secs_f64(),
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(CameraError::Disconnected {
                source_name: self.name.clone(),
                reason: self.ended_reason("ffmpeg ended"),
            }),
        }
    }
}

fn read_stderr(
    stderr: std::process::ChildStderr,
    diagnosis: &(Mutex<Diagnosis>, Condvar),
    secrets: &[String],
    name: &str,
) {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let (lock, ready) = diagnosis;
    for line in BufReader::new(stderr).split(b'\n') {
        let Ok(line) = line else { break };
        let line = redact(String::from_utf8_lossy(&line).trim_end(), &secrets);
        if line.is_empty() {
            continue;
        }
        tracing::trace!(camera_source = %name, "ffmpeg: {line}");
        lock.lock().expect("diagnosis lock").line(&line);
        ready.notify_all();
    }
    lock.lock().expect("diagnosis lock").stderr_closed = true;
    ready.notify_all();
}
