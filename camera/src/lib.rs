//! Frame sources for the edge's live pipeline.
//!
//! Every camera is a [`FrameSource`]: a blocking producer of frames. Four
//! are built: [`ffmpeg::FfmpegSource`] (RTSP cameras, SRT, RTMP, HLS, UDP
//! MPEG-TS and video files, H.264/H.265 and more, at full resolution),
//! [`v4l2::V4l2Source`] (a local camera or capture card, MJPEG or YUYV),
//! [`http::MjpegHttpSource`] (an IP camera's `multipart/x-mixed-replace`
//! stream) and [`replay::ReplaySource`] (a folder of images or an `.mjpeg`
//! file at a set rate, for demos and tests). [`supervisor::spawn`] runs one
//! on its own thread, reopens it when it fails or stalls, and hands the
//! consumer only the latest frame: a slow consumer skips frames, it never
//! builds a queue.

pub mod convert;
mod error;
pub mod ffmpeg;
pub mod http;
pub mod jpeg_stream;
pub mod replay;
mod spec;
pub mod supervisor;
pub mod v4l2;
pub mod yuv;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use image::RgbImage;

pub use error::{CameraError, CameraResult};
pub use spec::{FilePace, PixelFormat, RtspTransport, Secret, SourceSpec};
pub use supervisor::{AnalysisSize, FrameFeed, SourceState, SourceStatus, SupervisorOptions};
pub use yuv::{Region, Yuv420};

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Counts every frame the source delivered, so a consumer can tell how
    /// many it skipped.
    pub seq: u64,
    /// The picture analysis sees: the source's own RGB frame, or for a
    /// full-resolution source the copy sized for the smallest face wanted.
    pub image: Arc<RgbImage>,
    /// The frame at the source's resolution, when `image` is a shrunk copy
    /// of it: faces are cut from here.
    pub full: Option<Arc<Yuv420>>,
    /// When the frame was captured (monotonic), for latency.
    pub captured: Instant,
    /// The same moment on the wall clock, for events.
    pub captured_at: SystemTime,
}

impl Frame {
    /// Source pixels per analysis pixel (1 unless `image` is a shrunk copy
    /// of a full-resolution frame).
    pub fn source_scale(&self) -> f32 {
        match &self.full {
            Some(full) => full.width() as f32 / self.image.width().max(1) as f32,
            None => 1.0,
        }
    }
}

/// A blocking producer of frames. `next_frame` returns the next frame, or
/// an error: [`CameraError::is_fatal`] tells whether the source must be
/// reopened or only that one frame was bad.
pub trait FrameSource: Send {
    /// What it reads, for logs (`/dev/video0 640×480 MJPG @ 30 fps`).
    fn describe(&self) -> String;
    fn next_frame(&mut self) -> CameraResult<RgbImage>;

    /// The next frame as the source has it; full-resolution sources give
    /// their decoder's planes, and nothing converts what nobody looks at.
    fn next_picture(&mut self) -> CameraResult<Picture> {
        self.next_frame().map(Picture::Rgb)
    }
}

/// A frame as a source delivers it.
#[derive(Debug)]
pub enum Picture {
    Rgb(RgbImage),
    Yuv(Yuv420),
}

/// Opens the source `spec` describes.
pub fn open(spec: &SourceSpec) -> CameraResult<Box<dyn FrameSource>> {
    Ok(match spec {
        SourceSpec::V4l2 {
            device,
            width,
            height,
            fps,
            pixel_format,
        } => Box::new(v4l2::V4l2Source::open(
            device,
            v4l2::Request {
                width: *width,
                height: *height,
                fps: *fps,
                pixel_format: *pixel_format,
            },
        )?),
        SourceSpec::MjpegHttp { url, timeout_ms } => Box::new(http::MjpegHttpSource::open(
            url,
            std::time::Duration::from_millis(*timeout_ms),
        )?),
        SourceSpec::Replay { path, fps, repeat } => {
            Box::new(replay::ReplaySource::open(path, *fps, *repeat)?)
        }
        SourceSpec::Rtsp { .. } | SourceSpec::Stream { .. } => Box::new(
            ffmpeg::FfmpegSource::open(&spec.ffmpeg_options().expect("an ffmpeg source"))?,
        ),
    })
}
