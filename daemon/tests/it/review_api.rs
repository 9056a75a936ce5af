//! Review, batch and erasure endpoints: their checks and empty-domain
//! behaviour (the full pipeline on real photos is in training_pipeline.rs).

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn review_and_batch_endpoints_check_domain_person_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    hub.create("serbia").await;
    hub.create("greece").await;

    // Nothing approved: no batch, and the answer says so.
    let resp = hub
        .post_json("/api/domains/serbia/batches", SERBIA, json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["built"], false);
    problem(
        hub.post_json("/api/domains/greece/batches", SERBIA, json!({}))
            .await,
        403,
    )
    .await;
    problem(
        hub.post_json("/api/domains/atlantis/batches", ADMIN, json!({}))
            .await,
        404,
    )
    .await;

    let detail = problem(
        hub.post_json(
            "/api/training/approve",
            SERBIA,
            json!({"domain": "serbia", "people": ["nobody"]}),
        )
        .await,
        422,
    )
    .await;
    assert!(detail.contains("no faces in staging"), "{detail}");
    problem(
        hub.post_json(
            "/api/training/approve",
            SERBIA,
            json!({"domain": "serbia", "people": ["../x"]}),
        )
        .await,
        422,
    )
    .await;
    problem(
        hub.post_json(
            "/api/training/reject",
            SERBIA,
            json!({"domain": "greece", "people": ["a"]}),
        )
        .await,
        403,
    )
    .await;

    let staging: Value = hub
        .get("/api/training/staging?domain=serbia", SERBIA)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staging, json!([]));

    let resp = hub
        .req(
            Method::DELETE,
            "/api/domains/serbia/people/nobody",
            Some(SERBIA),
        )
        .send()
        .await
        .unwrap();
    problem(resp, 404).await;
    hub.stop().await;
}

#[tokio::test]
async fn uploads_store_images_by_their_bytes_and_report_each_file() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    hub.create("serbia").await;
    hub.create("greece").await;
    let photo = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/faces/img12.jpg"),
    )
    .unwrap();
    let form = |domain: &str| {
        reqwest::multipart::Form::new()
            .text("domain", domain.to_string())
            .text("person", "ana_ivanovic")
            .text("name", "Ana Ivanović")
            .part(
                "files",
                reqwest::multipart::Part::bytes(photo.clone()).file_name("ana.jpg"),
            )
            .part(
                "files",
                reqwest::multipart::Part::bytes(photo.clone()).file_name("same.jpg"),
            )
            .part(
                "files",
                reqwest::multipart::Part::bytes(b"just text".to_vec()).file_name("evil.jpg"),
            )
    };
    let resp = hub
        .req(Method::POST, "/api/training/images", Some(SERBIA))
        .multipart(form("serbia"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let outcomes: Vec<&str> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["added", "duplicate", "refused"]);
    assert!(
        body["files"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("not a JPEG")
    );
    let stats: Value = hub
        .get("/api/domains/serbia/stats", SERBIA)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_images"], 1);
    assert_eq!(stats["total_people"], 1);

    let resp = hub
        .req(Method::POST, "/api/training/images", Some(SERBIA))
        .multipart(form("greece"))
        .send()
        .await
        .unwrap();
    problem(resp, 403).await;
    let resp = hub
        .req(Method::POST, "/api/training/images", Some(SERBIA))
        .multipart(reqwest::multipart::Form::new().text("person", "x"))
        .send()
        .await
        .unwrap();
    let detail = problem(resp, 422).await;
    assert!(detail.contains("domain"), "{detail}");
    hub.stop().await;
}

/// The job at `location` once it is no longer running (within 60 s).
async fn job_done(hub: &Node, location: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let j: Value = hub.get(location, SERBIA).await.json().await.unwrap();
        if j["state"] != "running" {
            return j;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job is still running: {j}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn upload_process_job_approve_and_batch_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    hub.create("serbia").await;
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/faces");
    let mut form = reqwest::multipart::Form::new()
        .text("domain", "serbia")
        .text("person", "person_05");
    for f in ["img16.jpg", "img17.jpg"] {
        let bytes = std::fs::read(samples.join(f)).unwrap();
        form = form.part("files", reqwest::multipart::Part::bytes(bytes).file_name(f));
    }
    let resp = hub
        .req(Method::POST, "/api/training/images", Some(SERBIA))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let resp = hub
        .post_json("/api/training/process", SERBIA, json!({"domain": "serbia"}))
        .await;
    assert_eq!(resp.status(), 202);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["total"], 2);
    let finished = job_done(&hub, &location).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["done"], 2);
    assert_eq!(finished["result"]["staged"], 2, "{finished}");
    problem(hub.get(&location, GREECE).await, 404).await;

    let staging: Value = hub
        .get("/api/training/staging?domain=serbia", SERBIA)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staging[0]["person"]["id"], "person_05");
    assert_eq!(staging[0]["staged"].as_array().unwrap().len(), 2);

    let resp = hub
        .post_json(
            "/api/training/approve",
            SERBIA,
            json!({"domain": "serbia", "people": ["person_05"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = hub
        .post_json("/api/domains/serbia/batches", SERBIA, json!({}))
        .await;
    assert_eq!(resp.status(), 201);
    let built: Value = resp.json().await.unwrap();
    assert_eq!(built["batch"]["seq"], 1);
    assert_eq!(built["batch"]["descriptors"], 2);
    let stats: Value = hub
        .get("/api/domains/serbia/stats", SERBIA)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["production_batches"], 1);

    // A new photo of the published person: after processing, review shows
    // its face (approving the person would take it).
    let bytes = std::fs::read(samples.join("img62.jpg")).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("domain", "serbia")
        .text("person", "person_05")
        .part(
            "files",
            reqwest::multipart::Part::bytes(bytes).file_name("img62.jpg"),
        );
    let resp = hub
        .req(Method::POST, "/api/training/images", Some(SERBIA))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = hub
        .post_json("/api/training/process", SERBIA, json!({"domain": "serbia"}))
        .await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let finished = job_done(&hub, &location).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    let staging: Value = json(
        hub.get("/api/training/staging?domain=serbia", SERBIA).await,
        200,
    )
    .await;
    assert_eq!(staging[0]["person"]["id"], "person_05", "{staging}");
    assert_eq!(staging[0]["person"]["status"], "production", "{staging}");
    assert_eq!(
        staging[0]["staged"].as_array().unwrap().len(),
        1,
        "{staging}"
    );
    hub.stop().await;
}

/// Sends a raw HTTP request, streaming `body_mib` MiB of a multipart body
/// in chunks when `chunked` (else declaring it in Content-Length and
/// sending none); returns the status line and the response's headers and
/// body text.
fn raw_upload(base: &str, chunked: bool, body_mib: usize) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let length = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {}", body_mib << 20)
    };
    write!(
        s,
        "POST /api/training/images HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: multipart/form-data; boundary=XX\r\n{length}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    if chunked {
        let head =
            "--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.jpg\"\r\n\r\n";
        let _ = write!(s, "{:x}\r\n{head}\r\n", head.len());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..body_mib {
            // The server may answer and close before the end.
            if write!(s, "{:x}\r\n", chunk.len()).is_err()
                || s.write_all(&chunk).is_err()
                || s.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
        let _ = s.write_all(b"0\r\n\r\n");
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_problems_whether_declared_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    hub.create("serbia").await;
    for chunked in [false, true] {
        let base = hub.base.clone();
        let answer = tokio::task::spawn_blocking(move || raw_upload(&base, chunked, 210))
            .await
            .unwrap();
        let status = answer.lines().next().unwrap_or_default();
        assert!(status.contains(" 413 "), "chunked {chunked}: {answer:.600}");
        assert!(
            answer.contains("application/problem+json") && answer.contains("\"status\":413"),
            "chunked {chunked}: {answer:.600}"
        );
    }
    // The hub still serves.
    json(hub.get("/api/domains/serbia", ADMIN).await, 200).await;
    hub.stop().await;
}

#[tokio::test]
async fn half_sent_requests_are_closed_and_connections_are_bounded() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), None, &[]);
    config.http_limits = facerec_api::http_server::ServeLimits {
        header_timeout: std::time::Duration::from_millis(500),
        max_connections: 4,
    };
    let hub = Node::start(&config, facerec_node::Role::Hub).await;
    let addr = hub.base.trim_start_matches("http://").to_string();
    let answers = tokio::task::spawn_blocking(move || {
        // Four clients that never finish their headers hold every slot…
        let mut slow: Vec<std::net::TcpStream> = (0..4)
            .map(|_| {
                let mut s = std::net::TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                    .unwrap();
                write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
                s
            })
            .collect();
        // …a fifth, complete request waits for a slot…
        let mut fifth = std::net::TcpStream::connect(&addr).unwrap();
        fifth
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        write!(
            fifth,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        // …and each slow one is closed by the server (its read ends rather
        // than timing out on our side).
        let closed: Vec<bool> = slow
            .iter_mut()
            .map(|s| {
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).is_ok()
            })
            .collect();
        let mut answer = String::new();
        fifth.read_to_string(&mut answer).unwrap();
        (closed, answer)
    })
    .await
    .unwrap();
    assert_eq!(
        answers.0,
        vec![true; 4],
        "every half-sent request was closed"
    );
    assert!(answers.1.starts_with("HTTP/1.1 200"), "{}", answers.1);
    hub.stop().await;
}
