//! What ffmpeg says on stderr, read for a person: the input's codec and
//! size, the output frame size, and why a stream failed in words an
//! operator can act on (`401 wrong credentials`, `404 no such stream`,
//! `codec … not supported`). Every line is redacted before it is kept.

/// The stream as ffmpeg described it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// The input video codec (`h264`, `hevc`…).
    pub codec: Option<String>,
    pub input_size: Option<(u32, u32)>,
    /// The size of the raw frames on stdout.
    pub output_size: Option<(u32, u32)>,
}

/// Why a stream cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    WrongCredentials,
    NoSuchStream,
    Refused,
    Timeout,
    UnsupportedCodec(String),
    NotVideo,
    NoSuchFile,
    Other(String),
}

impl Failure {
    pub fn reason(&self) -> String {
        match self {
            Failure::WrongCredentials => "401 wrong credentials".into(),
            Failure::NoSuchStream => "404 no such stream".into(),
            Failure::Refused => "connection refused".into(),
            Failure::Timeout => "timeout: the source did not answer".into(),
            Failure::UnsupportedCodec(c) => format!("codec {c} not supported"),
            Failure::NotVideo => {
                "no video stream ffmpeg can decode (codec not supported, or not video)".into()
            }
            Failure::NoSuchFile => "no such file".into(),
            Failure::Other(line) => line.clone(),
        }
    }
}

/// Reads ffmpeg's stderr line by line.
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub info: StreamInfo,
    pub failure: Option<Failure>,
    /// The last line that looked like an error, redacted.
    pub last_error_line: Option<String>,
    /// ffmpeg closed its stderr (it ended).
    pub stderr_closed: bool,
    section: Section,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Section {
    #[default]
    None,
    Input,
    Output,
}

/// Video codecs an edge decodes (ffmpeg's names).
const SUPPORTED: &[&str] = &[
    "h264",
    "hevc",
    "mjpeg",
    "mpeg2video",
    "mpeg4",
    "vp8",
    "vp9",
    "av1",
];

impl Diagnosis {
    /// Takes one (already redacted) line.
    pub fn line(&mut self, line: &str) {
        let l = line.trim();
        if l.starts_with("Input #") {
            self.section = Section::Input;
        } else if l.starts_with("Output #") {
            self.section = Section::Output;
        }
        if let Some(rest) = l.split_once(": Video: ").map(|(_, r)| r) {
            let codec = rest.split([' ', ',']).next().unwrap_or("").to_string();
            let size = frame_size(rest);
            match self.section {
                Section::Output => self.info.output_size = size,
                _ => {
                    if !codec.is_empty() && codec != "none" {
                        if !SUPPORTED.contains(&codec.as_str()) {
                            self.failure
                                .get_or_insert(Failure::UnsupportedCodec(codec.clone()));
                        }
                        self.info.codec = Some(codec);
                    }
                    self.info.input_size = size.or(self.info.input_size);
                }
            }
            return;
        }
        let lower = l.to_ascii_lowercase();
        let failure = if lower.contains("401 unauthorized") {
            Some(Failure::WrongCredentials)
        } else if lower.contains("404 not found") || lower.contains("stream not found") {
            Some(Failure::NoSuchStream)
        } else if lower.contains("connection refused") {
            Some(Failure::Refused)
        } else if lower.contains("timed out") || lower.contains("timeout") {
            Some(Failure::Timeout)
        } else if lower.contains("decoder (codec") && lower.contains("not found") {
            let codec = between(l, "(codec ", ")").unwrap_or("unknown").to_string();
            Some(Failure::UnsupportedCodec(codec))
        } else if lower.contains("unsupported codec")
            || lower.contains("codec not currently supported")
        {
            Some(Failure::UnsupportedCodec(
                between(l, "codec id ", " ")
                    .unwrap_or("unknown")
                    .to_string(),
            ))
        } else if lower.contains("stream map '0:v:0' matches no streams")
            || lower.contains("output file #0 does not contain any stream")
        {
            Some(Failure::NotVideo)
        } else if lower.contains("no such file or directory") {
            Some(Failure::NoSuchFile)
        } else if lower.contains("invalid data found when processing input") {
            Some(Failure::Other(
                "not a video ffmpeg can read (invalid data)".into(),
            ))
        } else if lower.contains("error") || lower.contains("failed") || lower.contains("could not")
        {
            self.last_error_line = Some(l.to_string());
            None
        } else {
            None
        };
        if let Some(f) = failure {
            self.last_error_line = Some(l.to_string());
            // The first specific cause wins: later lines are consequences.
            if !matches!(self.failure, Some(ref old) if !matches!(old, Failure::Other(_))) {
                self.failure = Some(f);
            }
        }
    }

    /// The reason to show when ffmpeg ended: the diagnosed cause, else its
    /// last error line, else `fallback`.
    pub fn reason(&self, fallback: &str) -> String {
        match (&self.failure, &self.last_error_line) {
            (Some(f), _) => f.reason(),
            (None, Some(line)) => line.clone(),
            (None, None) => fallback.to_string(),
        }
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let a = s.find(start)? + start.len();
    let rest = &s[a..];
    Some(rest.find(end).map_or(rest, |b| &rest[..b]))
}

/// The first `WxH` token of a stream description.
fn frame_size(desc: &str) -> Option<(u32, u32)> {
    desc.split([' ', ',', '['])
        .filter_map(|t| t.split_once('x'))
        .find_map(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| w > 0 && h > 0)
}

/// `text` with any `user:password@` of a URL and every given secret
/// replaced, so that credentials never reach a log, a status or an error.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '\'' || c == '"')
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &tail[at + 1..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    for s in secrets.iter().filter(|s| s.len() >= 2) {
        out = out.replace(*s, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnose(lines: &[&str]) -> Diagnosis {
        let mut d = Diagnosis::default();
        for l in lines {
            d.line(l);
        }
        d
    }

    #[test]
    fn sizes_and_codec_come_from_the_stream_lines() {
        let d = diagnose(&[
            "Input #0, rtsp, from 'rtsp://***@127.0.0.1:8554/cam':",
            "  Stream #0:0: Video: hevc (Main), yuv420p(tv, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 90k tbn",
            "Output #0, rawvideo, to 'pipe:1':",
            "  Stream #0:0: Video: rawvideo (I420 / 0x30323449), yuv420p(tv, progressive), 1280x720, q=2-31, 27648 kb/s, 25 fps",
        ]);
        assert_eq!(d.info.codec.as_deref(), Some("hevc"));
        assert_eq!(d.info.input_size, Some((1920, 1080)));
        assert_eq!(d.info.output_size, Some((1280, 720)));
        assert!(d.failure.is_none());
    }

    #[test]
    fn failures_are_named_for_a_person() {
        let cases: &[(&str, &str)] = &[
            (
                "[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized",
                "401 wrong credentials",
            ),
            (
                "[rtsp @ 0x55] method DESCRIBE failed: 404 Not Found",
                "404 no such stream",
            ),
            (
                "[tcp @ 0x5] Connection to tcp://127.0.0.1:9 failed: Connection refused",
                "connection refused",
            ),
            (
                "rtsp://***@10.0.0.5/x: Connection timed out",
                "timeout: the source did not answer",
            ),
            (
                "  Stream #0:0: Video: vvc, none, 1920x1080",
                "codec vvc not supported",
            ),
            ("missing.mp4: No such file or directory", "no such file"),
        ];
        for (line, reason) in cases {
            assert_eq!(diagnose(&[line]).reason("ended"), *reason, "{line}");
        }
        assert_eq!(diagnose(&[]).reason("ffmpeg ended"), "ffmpeg ended");
        // The first cause is kept: the exit line after a 401 is a consequence.
        let d = diagnose(&[
            "method DESCRIBE failed: 401 Unauthorized",
            "rtsp://x: Server returned 4XX Client Error, but not one of 40{0,1,3,4}",
        ]);
        assert_eq!(d.reason(""), "401 wrong credentials");
    }

    #[test]
    fn credentials_never_survive_redaction() {
        let line = "Input #0, rtsp, from 'rtsp://admin:s3cret@10.0.0.5:554/Streaming/101':";
        let r = redact(line, &[]);
        assert_eq!(
            r,
            "Input #0, rtsp, from 'rtsp://***@10.0.0.5:554/Streaming/101':"
        );
        assert_eq!(
            redact("rtsp://h/x?pw=hunter2 and hunter2", &["hunter2"]),
            "rtsp://h/x?pw=*** and ***"
        );
        assert_eq!(
            redact("srt://h:9000 and rtmp://u:p@x/live", &[]),
            "srt://h:9000 and rtmp://***@x/live"
        );
    }
}
