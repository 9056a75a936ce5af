//! IP cameras end to end: an edge reading two RTSP cameras (H.264 and
//! H.265 at 1280×960, encoded by ffmpeg from the live test's clip of real
//! photos) from GStreamer's RTSP server on loopback names the enrolled
//! people on both, reports boxes in the source's pixels, says why a third
//! camera with a wrong password cannot stream — and no password appears
//! in any API answer.
//!
//! Needs ffmpeg and GStreamer's RTSP server (see `.ci/run`); skipped
//! without them unless FACEREC_REQUIRE_VIDEO is set.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use facerec_camera::{Secret, SourceSpec};
use facerec_live::{CameraConfig, LiveSettings};
use facerec_node::Role;
use facerec_storage::{NewDomain, Store};
use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::live::{appeared, clip_frames, enrol, read_sse, write_frames};

const PASSWORD: &str = "Door-Cam-9f2";

fn video_tools() -> bool {
    let ffmpeg = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let gst = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0')",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !(ffmpeg && gst) {
        assert!(
            std::env::var_os("FACEREC_REQUIRE_VIDEO").is_none(),
            "ffmpeg or GStreamer's RTSP server is missing and FACEREC_REQUIRE_VIDEO is set"
        );
        eprintln!("skipped: ffmpeg or GStreamer's RTSP server is not installed");
    }
    ffmpeg && gst
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn camera(id: &str, port: u16, mount: &str, password: &str) -> CameraConfig {
    CameraConfig {
        id: id.into(),
        source: SourceSpec::Rtsp {
            url: format!("rtsp://127.0.0.1:{port}/{mount}"),
            username: Some("door".into()),
            password: Some(Secret(password.into())),
            transport: Default::default(),
            fps: None,
            stall_timeout_ms: 5000,
            ffmpeg_input_args: vec![],
        },
        domain: None,
        // Faces of 40 px at the source's resolution and up: the 1280×960
        // stream is analysed at 640×480 and faces are cut from the full frame.
        settings: LiveSettings {
            lost_after_ms: 600,
            ..Default::default()
        },
        masks: vec![],
        analysis_max_side: 1920,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtsp_cameras_of_both_codecs_name_people_and_never_show_a_password() {
    if !video_tools() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let clips = tempfile::tempdir().unwrap();
    let frames = clips.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    write_frames(&frames, &clip_frames());
    for (name, codec) in [("h264", "libx264"), ("h265", "libx265")] {
        let status = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-framerate", "10", "-i"])
            .arg(frames.join("frame%04d.jpg"))
            .args([
                "-vf",
                "scale=1280:960",
                "-c:v",
                codec,
                "-preset",
                "veryfast",
                "-g",
                "10",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(
                ["-x265-params", "log-level=error"]
                    .iter()
                    .filter(|_| codec == "libx265"),
            )
            .arg(clips.path().join(format!("{name}.mp4")))
            .status()
            .unwrap();
        assert!(status.success(), "ffmpeg could not encode {name}");
    }
    let port = crate::sync_fixtures::free_port();
    let mut child = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/rtsp-server"
        ))
        .args([
            "--port",
            &port.to_string(),
            "--user",
            "door",
            "--password",
            PASSWORD,
            "--loop",
        ])
        .arg(format!("h264={}", clips.path().join("h264.mp4").display()))
        .arg(format!("h265={}", clips.path().join("h265.mp4").display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let _server = Server(child);
    assert!(ready.starts_with("ready"), "{ready}");

    {
        let store = Store::open(root.path()).unwrap();
        store.create_domain(NewDomain::named("serbia")).unwrap();
        store.create_domain(NewDomain::named("greece")).unwrap();
    }
    {
        let mut config = config(root.path(), Some("serbia"), &[]);
        config.cameras = vec![];
        let edge = Node::start(&config, Role::Edge).await;
        let s = edge.server.as_ref().unwrap();
        enrol(&s.store, s.index.as_ref().unwrap());
        edge.stop().await;
    }
    let mut config = config(root.path(), Some("serbia"), &[]);
    config.cameras = vec![
        camera("gate264", port, "h264", PASSWORD),
        camera("gate265", port, "h265", PASSWORD),
        camera("wrong", port, "h264", "not-the-password"),
    ];
    let edge = Node::start(&config, Role::Edge).await;
    let sse = edge
        .req(Method::GET, "/api/events", Some(SERBIA))
        .send()
        .await
        .unwrap();
    let named = |e: &[(String, Value)], cam: &str, person: &str| {
        appeared(e)
            .iter()
            .any(|v| v["camera"] == cam && v["person"]["id"] == person)
    };
    let events = read_sse(sse, Duration::from_secs(120), |e| {
        ["gate264", "gate265"]
            .iter()
            .all(|c| named(e, c, "person_05") && named(e, c, "person_03"))
    })
    .await;
    let summary: Vec<String> = events
        .iter()
        .map(|(k, v)| format!("{k} {} {} {}", v["camera"], v["person"]["id"], v["box"]))
        .collect();
    for cam in ["gate264", "gate265"] {
        for person in ["person_05", "person_03"] {
            assert!(
                named(&events, cam, person),
                "{cam} never named {person}: {summary:#?}"
            );
        }
    }
    // Boxes are in the source's pixels: beyond the 640×480 analysis copy.
    let boxes: Vec<&Value> = appeared(&events).iter().map(|v| &v["box"]).collect();
    assert!(
        boxes
            .iter()
            .all(|b| b["x2"].as_f64().unwrap() <= 1280.0 && b["y2"].as_f64().unwrap() <= 960.0)
    );
    assert!(
        boxes.iter().any(|b| b["y2"].as_f64().unwrap() > 480.0),
        "{boxes:?}"
    );
    // Nobody is named by a camera the wrong password keeps out.
    assert!(!events.iter().any(|(_, v)| v["camera"] == "wrong"));

    let cameras = loop {
        let cameras = json(edge.get("/api/cameras", SERBIA).await, 200).await;
        let wrong = cameras
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "wrong")
            .unwrap()
            .clone();
        if wrong["source"]["reason"].is_string() {
            break cameras;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text = cameras.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains("not-the-password"),
        "{text}"
    );
    for c in cameras.as_array().unwrap() {
        let source = &c["source"];
        match c["id"].as_str().unwrap() {
            "wrong" => assert_eq!(source["reason"], "401 wrong credentials", "{c}"),
            _ => {
                assert_eq!(source["state"], "running", "{c}");
                let d = source["description"].as_str().unwrap();
                assert!(d.contains("1280×960") && d.contains("***@"), "{d}");
            }
        }
    }
    let metrics = edge.get("/metrics", ADMIN).await.text().await.unwrap();
    assert!(!metrics.contains(PASSWORD));
    assert!(
        metrics.contains(r#"facerec_camera_state{camera="wrong",reason="401 wrong credentials",state="reconnecting"} 1"#),
        "{}",
        metrics.lines().filter(|l| l.contains("camera_state")).collect::<Vec<_>>().join("\n")
    );
    edge.stop().await;
}
