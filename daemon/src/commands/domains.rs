use std::sync::Arc;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use facerec_storage::{DatasetLink, DomainCode, NewDomain, Store};

use crate::cli::{CreateDomainArgs, DomainsCommand};
use crate::config::Config;
use facerec_api::DomainView;

fn open(config: &Config) -> anyhow::Result<Arc<Store>> {
    let store = Store::open(&config.data_root)
        .with_context(|| format!("cannot open the data root {}", config.data_root.display()))?;
    Ok(Arc::new(store))
}

fn code(raw: &str) -> anyhow::Result<DomainCode> {
    Ok(DomainCode::parse(raw)?)
}

pub async fn run(config: &Config, cmd: DomainsCommand) -> anyhow::Result<()> {
    let store = open(config)?;
    match cmd {
        DomainsCommand::List { json } => list(&store, json),
        DomainsCommand::Show { code: raw } => {
            let c = code(&raw)?;
            let view = DomainView::new(store.domain(&c)?, store.datasets(&c)?, store.layout());
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(())
        }
        DomainsCommand::Import { file, dry_run } => {
            let report = crate::server::import_domains_file(&store, &file, dry_run).await?;
            let verb = if dry_run { "would be" } else { "" };
            let line = |what: &str, list: &[String]| {
                if !list.is_empty() {
                    println!("{what:>16} {verb} {}", list.join(", "));
                }
            };
            line("created:", &report.created);
            line("updated:", &report.updated);
            line("datasets changed:", &report.datasets_changed);
            line("unchanged:", &report.unchanged);
            if !report.changed_anything() {
                println!(
                    "nothing to change: the registry already matches {}",
                    file.display()
                );
            }
            Ok(())
        }
        DomainsCommand::Create(args) => create(&store, args),
        DomainsCommand::Delete { code: raw, purge } => {
            store.delete_domain(&code(&raw)?, purge)?;
            println!(
                "deleted domain {raw}{}",
                if purge { " and all its data" } else { "" }
            );
            Ok(())
        }
        DomainsCommand::Datasets { code: raw, set } => {
            let c = code(&raw)?;
            let links = match set {
                Some(list) => {
                    let links = list
                        .iter()
                        .filter(|s| !s.trim().is_empty())
                        .enumerate()
                        .map(|(i, d)| {
                            Ok(DatasetLink {
                                domain: code(d.trim())?,
                                priority: i as u32 + 1,
                            })
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    store.set_datasets(&c, links)?
                }
                None => store.datasets(&c)?,
            };
            let order: Vec<String> = store
                .search_order(&c)?
                .iter()
                .map(|d| d.to_string())
                .collect();
            for l in &links {
                println!("{:>3}  {}", l.priority, l.domain);
            }
            println!("search order: {}", order.join(" → "));
            Ok(())
        }
    }
}

fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let domains = store.list_domains()?;
    if json {
        let rows = domains
            .iter()
            .map(|d| store.domain_summary(d))
            .collect::<Result<Vec<_>, _>>()?;
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(["code", "name", "people", "images", "active", "inherits"]);
    for d in &domains {
        let s = store.domain_summary(d)?;
        let inherits: Vec<String> = store
            .datasets(&d.domain_code)?
            .iter()
            .map(|l| l.domain.to_string())
            .collect();
        table.add_row([
            s.code,
            s.name,
            s.total_people.to_string(),
            s.total_images.to_string(),
            if s.is_active {
                "yes".into()
            } else {
                "no".into()
            },
            inherits.join(" → "),
        ]);
    }
    println!("{table}");
    Ok(())
}

fn create(store: &Store, args: CreateDomainArgs) -> anyhow::Result<()> {
    if let Some(pack) = &args.pack {
        facerec_vision::ModelPack::named(pack)?;
    }
    let domain = store.create_domain(NewDomain {
        domain_code: args.code,
        display_name: args.name,
        default_country: args.country,
        default_occupations: args.occupations,
        countries: args.countries,
        search_priority: args.search_priority,
        search_mode: Default::default(),
        filter: args.filter,
        plugins: Default::default(),
        pack: args.pack,
        is_active: true,
    })?;
    println!(
        "created domain {} ({})",
        domain.domain_code, domain.display_name
    );
    Ok(())
}
