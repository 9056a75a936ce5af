//! `POST /api/training/generate-candidates` on a real hub: the bundled
//! plugins (installed by the hub on start) run against a loopback server
//! answering SPARQL in Wikidata's result shape.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::common::*;
use serde_json::{Value, json};

const ANSWER: &str = r#"{"results": {"bindings": [
  {"person": {"value": "http://www.wikidata.org/entity/Q5812"},
   "personLabel": {"value": "Novak Đoković"},
   "sitelinks": {"value": "150"},
   "image": {"value": "http://commons.wikimedia.org/wiki/Special:FilePath/Novak.jpg"},
   "occupationLabel": {"value": "tennis player"}},
  {"person": {"value": "http://www.wikidata.org/entity/Q77"},
   "personLabel": {"value": "Niche Player"},
   "sitelinks": {"value": "8"},
   "occupationLabel": {"value": "tennis player"}}
]}}"#;

/// A SPARQL endpoint on loopback; returns its URL.
fn fake_wikidata() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sparql", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/sparql-results+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ANSWER}",
                ANSWER.len()
            );
        }
    });
    url
}

fn serbia_with_plugins(endpoint: &str) -> Value {
    json!({
        "domain_code": "serbia",
        "default_country": "RS",
        "default_occupations": ["tennis player"],
        "filter": "sitelinks >= 50",
        "plugins": {
            "sources": [{"name": "wikidata-source", "config": {"endpoint": endpoint}}],
            "http_allowlist": [endpoint]
        }
    })
}

/// Runs the domain's candidate plugins as the admin.
async fn generate(hub: &Node, body: Value) -> reqwest::Response {
    hub.post_json("/api/training/generate-candidates", ADMIN, body)
        .await
}

/// Creates serbia with the csv source over `csv` (and `extra` fields).
async fn serbia_from_csv(hub: &Node, csv: &str, extra: Value) {
    let mut body = json!({"domain_code": "serbia", "default_country": "RS",
                          "plugins": {"sources": [{"name": "csv-source", "config": {"csv": csv}}]}});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    assert_eq!(
        hub.post_json("/api/domains", ADMIN, body).await.status(),
        201
    );
}

#[tokio::test]
async fn candidates_run_sources_then_filters_and_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    let endpoint = fake_wikidata();
    let resp = hub
        .post_json("/api/domains", ADMIN, serbia_with_plugins(&endpoint))
        .await;
    assert_eq!(resp.status(), 201);

    let resp = hub
        .post_json(
            "/api/training/generate-candidates",
            SERBIA,
            json!({"domain": "serbia"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["counts"]["generated"], 2);
    assert_eq!(
        report["counts"]["kept"], 1,
        "the domain's filter drops the niche player"
    );
    assert_eq!(report["counts"]["new"], 1);
    assert_eq!(report["dropped"][0]["reason"], "sitelinks 8 < 50");
    assert_eq!(report["dropped"][0]["filter"], "sitelinks-filter");
    let novak = &report["candidates"][0];
    assert_eq!(novak["person_id"], "novak_dokovic");
    assert_eq!(novak["wikidata_id"], "Q5812");
    assert_eq!(novak["status"], "candidate");
    let runs = report["plugins"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r["elapsed_ms"].as_f64().unwrap() >= 0.0)
    );

    // A second run finds the same person: known, not duplicated.
    let again: Value = hub
        .post_json(
            "/api/training/generate-candidates",
            ADMIN,
            json!({"domain": "serbia"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["counts"]["new"], 0);
    assert_eq!(again["counts"]["known"], 1);
    let stats: Value = hub
        .get("/api/domains/serbia/stats", ADMIN)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_people"], 1);
    hub.stop().await;
}

#[tokio::test]
async fn candidate_requests_are_checked_before_any_plugin_runs() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    hub.post_json(
        "/api/domains",
        ADMIN,
        serbia_with_plugins("https://query.wikidata.org/sparql"),
    )
    .await;
    hub.create("greece").await;
    let path = "/api/training/generate-candidates";

    let detail = problem(
        hub.post_json(path, SERBIA, json!({"country": "RS"})).await,
        422,
    )
    .await;
    assert!(detail.contains("domain"), "{detail}");
    problem(
        hub.post_json(path, ADMIN, json!({"domain": "atlantis"}))
            .await,
        404,
    )
    .await;
    problem(
        hub.post_json(path, SERBIA, json!({"domain": "greece"}))
            .await,
        403,
    )
    .await;
    problem(
        hub.post_json(path, ADMIN, json!({"domain": "../etc"}))
            .await,
        422,
    )
    .await;
    let detail = problem(
        hub.post_json(path, ADMIN, json!({"domain": "greece"}))
            .await,
        422,
    )
    .await;
    assert!(detail.contains("no candidate sources"), "{detail}");
    let detail = problem(
        hub.post_json(path, ADMIN, json!({"domain": "serbia", "limit": 0}))
            .await,
        422,
    )
    .await;
    assert!(detail.contains("limit"), "{detail}");
    hub.stop().await;
}

#[tokio::test]
async fn a_failing_plugin_is_a_502_naming_it_and_the_hub_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    // The endpoint is not on the allowlist: the plugin's request is denied.
    let mut body = serbia_with_plugins("http://127.0.0.1:9/sparql");
    body["plugins"]["http_allowlist"] = json!(["https://query.wikidata.org/"]);
    hub.post_json("/api/domains", ADMIN, body).await;
    let detail = problem(generate(&hub, json!({"domain": "serbia"})).await, 502).await;
    assert!(detail.contains("plugin 'wikidata-source'"), "{detail}");
    assert!(detail.contains("denied"), "{detail}");
    assert_eq!(hub.get("/healthz", ADMIN).await.status(), 200);
    hub.stop().await;
}

#[tokio::test]
async fn one_unusable_row_from_a_source_is_dropped_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    let csv = "name,wikidata_id,country,occupations\nAna Actor,Q100,RS,actor\nBroken Row,X42,RS,actor\nIvan Singer,Q200,RS,singer\n";
    serbia_from_csv(&hub, csv, json!({})).await;
    let report = json(generate(&hub, json!({"domain": "serbia"})).await, 200).await;
    assert_eq!(report["counts"]["new"], 2, "{report:#}");
    let dropped = report["dropped"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{report:#}");
    assert_eq!(dropped[0]["name"], "Broken Row");
    assert_eq!(dropped[0]["filter"], "csv-source");
    let reason = dropped[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("row 1") && reason.contains("Q42"),
        "{reason}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_failing_filter_stores_nothing_and_says_what_the_sources_returned() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    let csv = "name,wikidata_id,country,occupations\nAna Actor,Q100,RS,actor\nIvan Singer,Q200,RS,singer\n";
    serbia_from_csv(&hub, csv, json!({"filter": "sitelinks >= 0"})).await;
    // The filter's file is replaced by something that is no filter.
    let plugins = dir.path().join("plugins");
    std::fs::copy(
        plugins.join("csv-source.wasm"),
        plugins.join("sitelinks-filter.wasm"),
    )
    .unwrap();
    let detail = problem(generate(&hub, json!({"domain": "serbia"})).await, 502).await;
    assert!(detail.contains("plugin 'sitelinks-filter'"), "{detail}");
    assert!(
        detail.contains("nothing was stored: the sources returned 2 candidates (csv-source 2)"),
        "{detail}"
    );
    let people = json(hub.get("/api/domains/serbia/stats", ADMIN).await, 200).await;
    assert_eq!(people["total_people"], 0);
    hub.stop().await;
}

#[tokio::test]
async fn a_source_gets_at_most_its_limit_through() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Node::hub(dir.path()).await;
    let csv = "name,wikidata_id,country,occupations\nA One,Q1,RS,actor\nB Two,Q2,RS,actor\nC Three,Q3,RS,actor\n";
    serbia_from_csv(&hub, csv, json!({})).await;
    let report = json(
        generate(&hub, json!({"domain": "serbia", "limit": 1})).await,
        200,
    )
    .await;
    // (A source that ignores its limit has the rest set aside by the host:
    // plugin-host's `ids_never_merge_two_people_and_the_limit_holds`.)
    assert_eq!(report["counts"]["generated"], 1, "{report:#}");
    assert_eq!(report["counts"]["new"], 1, "{report:#}");
    hub.stop().await;
}
