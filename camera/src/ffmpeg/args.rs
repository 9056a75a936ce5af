//! The ffmpeg command line for each kind of input, as Frigate's presets do:
//! what to tell the demuxer so that a live stream fails fast instead of
//! hanging, and what to ask of the output (raw I420 frames on stdout, the
//! first video stream only, at most `fps` of them a second).

use std::time::Duration;

/// How a file is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// At the file's own frame rate, as a camera would deliver it.
    Realtime,
    /// As fast as the analysis takes frames (batch work): ffmpeg blocks
    /// on the pipe while the edge is busy, so no frame is skipped.
    AsFastAsRead,
}

/// What ffmpeg is asked to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Rtsp {
        url: String,
        udp: bool,
    },
    /// Any network stream (SRT, RTMP, HLS, UDP/RTP MPEG-TS, HTTP).
    Network {
        url: String,
    },
    File {
        path: String,
        pace: Pace,
        repeat: bool,
    },
}

/// Arguments for `ffmpeg` (without the program name).
pub fn command_line(
    input: &Input,
    fps: Option<u32>,
    stall: Duration,
    extra_input: &[String],
) -> Vec<String> {
    let micros = stall.as_micros().max(1).to_string();
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
        .map(String::from)
        .to_vec();
    // One decoding thread per camera: frame threads add a frame of latency
    // each, and several cameras share the cores fairly this way.
    a.extend(["-threads".into(), "1".into()]);
    match input {
        Input::Rtsp { url, udp } => {
            a.extend([
                "-rtsp_transport".into(),
                if *udp { "udp" } else { "tcp" }.into(),
                // Socket I/O timeout: a silent camera is an error, not a hang.
                "-timeout".into(),
                micros,
                "-fflags".into(),
                "+genpts+discardcorrupt".into(),
                "-use_wallclock_as_timestamps".into(),
                "1".into(),
            ]);
            a.extend(extra_input.iter().cloned());
            a.extend(["-i".into(), url.clone()]);
        }
        Input::Network { url } => {
            a.extend([
                "-rw_timeout".into(),
                micros,
                "-fflags".into(),
                "+genpts+discardcorrupt".into(),
            ]);
            a.extend(extra_input.iter().cloned());
            a.extend(["-i".into(), url.clone()]);
        }
        Input::File { path, pace, repeat } => {
            if *pace == Pace::Realtime {
                a.push("-re".into());
            }
            if *repeat {
                a.extend(["-stream_loop".into(), "-1".into()]);
            }
            a.extend(extra_input.iter().cloned());
            // `file:` so that a name with a colon is never read as a protocol.
            a.extend(["-i".into(), format!("file:{path}")]);
        }
    }
    a.extend(["-map", "0:v:0", "-an", "-sn", "-dn"].map(String::from));
    if let Some(fps) = fps {
        a.extend(["-vf".into(), format!("fps={fps}")]);
    }
    a.extend(
        [
            "-fps_mode",
            "passthrough",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "rawvideo",
            "pipe:1",
        ]
        .map(String::from),
    );
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(input: &Input, fps: Option<u32>) -> String {
        command_line(input, fps, Duration::from_secs(10), &[]).join(" ")
    }

    #[test]
    fn live_inputs_time_out_and_files_keep_their_pace() {
        let rtsp = joined(
            &Input::Rtsp {
                url: "rtsp://cam/1".into(),
                udp: false,
            },
            None,
        );
        assert!(
            rtsp.contains("-rtsp_transport tcp -timeout 10000000"),
            "{rtsp}"
        );
        assert!(rtsp.ends_with("-i rtsp://cam/1 -map 0:v:0 -an -sn -dn -fps_mode passthrough -pix_fmt yuv420p -f rawvideo pipe:1"), "{rtsp}");
        let udp = joined(
            &Input::Rtsp {
                url: "rtsp://cam/1".into(),
                udp: true,
            },
            Some(10),
        );
        assert!(
            udp.contains("-rtsp_transport udp") && udp.contains("-vf fps=10"),
            "{udp}"
        );
        let srt = joined(
            &Input::Network {
                url: "srt://h:9000".into(),
            },
            None,
        );
        assert!(
            srt.contains("-rw_timeout 10000000") && !srt.contains("rtsp"),
            "{srt}"
        );
        let file = joined(
            &Input::File {
                path: "a:b.mp4".into(),
                pace: Pace::Realtime,
                repeat: true,
            },
            None,
        );
        assert!(
            file.contains("-re -stream_loop -1 -i file:a:b.mp4"),
            "{file}"
        );
        let fast = joined(
            &Input::File {
                path: "x.ts".into(),
                pace: Pace::AsFastAsRead,
                repeat: false,
            },
            None,
        );
        assert!(
            !fast.contains("-re ") && !fast.contains("stream_loop"),
            "{fast}"
        );
    }
}
