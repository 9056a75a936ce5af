//! The facerecd binary as a person runs it.

use std::process::Command;

fn facerecd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facerecd"));
    // A developer's environment must not leak into these runs.
    for var in [
        "FACEREC_CONFIG",
        "FACEREC_DATA_ROOT",
        "PRIMARY_DOMAIN",
        "ALLOWED_DOMAINS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn example_domains() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/domains.json")
}

#[test]
fn every_command_explains_itself() {
    let (ok, top, _) = run(facerecd().arg("--help"));
    assert!(ok);
    for word in [
        "hub",
        "edge",
        "domains",
        "token",
        "config",
        "PRIMARY_DOMAIN",
        "ALLOWED_DOMAINS",
    ] {
        assert!(top.contains(word), "--help lacks {word}");
    }
    for sub in [
        vec!["hub"],
        vec!["edge"],
        vec!["domains"],
        vec!["domains", "import"],
        vec!["domains", "create"],
        vec!["domains", "datasets"],
        vec!["token", "new"],
        vec!["config", "show"],
    ] {
        let (ok, help, _) = run(facerecd().args(&sub).arg("--help"));
        assert!(ok, "{sub:?} --help failed");
        assert!(
            help.lines().count() > 5,
            "{sub:?} --help is too thin:\n{help}"
        );
    }
}

#[test]
fn importing_the_example_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let file = example_domains();
    let (ok, first, err) = run(facerecd()
        .args(["--data-root", root, "domains", "import"])
        .arg(&file));
    assert!(ok, "{err}");
    assert!(
        first.contains("created:") && first.contains("slovenia") && first.contains("sports_global"),
        "{first}"
    );
    let (ok, second, _) = run(facerecd()
        .args(["--data-root", root, "domains", "import"])
        .arg(&file));
    assert!(ok);
    assert!(second.contains("nothing to change"), "{second}");
    assert!(!second.contains("created:"), "{second}");

    let (ok, order, _) =
        run(facerecd().args(["--data-root", root, "domains", "datasets", "slovenia"]));
    assert!(ok);
    assert!(order.contains("slovenia → croatia → serbia"), "{order}");
    let (ok, list, _) = run(facerecd().args(["--data-root", root, "domains", "list", "--json"]));
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 5);
}

#[test]
fn errors_name_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"domains": {"Serbia": {}}}"#).unwrap();
    let (ok, _, err) = run(facerecd()
        .args(["--data-root", root, "domains", "import"])
        .arg(&bad));
    assert!(!ok);
    assert!(err.contains("bad.json") && err.contains("Serbia"), "{err}");
    let (ok, _, err) = run(facerecd().args([
        "--data-root",
        root,
        "domains",
        "import",
        "/no/such/file.json",
    ]));
    assert!(!ok);
    assert!(err.contains("/no/such/file.json"), "{err}");
    let cfg = dir.path().join("facerec.toml");
    std::fs::write(&cfg, "listen = 'not an address'").unwrap();
    let (ok, _, err) = run(facerecd()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"]));
    assert!(!ok);
    assert!(
        err.contains("facerec.toml") && err.contains("listen"),
        "{err}"
    );
    let (ok, _, err) = run(facerecd()
        .args(["--data-root", root])
        .env("PRIMARY_DOMAIN", "Greece")
        .args(["config", "show"]));
    assert!(!ok);
    assert!(err.contains("PRIMARY_DOMAIN"), "{err}");
}

#[test]
fn token_new_prints_a_config_entry_that_validates() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(facerecd().args([
        "token",
        "new",
        "--name",
        "rs-broadcaster",
        "--domain",
        "serbia",
    ]));
    assert!(ok, "{err}");
    let token = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("token: ")
        .unwrap()
        .to_string();
    let snippet: String = out
        .lines()
        .skip_while(|l| !l.starts_with("[[tokens]]"))
        .collect::<Vec<_>>()
        .join("\n");
    let cfg = dir.path().join("facerec.toml");
    std::fs::write(&cfg, &snippet).unwrap();
    let (ok, _, err) = run(facerecd()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"]));
    assert!(ok, "{err}\n{snippet}");
    let (ok, hash, _) = run(facerecd().args(["token", "hash", &token]));
    assert!(ok);
    assert!(
        snippet.contains(hash.trim()),
        "the printed hash is the token's"
    );
}

fn sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/faces")
        .join(name)
}

#[test]
fn faces_commands_answer_in_json() {
    let (ok, out, err) = run(facerecd()
        .args(["faces", "compare"])
        .arg(sample("img16.jpg"))
        .arg(sample("img17.jpg")));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The default pack (sface-v1) is judged by its own cosine threshold:
    // this pair's Euclidean distance is near dlib's 0.6, which must not
    // decide it.
    assert_eq!(
        (&v["pack"], &v["metric"]),
        (&"sface-v1".into(), &"cosine".into())
    );
    assert_eq!(v["same"], true, "{v}");
    assert!(v["score"].as_f64().unwrap() >= 0.45, "{v}");
    assert_eq!(v["threshold"], 0.45);
    let (ok, out, _) = run(facerecd()
        .args(["faces", "compare"])
        .arg(sample("img16.jpg"))
        .arg(sample("img12.jpg")));
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["same"], false, "{v}");
    assert!(v["score"].as_f64().unwrap() < 0.45, "{v}");
    // Another pack by name, before or after the subcommand.
    for args in [
        &["faces", "--pack", "dlib-v1", "compare"][..],
        &["faces", "compare", "--pack", "dlib-v1"][..],
    ] {
        let (ok, out, err) = run(facerecd()
            .args(args)
            .arg(sample("img16.jpg"))
            .arg(sample("img17.jpg")));
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (&v["pack"], &v["threshold"]),
            (&"dlib-v1".into(), &0.6.into())
        );
        assert_eq!(v["same"], true, "{v}");
        assert!(v["distance"].as_f64().unwrap() < 0.6);
    }
    let (ok, _, err) = run(facerecd()
        .args(["faces", "--pack", "arcface-v9", "detect"])
        .arg(sample("img12.jpg")));
    assert!(!ok);
    assert!(
        err.contains("arcface-v9") && err.contains("sface-v1"),
        "{err}"
    );

    let (ok, out, _) = run(facerecd().args(["faces", "embed"]).arg(sample("img12.jpg")));
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let faces = v["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0]["descriptor"].as_array().unwrap().len(), 128);
    assert_eq!(faces[0]["landmarks"].as_array().unwrap().len(), 5);
    assert!(faces[0]["refused"].is_null(), "a clear face passes: {v}");

    // A blurred copy is still detected, and says why it would not be used.
    let dir = tempfile::tempdir().unwrap();
    let blurred = dir.path().join("blurred.png");
    let photo = image::open(sample("img12.jpg")).unwrap().to_rgb8();
    image::imageops::blur(&photo, 6.0).save(&blurred).unwrap();
    let (ok, out, err) = run(facerecd().args(["faces", "detect"]).arg(&blurred));
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let reasons: Vec<&str> = v["faces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["refused"]["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"blurred"), "{v}");
}

#[test]
fn faces_errors_name_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a photo").unwrap();
    let (ok, _, err) = run(facerecd().args(["faces", "detect"]).arg(&text));
    assert!(!ok);
    assert!(
        err.contains("notes.txt") && err.contains("not a supported image"),
        "{err}"
    );
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let (ok, _, err) = run(facerecd().args(["faces", "embed"]).arg(&empty));
    assert!(!ok);
    assert!(err.contains("empty.jpg") && err.contains("empty"), "{err}");
    let blank = dir.path().join("blank.png");
    image::RgbImage::new(64, 64).save(&blank).unwrap();
    let (ok, _, err) = run(facerecd()
        .args(["faces", "compare"])
        .arg(&blank)
        .arg(sample("img12.jpg")));
    assert!(!ok);
    assert!(err.contains("blank.png: no face found"), "{err}");
    let (ok, _, err) = run(facerecd()
        .args(["--models-dir", "/nonexistent", "faces", "detect"])
        .arg(sample("img12.jpg")));
    assert!(!ok);
    assert!(err.contains("/nonexistent"), "{err}");
}

#[test]
fn batch_verify_without_a_key_creates_nothing_and_says_what_is_missing() {
    let work = tempfile::tempdir().unwrap();
    let batch = work.path().join("serbia_1");
    std::fs::create_dir(&batch).unwrap();
    let (ok, _, err) = run(facerecd()
        .current_dir(work.path())
        .args(["batch", "verify"])
        .arg(&batch));
    assert!(!ok);
    assert!(
        err.contains("--public-key") && err.contains("no hub key"),
        "{err}"
    );
    // No data root, no signing key made on the way.
    assert!(!work.path().join("data").exists());
}

#[test]
fn config_show_includes_mqtt_as_each_role_resolves_it_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("facerec.toml");
    let key = "11".repeat(32);
    std::fs::write(
        &cfg,
        format!(
            "[mqtt]\nbroker = \"mqtt://broker.example:1883\"\nusername = \"edge\"\npassword = \"s3cret-pass\"\nhub_public_keys = [\"{key}\"]\n"
        ),
    )
    .unwrap();
    let (ok, out, err) = run(facerecd()
        .arg("--config")
        .arg(&cfg)
        .args(["config", "show"]));
    assert!(ok, "{err}");
    assert!(
        out.contains("[mqtt.hub]") && out.contains("[mqtt.edge]"),
        "{out}"
    );
    assert!(
        out.contains("broker.example") && out.contains(&key),
        "{out}"
    );
    assert!(out.contains("username = \"edge\""), "{out}");
    assert!(
        !out.contains("s3cret-pass"),
        "the password is never printed:\n{out}"
    );
}

#[test]
fn a_hub_starts_cleanly_without_an_error_in_its_log() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (http, mqtt) = (
        crate::sync_fixtures::free_port(),
        crate::sync_fixtures::free_port(),
    );
    let cfg = dir.path().join("facerec.toml");
    std::fs::write(
        &cfg,
        format!("[mqtt]\nembedded_listen = \"127.0.0.1:{mqtt}\"\n"),
    )
    .unwrap();
    let mut hub = facerecd()
        .arg("--config")
        .arg(&cfg)
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .args(["--listen", &format!("127.0.0.1:{http}"), "hub"])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Ready once /healthz answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let healthy = std::net::TcpStream::connect(("127.0.0.1", http)).is_ok_and(|mut s| {
            let _ = write!(
                s,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            answer.starts_with("HTTP/1.1 200")
        });
        if healthy {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hub never became healthy"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    hub.kill().unwrap();
    let mut log = String::new();
    hub.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    hub.wait().unwrap();
    assert!(log.contains("embedded MQTT broker listening"), "{log}");
    assert!(
        !log.contains("ERROR"),
        "a clean start logged an error:\n{log}"
    );
}
