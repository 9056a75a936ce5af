//! A node whose disk fills up refuses writes with 503, says not ready, and
//! recovers by itself once space is back — on a real, small tmpfs. Needs
//! the right to mount (root with CAP_SYS_ADMIN, as in CI's containers);
//! elsewhere it says so and checks nothing (the same recovery is tested on
//! every machine with a filling redb backend: storage/tests/io_recovery.rs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{ADMIN, Node};

/// A mounted tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Self(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` to the last byte.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.write_all(&[0u8; 512]);
    let _ = f.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_503_and_not_ready_until_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(dir.path(), "16m") else {
        eprintln!(
            "cannot mount a tmpfs here: the full-disk test needs root (see storage/tests/io_recovery.rs for the same recovery)"
        );
        return;
    };
    let root = dir.path().join("data");
    let hub = Node::hub(&root).await;
    assert_eq!(hub.create("serbia").await.status(), 201);

    let filler = fill(dir.path());
    let mut refused = 0;
    for code in ["greece", "croatia", "slovenia"] {
        let resp = hub.create(code).await;
        assert_eq!(resp.status(), 503, "{code}");
        refused += 1;
    }
    assert_eq!(refused, 3);
    let ready = hub
        .req(reqwest::Method::GET, "/readyz", None)
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("disk full"),
        "{body}"
    );
    // What was stored before is still served.
    let domains = hub.get("/api/domains", ADMIN).await;
    assert_eq!(domains.status(), 200);

    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = hub
            .req(reqwest::Method::GET, "/readyz", None)
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hub.create("croatia").await.status(), 201);
    let listed: serde_json::Value = hub.get("/api/domains", ADMIN).await.json().await.unwrap();
    let codes: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["croatia", "serbia"],
        "nothing half-written was kept"
    );
    hub.stop().await;
}
