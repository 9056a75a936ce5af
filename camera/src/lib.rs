//! Frame sources for the edge's live pipeline.
//!
//! Every camera is a [`FrameSource`]: a blocking producer of RGB frames.
//! Three are built: [`v4l2::V4l2Source`] (a local camera, MJPEG or YUYV),
//! [`http::MjpegHttpSource`] (an IP camera's `multipart/x-mixed-replace`
//! stream) and [`replay::ReplaySource`] (a folder of images or an `.mjpeg`
//! file at a set rate, for demos and tests). [`supervisor::spawn`] runs one
//! on its own thread, reopens it when it fails or stalls, and hands the
//! consumer only the latest frame: a slow consumer skips frames, it never
//! builds a queue.

pub mod convert;
mod error;
pub mod http;
pub mod jpeg_stream;
pub mod replay;
mod spec;
pub mod supervisor;
pub mod v4l2;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use image::RgbImage;

pub use error::{CameraError, CameraResult};
pub use spec::{PixelFormat, SourceSpec};
pub use supervisor::{FrameFeed, SourceState, SourceStatus, SupervisorOptions};

/// One decoded frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Counts every frame the source delivered, so a consumer can tell how
    /// many it skipped.
    pub seq: u64,
    pub image: Arc<RgbImage>,
    /// When the frame was captured (monotonic), for latency.
    pub captured: Instant,
    /// The same moment on the wall clock, for events.
    pub captured_at: SystemTime,
}

/// A blocking producer of frames. `next_frame` returns the next frame, or
/// an error: [`CameraError::is_fatal`] tells whether the source must be
/// reopened or only that one frame was bad.
pub trait FrameSource: Send {
    /// What it reads, for logs (`/dev/video0 640×480 MJPG @ 30 fps`).
    fn describe(&self) -> String;
    fn next_frame(&mut self) -> CameraResult<RgbImage>;
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
    })
}
