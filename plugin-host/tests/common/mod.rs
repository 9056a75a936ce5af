//! Shared by the plugin tests: a plugins directory holding the real bundled
//! plugins (built from source by build.rs) and the hostile test plugin, and
//! a loopback HTTP server standing in for Wikidata's SPARQL endpoint.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use facerec_plugin_host::{Allowlist, Grants, PluginHost, PluginLimits, Query, bundled};

pub fn plugins_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, wasm) in bundled::BUNDLED.iter().chain(bundled::TEST_PLUGINS) {
        std::fs::write(dir.path().join(format!("{name}.wasm")), wasm).unwrap();
    }
    dir
}

pub fn host(dir: &Path, limits: PluginLimits) -> PluginHost {
    PluginHost::new(dir.to_path_buf(), limits).unwrap()
}

pub fn grants(allow: &[&str]) -> Grants {
    Grants {
        domain: "serbia".into(),
        http: Arc::new(Allowlist::parse(allow).unwrap()),
    }
}

pub fn query(config: &str) -> Query {
    Query {
        domain: "serbia".into(),
        country: Some("RS".into()),
        occupations: vec!["actor".into()],
        limit: 50,
        config: config.into(),
    }
}

/// Answers every GET with `body` (status 200, JSON) and records request
/// lines. Returns the base URL.
pub struct FakeServer {
    pub base: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

pub fn serve(status: u16, content_type: &'static str, body: Vec<u8>) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            seen.lock().unwrap().push(line.trim().to_string());
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    FakeServer { base, requests }
}

/// Percent-decodes a request target, enough to read a SPARQL query back.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
