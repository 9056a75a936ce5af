//! What a camera is, as configured (`[[camera]]` in the config file).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Pixel format to ask a V4L2 camera for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// MJPEG when the camera offers it (less USB bandwidth), else YUYV.
    #[default]
    Auto,
    Mjpeg,
    Yuyv,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// A local camera through Video4Linux2.
    V4l2 {
        #[serde(default = "default_device")]
        device: PathBuf,
        #[serde(default = "default_width")]
        width: u32,
        #[serde(default = "default_height")]
        height: u32,
        #[serde(default = "default_fps")]
        fps: u32,
        #[serde(default)]
        pixel_format: PixelFormat,
    },
    /// An IP camera's MJPEG stream over HTTP.
    MjpegHttp {
        url: String,
        /// A connection or a frame that takes longer than this is a stall.
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// A folder of images (in name order) or an `.mjpeg` file, replayed.
    Replay {
        path: PathBuf,
        #[serde(default = "default_fps")]
        fps: u32,
        /// Start again at the end (else the source ends).
        #[serde(default)]
        repeat: bool,
    },
}

fn default_device() -> PathBuf {
    PathBuf::from("/dev/video0")
}
fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    480
}
fn default_fps() -> u32 {
    30
}
fn default_timeout_ms() -> u64 {
    5000
}

impl SourceSpec {
    /// Parses the short form used on the command line:
    /// `v4l2:/dev/video0`, `http://host/stream.mjpg`, `replay:DIR[@FPS]`
    /// (loops) or `replay-once:DIR[@FPS]` (ends after one pass; also
    /// `replay-loop:` for the explicit loop).
    pub fn parse_short(s: &str) -> Result<Self, String> {
        if let Some(device) = s.strip_prefix("v4l2:") {
            return Ok(SourceSpec::V4l2 {
                device: device.into(),
                width: default_width(),
                height: default_height(),
                fps: default_fps(),
                pixel_format: PixelFormat::Auto,
            });
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(SourceSpec::MjpegHttp {
                url: s.into(),
                timeout_ms: default_timeout_ms(),
            });
        }
        let replay = [
            ("replay-once:", false),
            ("replay-loop:", true),
            ("replay:", true),
        ]
        .into_iter()
        .find_map(|(prefix, repeat)| s.strip_prefix(prefix).map(|rest| (rest, repeat)));
        if let Some((rest, repeat)) = replay {
            let (path, fps) = match rest.rsplit_once('@') {
                Some((p, f)) => (
                    p,
                    f.parse::<u32>()
                        .ok()
                        .filter(|f| (1..=240).contains(f))
                        .ok_or_else(|| format!("`{f}` is not a frame rate (1–240)"))?,
                ),
                None => (rest, default_fps()),
            };
            return Ok(SourceSpec::Replay {
                path: path.into(),
                fps,
                repeat,
            });
        }
        Err(format!(
            "`{s}` is not a camera: use v4l2:/dev/videoN, http://…/stream.mjpg, replay:DIR[@FPS] or replay-once:DIR[@FPS]"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_loop_unless_told_to_play_once() {
        let replay = |s: &str| match SourceSpec::parse_short(s).unwrap() {
            SourceSpec::Replay { path, fps, repeat } => (path, fps, repeat),
            other => panic!("{other:?}"),
        };
        assert_eq!(replay("replay:/clips/a@10"), ("/clips/a".into(), 10, true));
        assert_eq!(
            replay("replay-loop:/clips/a"),
            ("/clips/a".into(), 30, true)
        );
        assert_eq!(
            replay("replay-once:/clips/a@5"),
            ("/clips/a".into(), 5, false)
        );
        let err = SourceSpec::parse_short("replay-once:/clips/a@0").unwrap_err();
        assert!(err.contains("frame rate"), "{err}");
        let err = SourceSpec::parse_short("rtsp://cam").unwrap_err();
        assert!(err.contains("replay-once:"), "{err}");
    }
}
