//! Review, batch and erasure endpoints: their checks and empty-domain
//! behaviour (the full pipeline on real photos is in training_pipeline.rs).

mod common;

use common::*;
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
