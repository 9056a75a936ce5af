//! What each CLI command does. Node commands serve; the others work on the
//! data root directly and print results for a person (or `--json`).

mod batch;
pub mod bench;
mod demo;
mod domains;
mod eval;
pub mod faces;
mod migrate;
mod plugin_project;
mod plugins;
mod token;
pub mod train;

use anyhow::Context;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{Config, FileConfig};
use crate::server;
use facerec_node::Role;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = load_config(&cli)?;
    match cli.command {
        Command::Hub => serve(&config, Role::Hub).await,
        Command::Edge => serve(&config, Role::Edge).await,
        Command::Domains(cmd) => domains::run(&config, cmd).await,
        Command::Token(cmd) => token::run(cmd),
        Command::Faces(args) => faces::run(&config, args),
        Command::Bench(cmd) => bench::run(&config, cmd).await,
        Command::Train(cmd) => train::run(&config, cmd),
        Command::Batch(cmd) => batch::run(&config, cmd),
        Command::Plugins(cmd) => plugins::run(&config, cmd),
        Command::Migrate(cmd) => migrate::run(&config, cmd),
        Command::Demo { dir } => demo::run(&config, dir).await,
        Command::Eval(args) => eval::run(&config, &args),
        Command::Broker { listen } => {
            facerec_sync::broker::start(listen)?;
            eprintln!("facerecd MQTT broker listening on {listen}");
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!(
                "{}",
                toml::to_string_pretty(&config).context("cannot print the configuration")?
            );
            // MQTT defaults depend on the role: both, as each would run
            // (the password is never printed).
            #[derive(serde::Serialize)]
            struct ByRole {
                hub: facerec_sync::config::MqttConfig,
                edge: facerec_sync::config::MqttConfig,
            }
            #[derive(serde::Serialize)]
            struct Section {
                mqtt: ByRole,
            }
            let section = Section {
                mqtt: ByRole {
                    hub: config.mqtt(Role::Hub)?,
                    edge: config.mqtt(Role::Edge)?,
                },
            };
            print!(
                "\n# [mqtt] as each role resolves it\n{}",
                toml::to_string_pretty(&section).context("cannot print the MQTT settings")?
            );
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            facerec_api::auth::TokenTable::from_config(&config.tokens)?;
            println!("configuration is valid");
            Ok(())
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let file = match &cli.settings.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    Config::resolve(file, cli.settings.overrides())
}

async fn serve(config: &Config, role: Role) -> anyhow::Result<()> {
    let running = server::start(config, role).await?;
    if let Some(file) = &running.bootstrap_token_file {
        eprintln!(
            "admin token: {} (use it as `Authorization: Bearer <token>`)",
            file.display()
        );
    }
    eprintln!(
        "facerecd {role} listening on http://{}  (API description: /api/openapi.json)",
        running.addr
    );
    running.run_until_signal().await
}
