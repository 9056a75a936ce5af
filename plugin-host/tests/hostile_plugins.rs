//! Untrusted code: each misbehaviour becomes an error naming the plugin, and
//! the host keeps serving the next call.

mod common;

use std::time::{Duration, Instant};

use common::*;
use facerec_plugin_host::{PluginError, PluginErrorKind, PluginHost, PluginLimits};

fn run(host: &PluginHost, mode: &str, url: &str) -> Result<Vec<String>, PluginError> {
    let config = format!(r#"{{"mode": "{mode}", "url": "{url}"}}"#);
    host.generate(
        "hostile-test",
        &grants(&["http://127.0.0.1:9/allowed/"]),
        &query(&config),
    )
    .map(|g| g.candidates.into_iter().map(|c| c.name).collect())
}

/// After any failure the same host still runs a well-behaved plugin.
fn still_serves(host: &PluginHost) {
    let csv = r#"{"csv": "name,country,occupations\nAna,RS,actor\n"}"#;
    let got = host
        .generate("csv-source", &grants(&[]), &query(csv))
        .unwrap()
        .candidates;
    assert_eq!(got[0].name, "Ana");
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let dir = plugins_dir();
    let limits = PluginLimits {
        deadline: Duration::from_millis(300),
        ..Default::default()
    };
    let host = host(dir.path(), limits);
    let started = Instant::now();
    let err = run(&host, "spin", "").unwrap_err();
    assert_eq!(err.plugin, "hostile-test");
    assert!(matches!(err.kind, PluginErrorKind::Deadline(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    still_serves(&host);
}

#[test]
fn a_gigabyte_allocation_is_trapped_at_the_memory_cap() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let err = run(&host, "allocate", "").unwrap_err();
    match err.kind {
        PluginErrorKind::Memory { requested, cap } => {
            assert_eq!(cap, PluginLimits::default().memory_bytes);
            assert!(requested > cap);
        }
        other => panic!("expected a memory error, got {other}"),
    }
    still_serves(&host);
}

#[test]
fn a_request_outside_the_allowlist_is_denied() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let err = run(&host, "fetch", "http://169.254.169.254/latest/meta-data/").unwrap_err();
    assert!(matches!(err.kind, PluginErrorKind::Failed(_)), "{err}");
    assert!(err.to_string().contains("Denied"), "{err}");
    assert!(
        err.to_string()
            .contains("not on this domain's http_allowlist"),
        "{err}"
    );
    still_serves(&host);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let err = run(&host, "panic", "").unwrap_err();
    assert!(matches!(err.kind, PluginErrorKind::Trap(_)), "{err}");
    assert!(err.to_string().contains("panicked on purpose"), "{err}");
    assert!(
        !err.to_string().contains("RUST_BACKTRACE"),
        "no advice a plugin cannot follow: {err}"
    );
    still_serves(&host);
}

#[test]
fn a_hundred_megabyte_output_is_refused() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let err = run(&host, "huge-output", "").unwrap_err();
    match err.kind {
        PluginErrorKind::OutputTooLarge { bytes, cap } => {
            assert!(bytes >= 100 << 20, "{bytes}");
            assert_eq!(cap, PluginLimits::default().max_output_bytes);
        }
        other => panic!("expected an output error, got {other}"),
    }
    still_serves(&host);
}

#[test]
fn invalid_candidates_are_refused_and_log_floods_are_capped() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    // One bad row is set aside with its reason; the good ones are kept.
    let config = r#"{"mode": "bad-data", "url": ""}"#;
    let got = host
        .generate("hostile-test", &grants(&[]), &query(config))
        .unwrap();
    let names: Vec<&str> = got.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Fine"]);
    assert_eq!(got.rejected.len(), 1);
    assert_eq!(got.rejected[0].index, 0);
    assert_eq!(
        got.rejected[0].name, "badname",
        "control characters stripped"
    );
    assert_eq!(
        got.rejected[0].reason, "the name holds a control character (U+0000)",
        "{:?}",
        got.rejected
    );
    assert_eq!(run(&host, "log-flood", "").unwrap(), ["Survivor"]);
}

#[test]
fn the_sandbox_grants_no_filesystem_and_no_environment() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let err = run(&host, "read-file", "").unwrap_err();
    assert!(err.to_string().contains("filesystem refused"), "{err}");
    assert_eq!(run(&host, "env", "").unwrap(), ["0 env vars"]);
}

#[test]
fn ids_never_merge_two_people_and_the_limit_holds() {
    let dir = plugins_dir();
    let host = host(dir.path(), PluginLimits::default());
    let got = host
        .generate(
            "hostile-test",
            &grants(&[]),
            &query(r#"{"mode": "duplicate-ids"}"#),
        )
        .unwrap();
    let names: Vec<&str> = got.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Fine"]);
    assert_eq!(got.rejected.len(), 2);
    assert!(
        got.rejected[0].reason.contains("rows 0, 1"),
        "{:?}",
        got.rejected
    );

    let mut q = query(r#"{"mode": "ignore-limit"}"#);
    q.limit = 2;
    let got = host.generate("hostile-test", &grants(&[]), &q).unwrap();
    assert_eq!(got.candidates.len(), 2);
    assert_eq!(got.rejected.len(), 3);
    assert!(got.rejected.iter().all(|r| r.reason.contains("limit of 2")));
}

#[test]
fn other_contract_versions_and_core_modules_are_refused_at_load() {
    let dir = plugins_dir();
    std::fs::write(dir.path().join("core-module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let host = host(dir.path(), PluginLimits::default());
    let listed = host.list();
    let error_of = |name: &str| {
        listed
            .iter()
            .find_map(|r| match r {
                Err(e) if e.plugin == name => Some(e.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} is listed as healthy"))
    };
    let future = error_of("future-wit-test");
    assert!(
        future.contains("facerec:plugin@0.2.0") && future.contains("facerec:plugin@0.1.0"),
        "{future}"
    );
    let core = error_of("core-module");
    assert!(core.contains("--target wasm32-wasip2"), "{core}");
    // Loading for a call says the same, before anything runs.
    let err = host
        .generate("future-wit-test", &grants(&[]), &query("{}"))
        .unwrap_err();
    assert!(matches!(err.kind, PluginErrorKind::Load(_)), "{err}");
    // The plugins of this host's version are healthy.
    assert!(
        listed
            .iter()
            .any(|r| matches!(r, Ok(p) if p.name == "csv-source"))
    );
    still_serves(&host);
}
