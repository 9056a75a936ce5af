//! Client isolation: tokens, the X-Client-Domain header, Host subdomains,
//! and an edge's own domain set.

use crate::common::*;
use facerec_node::Role;
use reqwest::Method;
use serde_json::json;

async fn hub_with_domains(root: &std::path::Path) -> Node {
    let node = Node::hub(root).await;
    for d in ["serbia", "croatia", "slovenia", "greece"] {
        json(node.create(d).await, 201).await;
    }
    node
}

fn codes(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let node = hub_with_domains(dir.path()).await;
    let none = node
        .req(Method::GET, "/api/domains", None)
        .send()
        .await
        .unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert!(problem(none, 401).await.contains("Authorization"));
    problem(node.get("/api/domains", "not-a-token").await, 401).await;
    problem(
        node.get("/api/domains/serbia", &format!("{SERBIA}x")).await,
        401,
    )
    .await;
    let basic = node
        .req(Method::GET, "/api/domains", None)
        .header("authorization", format!("Basic {SERBIA}"))
        .send()
        .await
        .unwrap();
    problem(basic, 401).await;
    node.stop().await;
}

#[tokio::test]
async fn a_serbian_client_sees_only_serbia() {
    let dir = tempfile::tempdir().unwrap();
    let node = hub_with_domains(dir.path()).await;

    assert_eq!(
        codes(&json(node.get("/api/domains", SERBIA).await, 200).await),
        ["serbia"]
    );
    json(node.get("/api/domains/serbia", SERBIA).await, 200).await;
    json(node.get("/api/domains/serbia/stats", SERBIA).await, 200).await;

    // Another client's domain, and one that does not exist, answer alike.
    let greece = problem(node.get("/api/domains/greece", SERBIA).await, 403).await;
    let atlantis = problem(node.get("/api/domains/atlantis", SERBIA).await, 403).await;
    assert_eq!(
        greece.replace("greece", "X"),
        atlantis.replace("atlantis", "X")
    );
    problem(node.get("/api/domains/greece/stats", SERBIA).await, 403).await;
    problem(node.get("/api/domains/greece/datasets", SERBIA).await, 403).await;

    // Narrowing to greece by header or by subdomain cannot widen the token.
    let by_header = node
        .req(Method::GET, "/api/domains/greece", Some(SERBIA))
        .header("X-Client-Domain", "greece")
        .send()
        .await
        .unwrap();
    problem(by_header, 403).await;
    let list_by_header = node
        .req(Method::GET, "/api/domains", Some(SERBIA))
        .header("X-Client-Domain", "greece")
        .send()
        .await
        .unwrap();
    problem(list_by_header, 403).await;
    let by_host = node
        .req(Method::GET, "/api/domains", Some(SERBIA))
        .header("Host", format!("greece.{PUBLIC_HOST}"))
        .send()
        .await
        .unwrap();
    problem(by_host, 403).await;
    let own_host = node
        .req(Method::GET, "/api/domains", Some(SERBIA))
        .header("Host", format!("serbia.{PUBLIC_HOST}"))
        .send()
        .await
        .unwrap();
    assert_eq!(codes(&json(own_host, 200).await), ["serbia"]);

    // Registry changes need an admin token.
    let create = node
        .post_json("/api/domains", SERBIA, json!({"domain_code": "kosovo"}))
        .await;
    assert!(problem(create, 403).await.contains("admin"));
    let patch = node
        .req(Method::PATCH, "/api/domains/serbia", Some(SERBIA))
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    problem(patch, 403).await;
    let delete = node
        .req(Method::DELETE, "/api/domains/serbia", Some(SERBIA))
        .send()
        .await
        .unwrap();
    problem(delete, 403).await;
    node.stop().await;
}

#[tokio::test]
async fn header_and_subdomain_narrow_a_multi_domain_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = hub_with_domains(dir.path()).await;
    let mut all = codes(&json(node.get("/api/domains", BALKAN).await, 200).await);
    all.sort();
    assert_eq!(all, ["croatia", "serbia"]);

    let narrowed = node
        .req(Method::GET, "/api/domains", Some(BALKAN))
        .header("X-Client-Domain", "croatia")
        .send()
        .await
        .unwrap();
    assert_eq!(codes(&json(narrowed, 200).await), ["croatia"]);
    let other = node
        .req(Method::GET, "/api/domains/serbia", Some(BALKAN))
        .header("X-Client-Domain", "croatia")
        .send()
        .await
        .unwrap();
    problem(other, 403).await;
    // Two headers: which one counts is ambiguous, so neither does.
    let twice = node
        .req(Method::GET, "/api/domains", Some(BALKAN))
        .header("X-Client-Domain", "croatia")
        .header("X-Client-Domain", "serbia")
        .send()
        .await
        .unwrap();
    let detail = problem(twice, 400).await;
    assert!(detail.contains("more than once"), "{detail}");
    let by_host = node
        .req(Method::GET, "/api/domains", Some(BALKAN))
        .header("Host", format!("serbia.{PUBLIC_HOST}:8443"))
        .send()
        .await
        .unwrap();
    assert_eq!(codes(&json(by_host, 200).await), ["serbia"]);
    let conflict = node
        .req(Method::GET, "/api/domains", Some(BALKAN))
        .header("Host", format!("serbia.{PUBLIC_HOST}"))
        .header("X-Client-Domain", "croatia")
        .send()
        .await
        .unwrap();
    assert!(problem(conflict, 403).await.contains("conflicts"));
    let malformed = node
        .req(Method::GET, "/api/domains", Some(BALKAN))
        .header("X-Client-Domain", "../serbia")
        .send()
        .await
        .unwrap();
    problem(malformed, 400).await;

    // An admin narrowed to one domain manages only that one.
    let admin_narrowed = node
        .req(Method::PATCH, "/api/domains/greece", Some(ADMIN))
        .header("X-Client-Domain", "serbia")
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    problem(admin_narrowed, 403).await;
    node.stop().await;
}

#[tokio::test]
async fn an_edge_refuses_domains_outside_its_set() {
    let dir = tempfile::tempdir().unwrap();
    hub_with_domains(dir.path()).await.stop().await;

    let cfg = config(dir.path(), Some("slovenia"), &["croatia", "serbia"]);
    let edge = Node::start(&cfg, Role::Edge).await;
    let health = json(
        edge.req(Method::GET, "/healthz", None)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(health["role"], "edge");
    let mut listed = codes(&json(edge.get("/api/domains", ADMIN).await, 200).await);
    listed.sort();
    assert_eq!(
        listed,
        ["croatia", "serbia", "slovenia"],
        "greece is not served here"
    );
    let refused = problem(edge.get("/api/domains/greece", ADMIN).await, 403).await;
    assert!(refused.contains("edge node does not serve"), "{refused}");
    problem(edge.get("/api/domains/greece", GREECE).await, 403).await;
    problem(
        edge.post_json("/api/domains", ADMIN, json!({"domain_code": "cyprus"}))
            .await,
        403,
    )
    .await;
    let inherit_greece = edge
        .req(Method::PUT, "/api/domains/slovenia/datasets", Some(ADMIN))
        .json(&json!([{"domain": "greece", "priority": 1}]))
        .send()
        .await
        .unwrap();
    problem(inherit_greece, 403).await;
    json(edge.get("/api/domains/serbia", SERBIA).await, 200).await;
    edge.stop().await;
}

#[tokio::test]
async fn an_edge_without_its_domain_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), None, &[]);
    let err = facerecd::server::start(&cfg, Role::Edge)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("PRIMARY_DOMAIN"), "{err}");
}
