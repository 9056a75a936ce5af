//! The domain registry API on a real server: CRUD, validation, datasets,
//! stats, persistence and concurrency.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn create_get_list_patch_delete() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::hub(dir.path()).await;

    let resp = node
        .post_json(
            "/api/domains",
            ADMIN,
            json!({"domain_code": "serbia", "display_name": "Serbia", "default_country": "RS",
                   "default_occupations": ["actor", "athlete"], "filter": "sitelinks >= 50"}),
        )
        .await;
    assert_eq!(resp.headers()["location"], "/api/domains/serbia");
    let created = json(resp, 201).await;
    assert_eq!(created["domain_code"], "serbia");
    assert_eq!(
        created["pack"], "sface-v1",
        "new domains get the default pack"
    );
    assert_eq!(created["countries"], json!(["RS"]));
    assert!(
        created["training_path"]
            .as_str()
            .unwrap()
            .ends_with("training/serbia")
    );
    assert!(
        created["staging_path"]
            .as_str()
            .unwrap()
            .ends_with("trainingPass/serbia")
    );
    assert!(dir.path().join("recognized_faces_batched/serbia").is_dir());

    let dup = problem(node.create("serbia").await, 409).await;
    assert!(dup.contains("already exists"), "{dup}");

    let got = json(node.get("/api/domains/serbia", ADMIN).await, 200).await;
    assert_eq!(got["filter"], "sitelinks >= 50");
    let list = json(node.get("/api/domains", ADMIN).await, 200).await;
    assert_eq!(
        list,
        json!([{"code": "serbia", "name": "Serbia", "total_people": 0, "total_images": 0, "is_active": true}])
    );

    // A filter that cannot run is refused when written, with the filter
    // plugin's own reason, and the domain keeps its filter.
    let bad = node
        .req(Method::PATCH, "/api/domains/serbia", Some(ADMIN))
        .json(&json!({"filter": "sitelinks >>= 50"}))
        .send()
        .await
        .unwrap();
    let detail = problem(bad, 422).await;
    assert!(
        detail.contains("sitelinks-filter") && detail.contains(">>="),
        "{detail}"
    );
    let got = json(node.get("/api/domains/serbia", ADMIN).await, 200).await;
    assert_eq!(got["filter"], "sitelinks >= 50");
    let bad_new = node
        .post_json(
            "/api/domains",
            ADMIN,
            json!({"domain_code": "greece", "filter": "occupation in actor"}),
        )
        .await;
    problem(bad_new, 422).await;
    problem(node.get("/api/domains/greece", ADMIN).await, 404).await;

    let patched = node
        .req(Method::PATCH, "/api/domains/serbia", Some(ADMIN))
        .json(&json!({"display_name": "Srbija", "is_active": false}))
        .send()
        .await
        .unwrap();
    let patched = json(patched, 200).await;
    assert_eq!(patched["display_name"], "Srbija");
    assert_eq!(patched["is_active"], false);
    assert_eq!(patched["default_country"], "RS", "untouched fields stay");
    let bad_patch = node
        .req(Method::PATCH, "/api/domains/serbia", Some(ADMIN))
        .json(&json!({"display_nam": "typo"}))
        .send()
        .await
        .unwrap();
    assert!(problem(bad_patch, 422).await.contains("display_nam"));
    // A pack changes only by re-embedding, never by a PATCH.
    let pack_patch = node
        .req(Method::PATCH, "/api/domains/serbia", Some(ADMIN))
        .json(&json!({"pack": "dlib-v1"}))
        .send()
        .await
        .unwrap();
    assert!(problem(pack_patch, 422).await.contains("pack"));

    let stats = json(node.get("/api/domains/serbia/stats", ADMIN).await, 200).await;
    assert_eq!(
        stats,
        json!({"domain": "serbia", "total_people": 0, "total_images": 0, "images_from_wikimedia": 0,
               "images_from_serp": 0, "production_batches": 0, "last_batch_at": null})
    );

    let del = node
        .req(Method::DELETE, "/api/domains/serbia", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    problem(node.get("/api/domains/serbia", ADMIN).await, 404).await;
    problem(
        node.req(Method::DELETE, "/api/domains/serbia", Some(ADMIN))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    node.stop().await;
}

#[tokio::test]
async fn invalid_codes_and_bodies_are_422_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::hub(dir.path()).await;
    let long = "a".repeat(51);
    for (code, reason) in [
        ("", "empty"),
        ("../x", "start with"),
        ("Serbia", "start with"),
        ("serBia", "not allowed"),
        (long.as_str(), "longer than 50"),
        ("србија", "start with"),
        ("ser bia", "not allowed"),
    ] {
        let detail = problem(node.create(code).await, 422).await;
        assert!(detail.contains(reason), "{code:?}: {detail}");
    }
    // Nothing was created, and no folder escaped the data root.
    assert_eq!(
        json(node.get("/api/domains", ADMIN).await, 200).await,
        json!([])
    );
    assert!(!dir.path().parent().unwrap().join("x").exists());

    // Path segments are validated the same way.
    problem(node.get("/api/domains/Serbia", ADMIN).await, 422).await;
    problem(node.get("/api/domains/..%2Fx", ADMIN).await, 422).await;

    let bad_json = node
        .req(Method::POST, "/api/domains", Some(ADMIN))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(bad_json, 400).await;
    let no_code = node
        .post_json("/api/domains", ADMIN, json!({"display_name": "x"}))
        .await;
    assert!(problem(no_code, 422).await.contains("domain_code"));
    let bad_country = node
        .post_json(
            "/api/domains",
            ADMIN,
            json!({"domain_code": "greece", "default_country": "Hellas"}),
        )
        .await;
    let bad_country = json(bad_country, 422).await;
    assert!(bad_country["detail"].as_str().unwrap().contains("Hellas"));
    // Forms show the detail next to the field the problem names.
    assert_eq!(bad_country["field"], "default_country", "{bad_country}");
    let bad_code = json(node.create("ser bia").await, 422).await;
    assert_eq!(bad_code["field"], "domain_code", "{bad_code}");
    let bad_pack = node
        .post_json(
            "/api/domains",
            ADMIN,
            json!({"domain_code": "greece", "pack": "arcface-v9"}),
        )
        .await;
    let detail = problem(bad_pack, 422).await;
    assert!(
        detail.contains("arcface-v9") && detail.contains("dlib-v1, sface-v1"),
        "{detail}"
    );
    let not_json = node
        .req(Method::POST, "/api/domains", Some(ADMIN))
        .body("domain_code=x")
        .send()
        .await
        .unwrap();
    problem(not_json, 415).await;
    problem(node.get("/api/nothing-here", ADMIN).await, 404).await;
    node.stop().await;
}

#[tokio::test]
async fn datasets_order_and_cycle_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::hub(dir.path()).await;
    for d in ["slovenia", "croatia", "serbia"] {
        json(node.create(d).await, 201).await;
    }
    let put = |code: &'static str, body: serde_json::Value| {
        node.req(
            Method::PUT,
            &format!("/api/domains/{code}/datasets"),
            Some(ADMIN),
        )
        .json(&body)
        .send()
    };
    let set = json(
        put(
            "slovenia",
            json!([{"domain": "serbia", "priority": 2}, {"domain": "croatia", "priority": 1}]),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        set,
        json!([{"domain": "croatia", "priority": 1}, {"domain": "serbia", "priority": 2}])
    );
    assert_eq!(
        json(node.get("/api/domains/slovenia/datasets", ADMIN).await, 200).await,
        set
    );

    let cycle = problem(
        put("serbia", json!([{"domain": "slovenia", "priority": 1}]))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(cycle.contains("cycle"), "{cycle}");
    let unknown = problem(
        put("serbia", json!([{"domain": "atlantis", "priority": 1}]))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(unknown.contains("atlantis"), "{unknown}");
    let itself = problem(
        put("serbia", json!([{"domain": "serbia", "priority": 1}]))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(itself.contains("itself"), "{itself}");
    let dup = problem(
        put(
            "serbia",
            json!([{"domain": "croatia", "priority": 1}, {"domain": "croatia", "priority": 2}]),
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(dup.contains("twice"), "{dup}");
    problem(put("atlantis", json!([])).await.unwrap(), 404).await;

    // Inherited domains cannot be deleted from under their inheritors.
    let del = node
        .req(Method::DELETE, "/api/domains/croatia", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert!(problem(del, 409).await.contains("inherited by slovenia"));
    node.stop().await;
}

#[tokio::test]
async fn delete_with_people_needs_purge() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = facerec_storage::Store::open(dir.path()).unwrap();
        store
            .create_domain(facerec_storage::NewDomain::named("greece"))
            .unwrap();
        store
            .upsert_person(
                &facerec_storage::DomainCode::parse("greece").unwrap(),
                facerec_storage::NewPerson {
                    id: facerec_storage::PersonId::parse("giannis_antetokounmpo").unwrap(),
                    display_name: "Giannis Antetokounmpo".into(),
                    status: facerec_storage::PersonStatus::Candidate,
                    wikidata_id: Some("Q3308549".into()),
                    country: Some("GR".into()),
                    occupations: vec!["basketball player".into()],
                    sitelinks: Some(90),
                    image_urls: vec![],
                },
            )
            .unwrap();
    }
    let node = Node::hub(dir.path()).await;
    let stats = json(node.get("/api/domains/greece/stats", ADMIN).await, 200).await;
    assert_eq!(stats["total_people"], 1);
    let list = json(node.get("/api/domains", GREECE).await, 200).await;
    assert_eq!(list[0]["total_people"], 1);
    let refused = node
        .req(Method::DELETE, "/api/domains/greece", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert!(problem(refused, 409).await.contains("purge=true"));
    let purged = node
        .req(
            Method::DELETE,
            "/api/domains/greece?purge=true",
            Some(ADMIN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 204);
    assert!(!dir.path().join("training/greece").exists());
    let bad = node
        .req(
            Method::DELETE,
            "/api/domains/greece?purge=maybe",
            Some(ADMIN),
        )
        .send()
        .await
        .unwrap();
    problem(bad, 400).await;
    node.stop().await;
}

#[tokio::test]
async fn registry_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::hub(dir.path()).await;
    json(node.create("greece").await, 201).await;
    json(node.create("cyprus").await, 201).await;
    let put = node
        .req(Method::PUT, "/api/domains/cyprus/datasets", Some(ADMIN))
        .json(&json!([{"domain": "greece", "priority": 1}]))
        .send()
        .await
        .unwrap();
    json(put, 200).await;
    node.stop().await;

    let node = Node::hub(dir.path()).await;
    let list = json(node.get("/api/domains", ADMIN).await, 200).await;
    let codes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["cyprus", "greece"]);
    let ds = json(node.get("/api/domains/cyprus/datasets", ADMIN).await, 200).await;
    assert_eq!(ds, json!([{"domain": "greece", "priority": 1}]));
    node.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_creates() {
    let dir = tempfile::tempdir().unwrap();
    let node = std::sync::Arc::new(Node::hub(dir.path()).await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let distinct = node.create(&format!("domain_{i}")).await.status().as_u16();
            let same = node.create("contested").await.status().as_u16();
            (distinct, same)
        }));
    }
    let mut same_codes = Vec::new();
    for t in tasks {
        let (distinct, same) = t.await.unwrap();
        assert_eq!(distinct, 201);
        same_codes.push(same);
    }
    assert_eq!(
        same_codes.iter().filter(|s| **s == 201).count(),
        1,
        "{same_codes:?}"
    );
    assert_eq!(
        same_codes.iter().filter(|s| **s == 409).count(),
        49,
        "{same_codes:?}"
    );
    let list = json(node.get("/api/domains", ADMIN).await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 51);
    std::sync::Arc::into_inner(node).unwrap().stop().await;
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::hub(dir.path()).await;
    let resp = node
        .req(Method::GET, "/api/openapi.json", None)
        .send()
        .await
        .unwrap();
    let doc = json(resp, 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, methods) in [
        ("/api/domains", &["get", "post"][..]),
        ("/api/domains/{code}", &["get", "patch", "delete"][..]),
        ("/api/domains/{code}/stats", &["get"][..]),
        ("/api/domains/{code}/datasets", &["get", "put"][..]),
        ("/healthz", &["get"][..]),
    ] {
        for m in methods {
            assert!(
                doc["paths"][path][m].is_object(),
                "{m} {path} missing from OpenAPI"
            );
        }
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let recognize_params: Vec<&str> = doc["paths"]["/api/recognize"]["post"]["parameters"]
        .as_array()
        .expect("recognize parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(recognize_params, ["min_face", "quality"]);
    assert!(doc["components"]["schemas"]["RefusedFace"].is_object());
    let health = json(
        node.req(Method::GET, "/healthz", None)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(health["role"], "hub");
    node.stop().await;
}
