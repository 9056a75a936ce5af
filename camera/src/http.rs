//! An IP camera's MJPEG stream: `multipart/x-mixed-replace` over HTTP(S)
//! (or a single JPEG per request, for cameras that only serve snapshots).

use std::time::Duration;

use image::RgbImage;

use crate::FrameSource;
use crate::convert::decode_mjpeg;
use crate::error::{CameraError, CameraResult};
use crate::jpeg_stream::JpegSplitter;

pub struct MjpegHttpSource {
    /// The URL without its credentials, for logs.
    name: String,
    frames: JpegSplitter<ureq::BodyReader<'static>>,
    timeout: Duration,
}

/// The URL with any `user:password@` removed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

impl MjpegHttpSource {
    /// Connects; `timeout` bounds the connection, the response, and the
    /// wait for each read of the stream (a camera silent that long has
    /// stalled).
    pub fn open(url: &str, timeout: Duration) -> CameraResult<Self> {
        let name = redact(url);
        let open_err = |reason: String| CameraError::Open {
            source_name: name.clone(),
            reason,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent.get(url).call().map_err(|e| open_err(e.to_string()))?;
        if !response.status().is_success() {
            return Err(open_err(format!(
                "the camera answered HTTP {}",
                response.status()
            )));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !(content_type.starts_with("multipart/") || content_type.starts_with("image/jpeg")) {
            return Err(open_err(format!(
                "the URL serves `{content_type}`, not an MJPEG stream (multipart/x-mixed-replace)"
            )));
        }
        let body = response
            .into_body()
            .into_with_config()
            .limit(u64::MAX)
            .reader();
        Ok(Self {
            name,
            frames: JpegSplitter::new(body),
            timeout,
        })
    }
}

impl FrameSource for MjpegHttpSource {
    fn describe(&self) -> String {
        format!("MJPEG stream {}", self.name)
    }

    fn next_frame(&mut self) -> CameraResult<RgbImage> {
        match self.frames.next_jpeg() {
            Ok(Some(jpeg)) => decode_mjpeg(&jpeg),
            Ok(None) => Err(CameraError::Disconnected {
                source_name: self.name.clone(),
                reason: "the camera closed the stream".into(),
            }),
            Err(e) if is_timeout(&e) => Err(CameraError::Stalled {
                source_name: self.name.clone(),
                seconds: self.timeout.as_secs_f64(),
            }),
            Err(e) => Err(CameraError::Disconnected {
                source_name: self.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) || e.to_string().to_ascii_lowercase().contains("timeout")
        || e.to_string().to_ascii_lowercase().contains("timed out")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_logs() {
        assert_eq!(
            redact("http://admin:secret@10.0.0.5/video.mjpg"),
            "http://10.0.0.5/video.mjpg"
        );
        assert_eq!(
            redact("http://cam.local/video.mjpg"),
            "http://cam.local/video.mjpg"
        );
    }
}
