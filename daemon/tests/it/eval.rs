//! `facerecd eval` on the bundled samples, whose answers are known by
//! counting: 10 photos of 5 people (1, 2, 4, 1 and 2 photos), so 8
//! same-person pairs of 45; the people with two or more photos (3) are
//! enrolled in two folds, giving 4 gallery photos, 4 enrolled probes and 12
//! stranger probes; and two "no-face" images: one without a face, and a
//! photo of an enrolled person filed there by mistake, which must be boxed
//! and named.

use std::path::Path;
use std::process::Command;

#[test]
fn eval_on_the_samples_gives_the_counted_answers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let no_faces = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("vision/tests/fixtures/yunet/coffee.png"),
        no_faces.path().join("coffee.png"),
    )
    .unwrap();
    std::fs::copy(
        root.join("samples/faces/img51.jpg"),
        no_faces.path().join("misfiled.jpg"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_facerecd"))
        .env_remove("FACEREC_CONFIG")
        .args(["eval", "--json", "--labelled"])
        .arg(root.join("samples/faces"))
        .arg("--no-faces")
        .arg(no_faces.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["identities"], 5);
    let packs = report["packs"].as_array().unwrap();
    assert_eq!(packs.len(), 2, "every pack by default");
    for p in packs {
        let name = p["pack"].as_str().unwrap();
        let d = &p["detection"];
        assert_eq!(
            (
                d["labelled_photos"].as_u64(),
                d["photos_with_a_face"].as_u64()
            ),
            (Some(10), Some(10)),
            "{name}"
        );
        let boxed = d["boxes_on_no_face_images"].as_array().unwrap();
        assert_eq!(boxed.len(), 1, "{name}: {boxed:?}");
        assert!(boxed[0][0].as_str().unwrap().ends_with("misfiled.jpg"));
        assert_eq!(d["no_face_boxes_passing_the_gate"], 1, "{name}");
        let named = d["no_face_boxes_named"].as_array().unwrap();
        assert_eq!(named.len(), 1, "{name}: {named:?}");
        assert_eq!(named[0][1], "faces/person_03", "{name}");
        let v = &p["verification"];
        assert_eq!(
            (v["genuine_pairs"].as_u64(), v["impostor_pairs"].as_u64()),
            (Some(8), Some(37)),
            "{name}"
        );
        assert_eq!(v["at_threshold"]["accuracy"], 1.0, "{name}");
        let o = &p["open_set"];
        assert_eq!(
            (
                o["gallery_photos"].as_u64(),
                o["enrolled_probes"].as_u64(),
                o["stranger_probes"].as_u64()
            ),
            (Some(4), Some(4), Some(12)),
            "{name}"
        );
        assert_eq!(o["rank1"], 1.0, "{name}");
        assert_eq!(
            (o["correctly_named"].as_u64(), o["strangers_named"].as_u64()),
            (Some(4), Some(0)),
            "{name}"
        );
    }

    // A folder without labelled photos is a clear error naming it.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_facerecd"))
        .env_remove("FACEREC_CONFIG")
        .args(["eval", "--labelled"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no labelled photos") && err.contains(&*empty.path().to_string_lossy()),
        "{err}"
    );
}

/// The face-size sweep shrinks each photo until its face is the size asked
/// for: at 24 px the default gate (40 px) refuses every face as too small,
/// at 64 px none; the photos are the same ten either way.
#[test]
fn a_face_size_sweep_evaluates_each_size_on_shrunk_faces() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_facerecd"))
        .env_remove("FACEREC_CONFIG")
        .args([
            "eval",
            "--json",
            "--packs",
            "sface-v1",
            "--face-sizes",
            "24,64",
            "--labelled",
        ])
        .arg(root.join("samples/faces"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let detection = |i: usize| &rows[i]["report"]["packs"][0]["detection"];
    assert_eq!(rows[0]["face_size"], 24);
    assert_eq!(rows[1]["face_size"], 64);
    let found_small = detection(0)["photos_with_a_face"].as_u64().unwrap();
    assert!(found_small >= 8, "{}", detection(0));
    assert_eq!(
        detection(0)["gate_refusals"]["too_small"],
        found_small,
        "{}",
        detection(0)
    );
    assert!(
        detection(1)["gate_refusals"].get("too_small").is_none(),
        "{}",
        detection(1)
    );
    assert_eq!(detection(1)["photos_with_a_face"], 10);
}
