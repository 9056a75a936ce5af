//! A source plugin that misbehaves on request, for the host's tests.
//! Config: `{"mode": "...", "url": "..."}`.

use facerec_plugin_sdk::{Candidate, Level, Query, Source, http_get, log, register_source};
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    mode: String,
    #[serde(default)]
    url: String,
}

struct Hostile;

impl Source for Hostile {
    fn generate(query: Query) -> Result<Vec<Candidate>, String> {
        let config: Config = query.config()?;
        match config.mode.as_str() {
            "spin" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "allocate" => {
                // 1 GiB, touched so it is really committed.
                let mut v: Vec<u8> = Vec::with_capacity(1 << 30);
                v.resize(1 << 30, 1);
                Ok(vec![Candidate::named(&format!("{}", v[v.len() - 1]))])
            }
            "fetch" => match http_get(&config.url, &[]) {
                Ok(r) => Ok(vec![Candidate::named(&format!(
                    "got {} bytes",
                    r.body.len()
                ))]),
                Err(e) => Err(format!("fetch {}: {e:?}", config.url)),
            },
            "panic" => panic!("hostile plugin panicked on purpose"),
            "huge-output" => {
                // 100 candidates of 1 MB each: 100 MB of output.
                let name = "x".repeat(1 << 20);
                Ok((0..100).map(|_| Candidate::named(&name)).collect())
            }
            "bad-data" => Ok(vec![Candidate::named("bad\u{0}name"), Candidate::named("Fine")]),
            "duplicate-ids" => {
                let mut a = Candidate::named("Ana Ivanović");
                a.id = "ana".into();
                a.wikidata_id = Some("Q9009".into());
                let mut b = Candidate::named("Ana Other");
                b.id = "ana".into();
                b.wikidata_id = Some("Q3306".into());
                Ok(vec![a, b, Candidate::named("Fine")])
            }
            "ignore-limit" => Ok((0..query.limit + 3)
                .map(|i| Candidate::named(&format!("Person {i}")))
                .collect()),
            "log-flood" => {
                let line = "y".repeat(10_000);
                for _ in 0..10_000 {
                    log(Level::Warn, &line);
                }
                Ok(vec![Candidate::named("Survivor")])
            }
            "read-file" => match std::fs::read("/etc/hostname") {
                Ok(b) => Ok(vec![Candidate::named(&format!("read {} bytes", b.len()))]),
                Err(e) => Err(format!("filesystem refused: {e}")),
            },
            "env" => Ok(vec![Candidate::named(&format!(
                "{} env vars",
                std::env::vars().count()
            ))]),
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

register_source!(Hostile);
