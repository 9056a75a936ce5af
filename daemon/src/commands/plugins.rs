//! `facerecd plugins …`: what is installed in the plugins folder, new
//! plugin projects and checked installs.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use facerec_plugin_host::bundled;

use crate::cli::PluginsCommand;
use crate::config::Config;

pub fn run(config: &Config, cmd: PluginsCommand) -> anyhow::Result<()> {
    match cmd {
        PluginsCommand::List => {
            let host = config.plugin_host()?;
            let mut table = Table::new();
            table
                .load_preset(UTF8_BORDERS_ONLY)
                .set_header(["plugin", "kind", "bytes", "sha256"]);
            let mut broken = 0;
            for entry in host.list() {
                match entry {
                    Ok(p) => {
                        table.add_row([
                            p.name,
                            p.kind.label().to_string(),
                            p.bytes.to_string(),
                            p.sha256[..16].to_string(),
                        ]);
                    }
                    Err(e) => {
                        broken += 1;
                        eprintln!("{e}");
                    }
                }
            }
            println!("{} (in {})", table, config.plugins_dir.display());
            if broken > 0 {
                anyhow::bail!("{broken} plugin file(s) cannot be loaded");
            }
            Ok(())
        }
        PluginsCommand::New {
            name,
            kind,
            path,
            sdk,
        } => {
            println!(
                "{}",
                super::plugin_project::new_project(&name, kind, path, sdk)?
            );
            Ok(())
        }
        PluginsCommand::Install { file, name } => {
            println!(
                "{}",
                super::plugin_project::install(
                    &file,
                    name,
                    &config.plugins_dir,
                    &config.plugin_limits
                )?
            );
            Ok(())
        }
        PluginsCommand::InstallBundled => {
            let written = bundled::install_missing(&config.plugins_dir)?;
            if written.is_empty() {
                println!(
                    "every bundled plugin is already in {}",
                    config.plugins_dir.display()
                );
            } else {
                println!(
                    "installed {} into {}",
                    written.join(", "),
                    config.plugins_dir.display()
                );
            }
            Ok(())
        }
    }
}
