//! `facerecd bench …`: measurements a person reruns and reads as a table.
//! Build with `--release`; debug numbers mean nothing.

mod index;
mod live;
mod plugins;
mod streams;
mod sync;
mod vision;

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use crate::cli::BenchCommand;
use crate::config::Config;

pub async fn run(config: &Config, cmd: BenchCommand) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; run `cargo run --release -p facerecd -- bench …` for real figures"
        );
    }
    match cmd {
        BenchCommand::Vision { faces, iterations } => vision::run(config, &faces, iterations),
        BenchCommand::Index {
            sizes,
            queries,
            ef,
            mixed,
            shape,
        } => index::run(&sizes, queries, &ef, mixed, shape),
        BenchCommand::Plugins { iterations } => plugins::run(iterations),
        BenchCommand::Streams {
            source,
            camera_count,
            seconds,
            min_face,
        } => streams::run(source.as_deref(), camera_count, seconds, min_face),
        BenchCommand::Sync {
            descriptors,
            delta_people,
            keep_hub,
        } => sync::run(descriptors, delta_people, keep_hub.as_deref()).await,
        BenchCommand::Live {
            seconds,
            gallery,
            recognize_gallery,
            requests,
            pack,
        } => {
            live::run(
                config,
                live::Options {
                    seconds,
                    gallery,
                    recognize_gallery,
                    requests,
                    pack: match pack {
                        Some(p) => facerec_vision::ModelPack::named(&p)?,
                        None => facerec_vision::DEFAULT_PACK,
                    },
                },
            )
            .await
        }
    }
}

/// Latency samples in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    pub fn push(&mut self, d: std::time::Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }
    pub fn percentile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v[idx]
    }
}

pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(header.iter().copied());
    t
}
