//! `facerecd bench streams`: what reading camera streams costs. Each
//! camera is a supervised ffmpeg source with its analysis copy, read as
//! fast as it delivers; in the same run ffmpeg decodes the same stream to
//! nothing (`-f null`), the floor any reader pays.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use facerec_camera::{AnalysisSize, SourceSpec, SupervisorOptions};

use super::table;

/// CPU seconds of this process and of its finished children.
fn cpu() -> (f64, f64) {
    let of = |who| {
        // SAFETY: getrusage only writes the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        t(u.ru_utime) + t(u.ru_stime)
    };
    (of(libc::RUSAGE_SELF), of(libc::RUSAGE_CHILDREN))
}

fn test_file(dir: &std::path::Path, seconds: u64) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join("bench-1080p25-h264.mp4");
    let status = std::process::Command::new(facerec_camera::ffmpeg::program())
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size=1920x1080:rate=25:duration={}",
            seconds + 5
        ))
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-pix_fmt", "yuv420p",
        ])
        .arg(&path)
        .status()
        .context("cannot run ffmpeg to make the test stream (apt-get install ffmpeg)")?;
    if !status.success() {
        bail!("ffmpeg could not encode the test stream");
    }
    Ok(path)
}

pub fn run(
    source: Option<&str>,
    cameras: usize,
    seconds: u64,
    min_face: f32,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (spec, floor_input) = match source {
        Some(s) => {
            let spec = SourceSpec::parse_short(s).map_err(anyhow::Error::msg)?;
            anyhow::ensure!(spec.is_ffmpeg(), "{s} is not a stream ffmpeg reads");
            (
                spec,
                s.strip_prefix("file:")
                    .or(s.strip_prefix("file-fast:"))
                    .unwrap_or(s)
                    .to_string(),
            )
        }
        None => {
            eprintln!("making a {}-second 1080p25 H.264 test stream…", seconds + 5);
            let file = test_file(dir.path(), seconds)?;
            let f = file.display().to_string();
            // At its own rate, as a camera delivers it.
            (
                SourceSpec::parse_short(&format!("file:{f}")).map_err(anyhow::Error::msg)?,
                f,
            )
        }
    };
    let analysis = AnalysisSize {
        scale: (facerec_vision::SMALLEST_FACE / min_face).min(1.0),
        max_side: 1920,
    };
    let options = SupervisorOptions {
        analysis,
        ..Default::default()
    };

    // Our reader: supervised ffmpeg sources and their analysis copies.
    let (self0, children0) = cpu();
    let started = Instant::now();
    let feeds: Vec<_> = (0..cameras)
        .map(|i| facerec_camera::supervisor::spawn(&format!("bench{i}"), spec.clone(), options))
        .collect();
    // Counted from the first frame of each, so start-up is not in the rate.
    let deadline = Instant::now() + Duration::from_secs(30);
    while feeds.iter().any(|f| f.status().frames == 0) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "no frames: {:?}",
            feeds[0].status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let first: Vec<u64> = feeds.iter().map(|f| f.status().frames).collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let read_secs = t0.elapsed().as_secs_f64();
    let frames: Vec<u64> = feeds
        .iter()
        .zip(&first)
        .map(|(f, a)| f.status().frames - a)
        .collect();
    let description = feeds[0].status().description.unwrap_or_default();
    let sample = feeds[0].frames.borrow().clone();
    // A child's CPU counts once it is reaped, which a source does when its
    // thread stops.
    feeds.iter().for_each(|f| f.stop());
    let deadline = Instant::now() + Duration::from_secs(10);
    while feeds
        .iter()
        .any(|f| f.status().state != facerec_camera::SourceState::Stopped)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(feeds);
    let wall = started.elapsed().as_secs_f64();
    let (self1, children1) = cpu();
    let ours = (self1 - self0) + (children1 - children0);

    // The floor: ffmpeg decoding the same stream to nothing, realtime.
    let (_, c0) = cpu();
    let floor_started = Instant::now();
    let status = std::process::Command::new(facerec_camera::ffmpeg::program())
        .args([
            "-loglevel",
            "error",
            "-re",
            "-threads",
            "1",
            "-i",
            &floor_input,
            "-t",
            &seconds.to_string(),
            "-f",
            "null",
            "-",
        ])
        .status()?;
    anyhow::ensure!(status.success(), "ffmpeg could not decode {floor_input}");
    let floor_wall = floor_started.elapsed().as_secs_f64();
    let (_, c1) = cpu();
    let floor = c1 - c0;

    let total: u64 = frames.iter().sum();
    let per_camera_fps = total as f64 / read_secs / cameras as f64;
    let mut t = table(&["", "value"]);
    t.add_row(vec!["stream".to_string(), description]);
    if let Some(f) = sample {
        t.add_row(vec![
            "analysis copy".to_string(),
            format!(
                "{}×{} (faces cut from the full frame)",
                f.image.width(),
                f.image.height()
            ),
        ]);
    }
    t.add_row(vec!["cameras".to_string(), cameras.to_string()]);
    t.add_row(vec![
        "frames read per camera per s".to_string(),
        format!("{per_camera_fps:.1}"),
    ]);
    t.add_row(vec![
        "CPU, all cameras (cores)".to_string(),
        format!("{:.2}", ours / wall),
    ]);
    t.add_row(vec![
        "CPU per camera (cores)".to_string(),
        format!("{:.3}", ours / wall / cameras as f64),
    ]);
    t.add_row(vec![
        "ffmpeg -f null, same stream (cores)".to_string(),
        format!("{:.3}", floor / floor_wall),
    ]);
    t.add_row(vec![
        "per camera ÷ floor".to_string(),
        format!(
            "{:.2}×",
            (ours / wall / cameras as f64) / (floor / floor_wall).max(1e-6)
        ),
    ]);
    println!("{t}");
    Ok(())
}
