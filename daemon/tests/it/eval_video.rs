//! `facerecd eval montage` and `eval video` end to end, on real photos of
//! ../shared/data/eval: hard cuts between different enrolled people whose
//! faces take the previous face's place — the case that once carried a
//! name onto another face — must give no wrong name at all.

use std::path::PathBuf;
use std::process::Command;

fn facerecd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_facerecd"))
        .env_remove("FACEREC_CONFIG")
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cuts_between_enrolled_people_never_show_a_wrong_name() {
    let Some(photos) = crate::common::shared_data("data/eval/photos", "bbt_raj") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("m");
    let out = facerecd(&[
        "eval",
        "montage",
        "--photos",
        photos.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--people",
        "4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clip = out_dir.join("clip");
    // The same clip as a motion-JPEG stream, its truth beside it.
    let mut frames: Vec<PathBuf> = std::fs::read_dir(&clip)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    frames.sort();
    let mjpeg = work.path().join("montage.mjpeg");
    let stream: Vec<u8> = frames
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    std::fs::write(&mjpeg, stream).unwrap();
    std::fs::copy(
        clip.join("truth.csv"),
        work.path().join("montage.truth.csv"),
    )
    .unwrap();
    // And as if shot at 240 fps: no frame interval leaves time to embed
    // after detecting, so every embedding overlaps the next detection
    // (the pipeline's fast path) — with the same guarantees.
    let fast = work.path().join("montage-240fps.mjpeg");
    std::fs::copy(&mjpeg, &fast).unwrap();
    let truth = std::fs::read_to_string(clip.join("truth.csv")).unwrap();
    assert!(truth.starts_with("# fps="), "{truth}");
    let rest = truth.split_once('\n').unwrap().1;
    std::fs::write(
        work.path().join("montage-240fps.truth.csv"),
        format!("# fps=240\n{rest}"),
    )
    .unwrap();

    // And as a video file (H.264 in MP4), decoded by ffmpeg at the
    // truth's rate, its truth beside it.
    let fps = truth[6..truth.find('\n').unwrap()].trim().to_string();
    let video = work.path().join("montage-video.mp4");
    let have_ffmpeg = std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        have_ffmpeg || std::env::var_os("FACEREC_REQUIRE_VIDEO").is_none(),
        "ffmpeg is missing and FACEREC_REQUIRE_VIDEO is set"
    );
    if have_ffmpeg {
        let encoded = std::process::Command::new("ffmpeg")
            .args([
                "-loglevel",
                "error",
                "-y",
                "-framerate",
                &fps,
                "-pattern_type",
                "glob",
                "-i",
            ])
            .arg(format!("{}/*.jpg", clip.display()))
            .args([
                "-c:v", "libx264", "-crf", "16", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ])
            .arg(&video)
            .status()
            .unwrap();
        assert!(encoded.success());
        std::fs::copy(
            clip.join("truth.csv"),
            work.path().join("montage-video.truth.csv"),
        )
        .unwrap();
    }

    let gallery = out_dir.join("gallery");
    let mut args = vec![
        "eval",
        "video",
        "--json",
        "--gallery",
        gallery.to_str().unwrap(),
        clip.to_str().unwrap(),
        mjpeg.to_str().unwrap(),
        fast.to_str().unwrap(),
    ];
    if have_ffmpeg {
        args.push(video.to_str().unwrap());
    }
    let out = facerecd(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["gallery_people"], 4, "{report:#}");
    let clips = report["clips"].as_array().unwrap();
    assert_eq!(clips.len(), if have_ffmpeg { 4 } else { 3 });
    for c in clips {
        let summary = format!("{c:#}");
        assert_eq!(c["frames"], frames.len(), "{summary}");
        // 4 people × 2 shots each.
        assert_eq!(c["appearances"], 8, "{summary}");
        assert_eq!(c["wrong_name_frames"], 0, "{summary}");
        assert_eq!(c["wrong_name_events"], 0, "{summary}");
        assert_eq!(c["missed"], serde_json::json!([]), "{summary}");
        assert!(
            c["max_time_to_name_s"].as_f64().unwrap() <= 1.0,
            "{summary}"
        );
        assert!(
            c["max_switches_per_person"].as_u64().unwrap() <= 1,
            "{summary}"
        );
        assert!(c["stranger_frames"].as_u64().unwrap() > 0, "{summary}");
        // Cuts that put a face where the previous one was were caught on
        // the face itself (the others start new tracks by position).
        assert!(
            c["lost_reasons"]["face_changed"].as_u64().unwrap() >= 1,
            "{summary}"
        );
        // Every track that appeared was lost, once.
        assert_eq!(
            c["events"]["track_appeared"], c["events"]["track_lost"],
            "{summary}"
        );
    }
    assert_eq!(clips[0]["wrong_names"], clips[1]["wrong_names"]);
    assert_eq!(clips[0]["wrong_names"], clips[2]["wrong_names"]);
}

#[test]
fn a_bad_ground_truth_is_refused_naming_the_file_and_line() {
    let clip = tempfile::tempdir().unwrap();
    image::RgbImage::new(64, 48)
        .save(clip.path().join("f0001.png"))
        .unwrap();
    std::fs::write(
        clip.path().join("truth.csv"),
        "# fps=10\n0,5,ana\n9,2,ana\n",
    )
    .unwrap();
    let gallery = tempfile::tempdir().unwrap();
    let out = facerecd(&[
        "eval",
        "video",
        "--gallery",
        gallery.path().to_str().unwrap(),
        clip.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("truth.csv") && err.contains("line 3") && err.contains("before"),
        "{err}"
    );
}
