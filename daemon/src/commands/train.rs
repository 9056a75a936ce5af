//! `facerecd train …`: the hub's training stages on a data root.

use std::sync::Arc;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use facerec_storage::{DomainCode, PersonId, Store};

use crate::cli::TrainCommand;
use crate::config::Config;
use facerec_hub::acquire;
use facerec_hub::candidates::{self, CandidateRequest};
use facerec_hub::process::{self, QualityGates};
use facerec_hub::review;

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
            let host = config.plugin_host()?;
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
        TrainCommand::Ingest { domain, dir } => {
            let code = DomainCode::parse(&domain)?;
            let bar = spinner("ingesting");
            let report = acquire::ingest_dir(&store, &code, &dir, |f| {
                bar.set_message(f.display().to_string());
                bar.inc(1);
            })?;
            bar.finish_and_clear();
            for (file, reason) in &report.refused {
                eprintln!("refused {file}: {reason}");
            }
            println!(
                "{domain}: {} images added, {} already present, {} refused, for {} people",
                report.added,
                report.duplicates,
                report.refused.len(),
                report.people.len()
            );
            Ok(())
        }
        TrainCommand::Download { domain } => {
            let code = DomainCode::parse(&domain)?;
            let http = facerec_plugin_host::GuardedHttp::new(config.plugin_limits.http.clone());
            let bar = spinner("downloading");
            let report = acquire::download_candidates(&store, &http, &code, |u| {
                bar.set_message(u.to_string());
                bar.inc(1);
            })?;
            bar.finish_and_clear();
            for (url, reason) in &report.failed {
                eprintln!("failed {url}: {reason}");
            }
            println!(
                "{domain}: {} images downloaded, {} already present, {} failed",
                report.downloaded,
                report.duplicates,
                report.failed.len()
            );
            Ok(())
        }
        TrainCommand::Process { domain, threads } => {
            let code = DomainCode::parse(&domain)?;
            let engine =
                crate::commands::faces::load_pack_engine(config, &store.domain(&code)?.pack)?;
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let bar = spinner("processing");
            let started = std::time::Instant::now();
            let report = process::process_domain(
                &store,
                &engine,
                &code,
                &QualityGates::default(),
                threads,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            for (id, person, reason) in &report.refused {
                println!("refused image {id} of {person}: {reason}");
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{domain}: {} images processed in {secs:.1} s ({:.1}/s), {} staged for review, {} refused",
                report.processed,
                report.processed as f64 / secs.max(1e-9),
                report.staged,
                report.refused.len()
            );
            Ok(())
        }
        TrainCommand::Reembed {
            domain,
            pack,
            max_photos,
            json,
        } => {
            let code = DomainCode::parse(&domain)?;
            let pack = match pack {
                Some(p) => p,
                None => store.domain(&code)?.pack,
            };
            let engine = crate::commands::faces::load_pack_engine(config, &pack)?;
            let key = facerec_sync::keys::hub_key(store.layout())?;
            let bar = spinner("re-embedding");
            let report = facerec_hub::reembed::reembed_domain(
                &store,
                &engine,
                &code,
                &key,
                max_photos,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            for (id, person, reason) in &report.refused {
                println!("refused image {id} of {person}: {reason}");
            }
            if report.remaining > 0 {
                println!(
                    "{domain}: {} of {} photos re-embedded with {pack} so far ({} left); run again to continue",
                    report.photos - report.remaining,
                    report.photos,
                    report.remaining
                );
                return Ok(());
            }
            println!(
                "{domain}: {} photos re-embedded with {pack} ({} resumed from an earlier run), {} refused; the domain now holds {pack} descriptors{}",
                report.embedded,
                report.resumed,
                report.refused.len(),
                report.snapshot_seq.map_or(String::new(), |s| format!(
                    ", published to edges as snapshot {s}"
                ))
            );
            for person in &report.people_without_faces {
                println!("warning: {person} has no usable photo left and will not be recognised");
            }
            Ok(())
        }
        TrainCommand::Staging { domain, json } => {
            let code = DomainCode::parse(&domain)?;
            let entries = review::staging(&store, &code)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
                return Ok(());
            }
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY).set_header([
                "person",
                "name",
                "staged faces",
                "refused images",
            ]);
            for e in &entries {
                let refused: Vec<String> = e
                    .refused
                    .iter()
                    .map(|r| format!("{}: {}", r.image_id, r.reason))
                    .collect();
                table.add_row([
                    e.person.id.to_string(),
                    e.person.display_name.clone(),
                    e.staged.len().to_string(),
                    refused.join("\n"),
                ]);
            }
            println!("{table}");
            Ok(())
        }
        TrainCommand::Approve {
            domain,
            people: raw,
        } => {
            let code = DomainCode::parse(&domain)?;
            let r = review::approve(&store, &code, &people(&raw)?, None)?;
            println!(
                "{domain}: approved {} faces of {} people; `facerecd batch build --domain {domain}` publishes them",
                r.faces, r.people
            );
            Ok(())
        }
        TrainCommand::Reject {
            domain,
            reason,
            people: raw,
        } => {
            let code = DomainCode::parse(&domain)?;
            let r = review::reject(&store, &code, &people(&raw)?, None, &reason)?;
            println!(
                "{domain}: rejected {} people ({} staged faces)",
                r.people, r.faces
            );
            Ok(())
        }
        TrainCommand::Erase { domain, person } => {
            let code = DomainCode::parse(&domain)?;
            let n = review::erase(&store, &code, &PersonId::parse(&person)?)?;
            println!(
                "{domain}: erased {person} ({n} images); the next batch removes them from edges"
            );
            Ok(())
        }
    }
}

fn people(raw: &[String]) -> anyhow::Result<Vec<PersonId>> {
    raw.iter().map(|p| Ok(PersonId::parse(p)?)).collect()
}

fn spinner(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {prefix} {pos} files, {elapsed} {wide_msg}",
        )
        .expect("valid template"),
    );
    bar.set_prefix(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
