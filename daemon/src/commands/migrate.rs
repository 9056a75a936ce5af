//! `facerecd migrate legacy` (see `facerec_hub::migrate`).

use anyhow::Context;
use facerec_storage::Store;

use super::bench::table;
use crate::cli::MigrateCommand;
use crate::config::Config;
use facerec_hub::migrate::{self, Options};

pub fn run(config: &Config, cmd: MigrateCommand) -> anyhow::Result<()> {
    let MigrateCommand::Legacy {
        from,
        dry_run,
        max_files,
        json,
    } = cmd;
    let store = Store::open(&config.data_root)
        .with_context(|| format!("cannot open the data root {}", config.data_root.display()))?;
    let report = migrate::run(
        &store,
        &Options {
            from: from.clone(),
            dry_run,
            max_files,
        },
    )
    .with_context(|| {
        format!(
            "migrating {} stopped (run it again to continue)",
            from.display()
        )
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let mut t = table(&["", if dry_run { "would be" } else { "done" }]);
    t.add_row(vec![
        "domains created".to_string(),
        report.domains_created.join(", "),
    ]);
    t.add_row(vec![
        "people created / already there".into(),
        format!("{} / {}", report.people_created, report.people_existing),
    ]);
    for (what, n) in &report.files {
        t.add_row(vec![
            format!("files {}", what.replace('_', " ")),
            n.to_string(),
        ]);
    }
    t.add_row(vec![
        "legacy files removed after verification".into(),
        report.sources_removed.to_string(),
    ]);
    t.add_row(vec![
        "images recorded / already recorded".into(),
        format!("{} / {}", report.images_recorded, report.images_existing),
    ]);
    if report.files_remaining > 0 {
        t.add_row(vec![
            "files left for the next run".into(),
            report.files_remaining.to_string(),
        ]);
    }
    println!("{t}");
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(f) = &report.report_file {
        println!("report: {}", f.display());
    }
    if dry_run {
        println!("dry run: nothing was changed");
    } else if report.files_remaining == 0 {
        // The old install kept photos, not descriptors: until they are
        // embedded, its people cannot be recognised.
        for domain in report.per_domain.keys() {
            println!(
                "next: facerecd train reembed --domain {domain}   (detects and embeds the migrated photos so that edges can recognise them)"
            );
        }
    }
    Ok(())
}
