//! `facerecd train …`: the hub's training stages on a data root.

use std::sync::Arc;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use facerec_plugin_host::PluginHost;
use facerec_storage::{DomainCode, Store};

use crate::cli::TrainCommand;
use crate::config::Config;
use crate::hub::candidates::{self, CandidateRequest};

pub fn plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    PluginHost::new(config.plugins_dir.clone(), config.plugin_limits.clone())
        .context("cannot start the plugin runtime")
}

pub fn run(config: &Config, cmd: TrainCommand) -> anyhow::Result<()> {
    let store =
        Arc::new(Store::open(&config.data_root).with_context(|| {
            format!("cannot open the data root {}", config.data_root.display())
        })?);
    match cmd {
        TrainCommand::Candidates {
            domain,
            country,
            occupation,
            limit,
            json,
        } => {
            let code = DomainCode::parse(&domain)?;
            let host = plugin_host(config)?;
            let request = CandidateRequest {
                country,
                occupation,
                limit,
            };
            let report = candidates::generate(&store, &host, &code, &request)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            let mut runs = Table::new();
            runs.load_preset(UTF8_BORDERS_ONLY)
                .set_header(["plugin", "kind", "ms", "in", "out", "error"]);
            for r in &report.plugins {
                runs.add_row([
                    r.plugin.clone(),
                    format!("{:?}", r.kind).to_lowercase(),
                    format!("{:.1}", r.elapsed_ms),
                    r.input.to_string(),
                    r.output.to_string(),
                    r.error.clone().unwrap_or_default(),
                ]);
            }
            println!("{runs}");
            let mut people = Table::new();
            people.load_preset(UTF8_BORDERS_ONLY).set_header([
                "person",
                "name",
                "wikidata",
                "sitelinks",
                "status",
                "new",
            ]);
            for c in &report.candidates {
                people.add_row([
                    c.person_id.clone(),
                    c.name.clone(),
                    c.wikidata_id.clone().unwrap_or_default(),
                    c.sitelinks.map(|s| s.to_string()).unwrap_or_default(),
                    c.status.as_str().to_string(),
                    if c.new { "yes".into() } else { String::new() },
                ]);
            }
            println!("{people}");
            let n = &report.counts;
            println!(
                "{}: {} generated, {} unique, {} kept, {} dropped; {} new, {} already known",
                report.domain, n.generated, n.unique, n.kept, n.dropped, n.new, n.known
            );
            Ok(())
        }
    }
}
