//! The real bundled plugins, built from `plugins/` and run in the real host.

mod common;

use common::*;
use facerec_plugin_host::{Candidate, PluginErrorKind, PluginKind, PluginLimits};

/// Two rows for Novak (two occupations), one for a less-linked person, in
/// the shape query.wikidata.org answers.
const SPARQL_ANSWER: &str = r#"{
  "head": {"vars": ["person","personLabel","personDescription","sitelinks","image","occupationLabel"]},
  "results": {"bindings": [
    {"person": {"type":"uri","value":"http://www.wikidata.org/entity/Q1000"},
     "personLabel": {"type":"literal","value":"Minor Actor"},
     "sitelinks": {"type":"literal","value":"12"},
     "occupationLabel": {"type":"literal","value":"actor"}},
    {"person": {"type":"uri","value":"http://www.wikidata.org/entity/Q5812"},
     "personLabel": {"type":"literal","value":"Novak Djokovic"},
     "personDescription": {"type":"literal","value":"Serbian tennis player"},
     "sitelinks": {"type":"literal","value":"150"},
     "image": {"type":"uri","value":"http://commons.wikimedia.org/wiki/Special:FilePath/Novak%20Djokovic.jpg"},
     "occupationLabel": {"type":"literal","value":"tennis player"}},
    {"person": {"type":"uri","value":"http://www.wikidata.org/entity/Q5812"},
     "personLabel": {"type":"literal","value":"Novak Djokovic"},
     "sitelinks": {"type":"literal","value":"150"},
     "image": {"type":"uri","value":"http://commons.wikimedia.org/wiki/Special:FilePath/Novak%20Djokovic.jpg"},
     "occupationLabel": {"type":"literal","value":"actor"}}
  ]}
}"#;

#[test]
fn wikidata_source_queries_sparql_and_folds_rows_into_people() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let server = serve(200, "application/sparql-results+json", SPARQL_ANSWER.into());
    let endpoint = format!("{}/sparql", server.base);
    let config = format!(r#"{{"endpoint": "{endpoint}", "language": "sr"}}"#);
    let got = host
        .generate("wikidata-source", &grants(&[&endpoint]), &query(&config))
        .unwrap()
        .candidates;

    assert_eq!(got.len(), 2, "{got:?}");
    let novak = &got[0];
    assert_eq!(novak.name, "Novak Djokovic");
    assert_eq!(novak.wikidata_id.as_deref(), Some("Q5812"));
    assert_eq!(novak.sitelinks, Some(150));
    assert_eq!(novak.country.as_deref(), Some("RS"));
    assert_eq!(novak.occupations, ["tennis player", "actor"]);
    assert_eq!(
        novak.image_urls,
        ["https://commons.wikimedia.org/wiki/Special:FilePath/Novak%20Djokovic.jpg"]
    );
    assert_eq!(got[1].wikidata_id.as_deref(), Some("Q1000"));

    let requests = server.requests.lock().unwrap();
    let sent = decode(&requests[0]);
    assert!(sent.starts_with("GET /sparql?format=json&query="), "{sent}");
    assert!(
        sent.contains(r#"wdt:P297 "RS""#),
        "country filter missing: {sent}"
    );
    assert!(
        sent.contains("wd:Q33999"),
        "actor occupation missing: {sent}"
    );
    assert!(sent.contains("LIMIT 50"), "{sent}");
    assert!(sent.contains(r#"wikibase:language "sr,en""#), "{sent}");
}

#[test]
fn wikidata_source_is_denied_an_endpoint_off_the_allowlist() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let server = serve(200, "application/json", SPARQL_ANSWER.into());
    let config = format!(r#"{{"endpoint": "{}/sparql"}}"#, server.base);
    let err = host
        .generate(
            "wikidata-source",
            &grants(&["https://query.wikidata.org/"]),
            &query(&config),
        )
        .unwrap_err();
    assert_eq!(err.plugin, "wikidata-source");
    assert!(matches!(err.kind, PluginErrorKind::Failed(_)), "{err}");
    assert!(err.to_string().contains("denied"), "{err}");
    assert!(
        server.requests.lock().unwrap().is_empty(),
        "the request must never leave the host"
    );
}

#[test]
fn wikidata_source_reports_endpoint_errors_and_unknown_occupations() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let server = serve(503, "text/plain", b"service overloaded".to_vec());
    let endpoint = format!("{}/sparql", server.base);
    let config = format!(r#"{{"endpoint": "{endpoint}"}}"#);
    let err = host
        .generate("wikidata-source", &grants(&[&endpoint]), &query(&config))
        .unwrap_err();
    assert!(
        err.to_string().contains("HTTP 503") && err.to_string().contains("overloaded"),
        "{err}"
    );

    let mut q = query(&config);
    q.occupations = vec!["astronaut-chef".into()];
    let err = host
        .generate("wikidata-source", &grants(&[&endpoint]), &q)
        .unwrap_err();
    assert!(err.to_string().contains("unknown occupation"), "{err}");
}

fn candidate(name: &str, sitelinks: Option<u32>, occupations: &[&str]) -> Candidate {
    Candidate {
        id: String::new(),
        name: name.into(),
        wikidata_id: None,
        country: Some("RS".into()),
        occupations: occupations.iter().map(|s| s.to_string()).collect(),
        sitelinks,
        image_urls: vec![],
        description: None,
        attributes: vec![],
    }
}

#[test]
fn sitelinks_filter_keeps_by_expression_and_says_why() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let people = [
        candidate("Famous Actor", Some(120), &["actor"]),
        candidate("Obscure Actor", Some(12), &["actor"]),
        candidate("Famous Chef", Some(300), &["chef"]),
        candidate("Unknown Links", None, &["athlete"]),
    ];
    let config = r#"{"expression": "sitelinks >= 50 and occupation in [actor, athlete]"}"#;
    let decisions = host
        .filter("sitelinks-filter", &grants(&[]), &query(config), &people)
        .unwrap();
    let kept: Vec<bool> = decisions.iter().map(|d| d.keep).collect();
    assert_eq!(kept, [true, false, false, false]);
    assert_eq!(decisions[1].reason, "sitelinks 12 < 50");
    assert!(
        decisions[2].reason.contains("not in [actor, athlete]"),
        "{}",
        decisions[2].reason
    );
    assert_eq!(decisions[3].reason, "sitelinks unknown");

    let config = r#"{"expression": "not (sitelinks < 100) || name == 'Obscure Actor'"}"#;
    let decisions = host
        .filter("sitelinks-filter", &grants(&[]), &query(config), &people)
        .unwrap();
    let kept: Vec<bool> = decisions.iter().map(|d| d.keep).collect();
    // An unknown value fails its comparison, so `not` of it passes.
    assert_eq!(kept, [true, true, true, true]);
    assert_eq!(decisions[3].reason, "not (sitelinks unknown)");

    let err = host
        .filter(
            "sitelinks-filter",
            &grants(&[]),
            &query(r#"{"expression": "sitelinks >= lots"}"#),
            &people,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("sitelinks compares with numbers"),
        "{err}"
    );
    let err = host
        .filter(
            "sitelinks-filter",
            &grants(&[]),
            &query(r#"{"expression": "height > 2"}"#),
            &people,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown field \"height\""),
        "{err}"
    );
}

#[test]
fn csv_source_reads_rows_filters_by_query_and_names_bad_lines() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let csv = "name,wikidata_id,country,occupations,sitelinks,image_urls\\n\
               Ana Actor,Q1,RS,actor;singer,80,https://example.org/a.jpg;https://example.org/b.jpg\\n\
               Greek Actor,Q2,GR,actor,90,\\n\
               Serbian Athlete,Q3,RS,athlete,70,\\n";
    let config = format!(r#"{{"csv": "{csv}"}}"#);
    let got = host
        .generate("csv-source", &grants(&[]), &query(&config))
        .unwrap()
        .candidates;
    assert_eq!(got.len(), 1, "only the Serbian actor matches: {got:?}");
    assert_eq!(got[0].name, "Ana Actor");
    assert_eq!(got[0].occupations, ["actor", "singer"]);
    assert_eq!(got[0].image_urls.len(), 2);
    assert_eq!(got[0].sitelinks, Some(80));

    let bad = r#"{"csv": "name,sitelinks\nAna,many\n"}"#;
    let err = host
        .generate("csv-source", &grants(&[]), &query(bad))
        .unwrap_err();
    assert!(err.to_string().contains("csv line 2"), "{err}");
    let err = host
        .generate("csv-source", &grants(&[]), &query(r#"{"rows": 1}"#))
        .unwrap_err();
    assert!(err.to_string().contains("invalid plugin config"), "{err}");
}

#[test]
fn plugins_are_listed_by_kind_and_a_wrong_kind_is_refused() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    // (The test plugins include one of another contract version, listed
    // with its error; the bundled ones are all healthy.)
    let list: Vec<_> = host.list().into_iter().filter_map(Result::ok).collect();
    let kind_of = |n: &str| list.iter().find(|p| p.name == n).unwrap().kind;
    assert_eq!(kind_of("wikidata-source"), PluginKind::Source);
    assert_eq!(kind_of("csv-source"), PluginKind::Source);
    assert_eq!(kind_of("sitelinks-filter"), PluginKind::Filter);

    let err = host
        .filter("csv-source", &grants(&[]), &query("{}"), &[])
        .unwrap_err();
    assert!(
        matches!(err.kind, PluginErrorKind::WrongKind { .. }),
        "{err}"
    );
    let err = host
        .generate("../etc/passwd", &grants(&[]), &query("{}"))
        .unwrap_err();
    assert!(matches!(err.kind, PluginErrorKind::InvalidName), "{err}");
    let err = host
        .generate("not-installed", &grants(&[]), &query("{}"))
        .unwrap_err();
    assert!(matches!(err.kind, PluginErrorKind::NotFound(_)), "{err}");
}

#[test]
fn a_changed_plugin_file_is_reloaded() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let path = dir.path().join("custom.wasm");
    std::fs::copy(dir.path().join("csv-source.wasm"), &path).unwrap();
    assert_eq!(
        host.load("custom", PluginKind::Source).unwrap().kind,
        PluginKind::Source
    );
    std::fs::copy(dir.path().join("sitelinks-filter.wasm"), &path).unwrap();
    let info = host.load("custom", PluginKind::Filter).unwrap();
    assert_eq!(info.kind, PluginKind::Filter);
    std::fs::write(&path, b"\0asm garbage").unwrap();
    let err = host.load("custom", PluginKind::Filter).unwrap_err();
    assert!(matches!(err.kind, PluginErrorKind::Load(_)), "{err}");
}
