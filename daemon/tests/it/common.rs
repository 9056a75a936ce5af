//! A real facerecd node on an ephemeral loopback port with a temp data root.
#![allow(dead_code)]

use std::path::Path;

use facerec_api::auth::{TokenConfig, hash_token};
use facerec_node::Role;
use facerecd::config::{Config, FileConfig, Overrides};
use facerecd::server::{self, RunningServer};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub const ADMIN: &str = "admin-secret";
pub const SERBIA: &str = "rs-secret";
pub const BALKAN: &str = "balkan-secret";
pub const GREECE: &str = "gr-secret";
pub const PUBLIC_HOST: &str = "facerec.example.com";

fn token(name: &str, secret: &str, domains: &[&str], admin: bool) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        sha256: hex::encode(hash_token(secret)),
        domains: domains.iter().map(|s| s.to_string()).collect(),
        admin,
    }
}

/// The `facerecd` binary on `data_root`, ignoring any config file of the
/// environment.
pub fn facerecd(data_root: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_facerecd"));
    cmd.arg("--data-root")
        .arg(data_root)
        .env_remove("FACEREC_CONFIG");
    cmd
}

pub fn config(root: &Path, primary: Option<&str>, allowed: &[&str]) -> Config {
    let file = FileConfig {
        tokens: vec![
            token("ops", ADMIN, &[], true),
            token("rs-broadcaster", SERBIA, &["serbia"], false),
            token("balkan-network", BALKAN, &["serbia", "croatia"], false),
            token("gr-broadcaster", GREECE, &["greece"], false),
        ],
        ..Default::default()
    };
    let over = Overrides {
        data_root: Some(root.to_path_buf()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        primary_domain: primary.map(str::to_string),
        allowed_domains: Some(allowed.iter().map(|s| s.to_string()).collect()),
        public_hosts: Some(vec![PUBLIC_HOST.into()]),
        mqtt: facerec_sync::config::MqttOverrides {
            broker: Some("off".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Config::resolve(file, over).unwrap()
}

pub struct Node {
    pub server: Option<RunningServer>,
    pub base: String,
    pub http: reqwest::Client,
}

impl Node {
    pub async fn start(config: &Config, role: Role) -> Self {
        let server = server::start(config, role).await.expect("node starts");
        let base = format!("http://{}", server.addr);
        Self {
            server: Some(server),
            base,
            http: reqwest::Client::new(),
        }
    }

    pub async fn hub(root: &Path) -> Self {
        Self::start(&config(root, None, &[]), Role::Hub).await
    }

    pub async fn stop(mut self) {
        self.server.take().unwrap().stop().await.unwrap();
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> Response {
        self.req(Method::POST, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn create(&self, code: &str) -> Response {
        self.post_json(
            "/api/domains",
            ADMIN,
            serde_json::json!({"domain_code": code}),
        )
        .await
    }
}

/// Asserts a problem+json response with `status` and returns its detail.
pub async fn problem(resp: Response, status: u16) -> String {
    assert_eq!(
        resp.status().as_u16(),
        status,
        "unexpected status for {}",
        resp.url()
    );
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status);
    let detail = body["detail"].as_str().expect("detail").to_string();
    assert!(!detail.is_empty());
    detail
}

pub async fn json(resp: Response, status: u16) -> Value {
    let url = resp.url().clone();
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// `../shared/{relative}` when it holds `marker`; otherwise None (the test
/// skips), unless FACEREC_REQUIRE_SHARED is set, when that is a failure.
pub fn shared_data(relative: &str, marker: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(relative);
    if dir.join(marker).exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FACEREC_REQUIRE_SHARED").is_none(),
        "{} is missing and FACEREC_REQUIRE_SHARED is set",
        dir.display()
    );
    eprintln!("skipped: {} is not here", dir.display());
    None
}

/// The installed Chromium, or `None` (a skip, said on stderr) — a failure
/// instead when FACEREC_REQUIRE_CHROMIUM is set, as CI does.
pub fn chromium(check: &str) -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        if std::env::var_os("FACEREC_REQUIRE_CHROMIUM").is_some() {
            panic!("chromium is not installed and FACEREC_REQUIRE_CHROMIUM is set");
        }
        eprintln!("chromium is not installed (`apt-get install chromium`): skipping {check}");
    }
    found
}
