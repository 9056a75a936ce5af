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

/// How an RTSP camera's packets travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    /// Interleaved in the RTSP connection: passes firewalls and NAT, loses
    /// nothing (the default, as in Frigate's presets).
    #[default]
    Tcp,
    /// RTP over UDP: less latency on a clean LAN, frames lost on a busy one.
    Udp,
}

/// How a video file is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilePace {
    /// At the file's own rate, as a camera would deliver it.
    #[default]
    Realtime,
    /// As fast as analysis takes frames (archive work): nothing skipped.
    Fast,
}

/// A credential: read from the config, never written out (`config show`,
/// `/api/cameras`, logs and errors see `***`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// An IP camera over RTSP (H.264, H.265, MJPEG), read by ffmpeg. The
    /// URL picks the stream: a camera's main stream for faces at full
    /// resolution, its sub-stream to save decoding.
    Rtsp {
        /// `rtsp://host:554/path`; credentials may be in it or below.
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Secret>,
        #[serde(default)]
        transport: RtspTransport,
        /// Frames a second handed to analysis at most (default: all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fps: Option<u32>,
        /// No frame for this long: the stream is reopened.
        #[serde(default = "default_stall_ms")]
        stall_timeout_ms: u64,
        /// Extra ffmpeg input options (`["-hwaccel", "vaapi"]`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ffmpeg_input_args: Vec<String>,
    },
    /// Any stream or file ffmpeg reads: `srt://`, `rtmp://`, HLS
    /// (`https://…/index.m3u8`), `udp://@239.0.0.1:1234` (MPEG-TS), or a
    /// path to an MP4, MKV or TS file.
    Stream {
        url: String,
        /// Files only: their own rate, or as fast as analysis allows.
        #[serde(default)]
        pace: FilePace,
        /// Files only: start again at the end (else the source ends).
        #[serde(default)]
        repeat: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fps: Option<u32>,
        #[serde(default = "default_stall_ms")]
        stall_timeout_ms: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ffmpeg_input_args: Vec<String>,
    },
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
/// Frigate restarts ffmpeg after 20 s without a frame; 10 s reopens a
/// stalled camera sooner and is still far above any keyframe interval.
fn default_stall_ms() -> u64 {
    10_000
}

/// Network streams ffmpeg reads (a file is anything else).
const STREAM_SCHEMES: &[&str] = &[
    "srt://", "rtmp://", "rtmps://", "udp://", "rtp://", "tcp://", "http://", "https://",
];

impl SourceSpec {
    /// Whether this is read by ffmpeg (and so gives full-resolution frames).
    pub fn is_ffmpeg(&self) -> bool {
        matches!(self, SourceSpec::Rtsp { .. } | SourceSpec::Stream { .. })
    }

    /// The ffmpeg options of an `rtsp` or `stream` source.
    pub fn ffmpeg_options(&self) -> Option<crate::ffmpeg::Options> {
        use crate::ffmpeg::{Input, Options, Pace};
        match self {
            SourceSpec::Rtsp {
                url,
                username,
                password,
                transport,
                fps,
                stall_timeout_ms,
                ffmpeg_input_args,
            } => {
                let url = with_credentials(
                    url,
                    username.as_deref(),
                    password.as_ref().map(|p| p.0.as_str()),
                );
                let mut secrets: Vec<String> = password.iter().map(|p| p.0.clone()).collect();
                secrets.extend(url_password(&url));
                Some(Options {
                    input: Input::Rtsp {
                        url,
                        udp: *transport == RtspTransport::Udp,
                    },
                    fps: *fps,
                    stall: std::time::Duration::from_millis(*stall_timeout_ms),
                    extra_input_args: ffmpeg_input_args.clone(),
                    secrets,
                })
            }
            SourceSpec::Stream {
                url,
                pace,
                repeat,
                fps,
                stall_timeout_ms,
                ffmpeg_input_args,
            } => {
                let network = STREAM_SCHEMES.iter().any(|s| url.starts_with(s));
                let input = if network {
                    Input::Network { url: url.clone() }
                } else {
                    Input::File {
                        path: url.strip_prefix("file:").unwrap_or(url).to_string(),
                        pace: match pace {
                            FilePace::Realtime => Pace::Realtime,
                            FilePace::Fast => Pace::AsFastAsRead,
                        },
                        repeat: *repeat,
                    }
                };
                Some(Options {
                    input,
                    fps: *fps,
                    stall: std::time::Duration::from_millis(*stall_timeout_ms),
                    extra_input_args: ffmpeg_input_args.clone(),
                    secrets: url_password(url).into_iter().collect(),
                })
            }
            _ => None,
        }
    }
}

/// `url` with `user:password@` put in (percent-encoded) when given apart.
fn with_credentials(url: &str, user: Option<&str>, password: Option<&str>) -> String {
    let Some(user) = user else {
        return url.to_string();
    };
    let Some(scheme) = url.find("://") else {
        return url.to_string();
    };
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let auth = match password {
        Some(p) => format!("{}:{}@", encode(user), encode(p)),
        None => format!("{}@", encode(user)),
    };
    format!("{}{}{}", &url[..scheme + 3], auth, &url[scheme + 3..])
}

/// The password part of a URL's `user:password@`, to redact it anywhere.
fn url_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    userinfo.split_once(':').map(|(_, p)| p.to_string())
}

impl SourceSpec {
    /// Parses the short form used on the command line:
    /// `v4l2:/dev/video0`, `http://host/stream.mjpg`, `replay:DIR[@FPS]`
    /// (loops) or `replay-once:DIR[@FPS]` (ends after one pass; also
    /// `replay-loop:` for the explicit loop).
    pub fn parse_short(s: &str) -> Result<Self, String> {
        if s.starts_with("rtsp://") || s.starts_with("rtsps://") {
            return Ok(SourceSpec::Rtsp {
                url: s.into(),
                username: None,
                password: None,
                transport: RtspTransport::Tcp,
                fps: None,
                stall_timeout_ms: default_stall_ms(),
                ffmpeg_input_args: vec![],
            });
        }
        let stream = |url: &str, pace: FilePace| SourceSpec::Stream {
            url: url.into(),
            pace,
            repeat: false,
            fps: None,
            stall_timeout_ms: default_stall_ms(),
            ffmpeg_input_args: vec![],
        };
        if let Some(path) = s.strip_prefix("file:") {
            return Ok(stream(path, FilePace::Realtime));
        }
        if let Some(path) = s.strip_prefix("file-fast:") {
            return Ok(stream(path, FilePace::Fast));
        }
        // An http(s) URL is an HLS playlist or else an MJPEG camera (below).
        let mjpeg = s.starts_with("http") && !s.contains(".m3u8");
        if !mjpeg && STREAM_SCHEMES.iter().any(|p| s.starts_with(p)) {
            return Ok(stream(s, FilePace::Realtime));
        }
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
            "`{s}` is not a camera: use rtsp://…, srt://…, rtmp://…, udp://@GROUP:PORT, https://…/index.m3u8, file:VIDEO (file-fast: for archive speed), v4l2:/dev/videoN, http://…/stream.mjpg, replay:DIR[@FPS] or replay-once:DIR[@FPS]"
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
        let err = SourceSpec::parse_short("ftp://cam").unwrap_err();
        assert!(
            err.contains("replay-once:") && err.contains("rtsp://"),
            "{err}"
        );
    }

    #[test]
    fn streams_and_files_go_to_ffmpeg_with_their_credentials_kept_secret() {
        let rtsp = SourceSpec::parse_short("rtsp://cam:554/Streaming/101").unwrap();
        assert!(rtsp.is_ffmpeg());
        let options = rtsp.ffmpeg_options().unwrap();
        assert!(matches!(
            options.input,
            crate::ffmpeg::Input::Rtsp { udp: false, .. }
        ));
        assert_eq!(options.stall, std::time::Duration::from_secs(10));
        for short in [
            "srt://h:9000",
            "udp://@239.0.0.1:1234",
            "https://h/live/index.m3u8",
        ] {
            let spec = SourceSpec::parse_short(short).unwrap();
            assert!(
                matches!(
                    spec.ffmpeg_options().unwrap().input,
                    crate::ffmpeg::Input::Network { .. }
                ),
                "{short}"
            );
        }
        // An http URL without a playlist is still an MJPEG camera.
        assert!(matches!(
            SourceSpec::parse_short("http://cam/video.mjpg").unwrap(),
            SourceSpec::MjpegHttp { .. }
        ));
        let file = SourceSpec::parse_short("file-fast:/archive/show.ts").unwrap();
        match file.ffmpeg_options().unwrap().input {
            crate::ffmpeg::Input::File { path, pace, repeat } => {
                assert_eq!(
                    (path.as_str(), pace, repeat),
                    ("/archive/show.ts", crate::ffmpeg::Pace::AsFastAsRead, false)
                );
            }
            other => panic!("{other:?}"),
        }

        let spec: SourceSpec = toml::from_str(
            "kind = \"rtsp\"\nurl = \"rtsp://10.0.0.5/main\"\nusername = \"admin\"\npassword = \"p@ss word\"\ntransport = \"udp\"",
        )
        .unwrap();
        let options = spec.ffmpeg_options().unwrap();
        match &options.input {
            crate::ffmpeg::Input::Rtsp { url, udp } => {
                assert_eq!(url, "rtsp://admin:p%40ss%20word@10.0.0.5/main");
                assert!(*udp);
            }
            other => panic!("{other:?}"),
        }
        assert!(options.secrets.contains(&"p@ss word".to_string()));
        assert!(options.secrets.contains(&"p%40ss%20word".to_string()));
        // Written out, the password is never there.
        let shown = toml::to_string(&spec).unwrap();
        assert!(
            !shown.contains("ss word") && shown.contains("***"),
            "{shown}"
        );
        assert!(!format!("{spec:?}").contains("ss word"));
        assert_eq!(url_password("rtsp://u:pw@h/x").as_deref(), Some("pw"));
        assert_eq!(url_password("rtsp://h/x@y"), None);
    }
}
