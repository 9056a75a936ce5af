//! The plugin SDK as an integrator meets it: `facerecd plugins new` makes a
//! source and a filter in one cargo workspace, they build for
//! wasm32-wasip2, `facerecd plugins install` checks and installs them, and
//! a hub runs them for a domain.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::common::{ADMIN, Node, json};

fn facerecd(args: &[&str], data_root: &Path, cwd: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_facerecd"))
        .args(args)
        .current_dir(cwd)
        .env_remove("FACEREC_CONFIG")
        .env("FACEREC_DATA_ROOT", data_root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "facerecd {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_and_a_filter_from_the_template_build_in_one_workspace_and_run() {
    let ws = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("Cargo.toml"),
        "[workspace]\nresolver = \"3\"\nmembers = [\"people-source\", \"min-filter\"]\n",
    )
    .unwrap();
    let said = facerecd(
        &[
            "plugins",
            "new",
            "people-source",
            "--kind",
            "source",
            "--path",
            "people-source",
        ],
        data.path(),
        ws.path(),
    );
    assert!(
        said.contains("cargo build --release --target wasm32-wasip2"),
        "{said}"
    );
    facerecd(
        &[
            "plugins",
            "new",
            "min-filter",
            "--kind",
            "filter",
            "--path",
            "min-filter",
        ],
        data.path(),
        ws.path(),
    );
    assert!(
        ws.path()
            .join("facerec-plugin-sdk/wit/plugin.wit")
            .is_file()
    );

    // Built as the printed next step says (the outer build's settings are
    // for the host target, not this one).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .current_dir(ws.path());
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
    ] {
        build.env_remove(var);
    }
    let out = build.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let release = ws.path().join("target/wasm32-wasip2/release");
    for file in ["people_source.wasm", "min_filter.wasm"] {
        let said = facerecd(
            &["plugins", "install", release.join(file).to_str().unwrap()],
            data.path(),
            ws.path(),
        );
        assert!(said.starts_with("installed"), "{said}");
    }

    let hub = Node::hub(data.path()).await;
    let people = json!([{"name": "Ada Lovelace", "wikidata_id": "Q7259"},
                        {"name": "Nikola Tesla", "wikidata_id": "Q9036"}]);
    let resp = hub
        .post_json(
            "/api/domains",
            ADMIN,
            json!({"domain_code": "science", "default_country": "RS",
                   "plugins": {"sources": [{"name": "people-source", "config": {"people": people}}],
                               "filters": [{"name": "min-filter", "config": {"min_sitelinks": 0}}]}}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let generate = || async {
        json(
            hub.post_json(
                "/api/training/generate-candidates",
                ADMIN,
                json!({"domain": "science"}),
            )
            .await,
            200,
        )
        .await
    };
    let report = generate().await;
    assert_eq!(report["counts"]["new"], 2, "{report:#}");

    // The filter's rule applies: unknown sitelinks do not meet a minimum.
    let resp = hub
        .req(reqwest::Method::PATCH, "/api/domains/science", Some(ADMIN))
        .json(&json!({"plugins": {
            "sources": [{"name": "people-source", "config": {"people": people}}],
            "filters": [{"name": "min-filter", "config": {"min_sitelinks": 5}}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let report = generate().await;
    assert_eq!(report["counts"]["kept"], 0, "{report:#}");
    assert_eq!(
        report["dropped"][0]["reason"], "sitelinks unknown",
        "{report:#}"
    );
    hub.stop().await;
}
