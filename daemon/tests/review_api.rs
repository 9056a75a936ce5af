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
