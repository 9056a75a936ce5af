//! `facerecd plugins new` and `plugins install`: a plugin project from the
//! SDK this binary carries (so an integrator needs no checkout of facerec,
//! and the SDK always matches the host's contract version), and an install
//! that refuses a file the host could not run.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use facerec_plugin_host::{PluginHost, PluginLimits, catalog::valid_name};

use crate::cli::PluginKindArg;

/// The SDK, as in `sdk/` of the repository.
const SDK_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../sdk/Cargo.toml")),
    ("README.md", include_str!("../../../sdk/README.md")),
    ("src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    (
        "src/helpers.rs",
        include_str!("../../../sdk/src/helpers.rs"),
    ),
    (
        "wit/plugin.wit",
        include_str!("../../../sdk/wit/plugin.wit"),
    ),
];
const CARGO_TEMPLATE: &str = include_str!("../../../sdk/templates/Cargo.toml.template");
const SOURCE_TEMPLATE: &str = include_str!("../../../sdk/templates/source.rs");
const FILTER_TEMPLATE: &str = include_str!("../../../sdk/templates/filter.rs");
const SDK_DIR: &str = "facerec-plugin-sdk";

/// The SDK's manifest without the lines that only make sense in the
/// repository (its own `[workspace]`, which would clash with the plugin's).
fn vendored_manifest(manifest: &str) -> String {
    let mut out = Vec::new();
    let mut skip_workspace = false;
    for line in manifest.lines() {
        if line.starts_with("# repository-only") {
            skip_workspace = true;
            continue;
        }
        if skip_workspace {
            if line.starts_with('#') {
                continue;
            }
            skip_workspace = false;
            if line.trim() == "[workspace]" {
                continue;
            }
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

/// The nearest enclosing directory whose Cargo.toml declares a workspace.
fn enclosing_workspace(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().skip(1).find_map(|d| {
        let manifest = std::fs::read_to_string(d.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|l| l.trim() == "[workspace]")
            .then(|| d.to_path_buf())
    })
}

/// `to` relative to `from` (both absolute), with `/` separators.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(path)?)
}

fn write_sdk(dir: &Path) -> anyhow::Result<()> {
    for (file, text) in SDK_FILES {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("files have a parent"))?;
        let text = if *file == "Cargo.toml" {
            vendored_manifest(text)
        } else {
            text.to_string()
        };
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Creates the project; returns what to tell the user.
pub fn new_project(
    name: &str,
    kind: PluginKindArg,
    path: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> anyhow::Result<String> {
    if !valid_name(name) {
        bail!(
            "{name:?} is not a plugin name: use 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
        );
    }
    let dir = absolute(&path.unwrap_or_else(|| PathBuf::from(name)))?;
    if dir.exists() && dir.read_dir()?.next().is_some() {
        bail!("{} exists and is not empty", dir.display());
    }
    let workspace = enclosing_workspace(&dir);
    let sdk_dir = match sdk {
        Some(s) => {
            let s = absolute(&s)?;
            if !s.join("wit/plugin.wit").is_file() {
                bail!(
                    "{} is not a facerec plugin SDK (no wit/plugin.wit)",
                    s.display()
                );
            }
            s
        }
        None => {
            let s = workspace
                .clone()
                .unwrap_or_else(|| dir.clone())
                .join(SDK_DIR);
            if !s.join("Cargo.toml").is_file() {
                write_sdk(&s)?;
            }
            s
        }
    };
    let workspace_line = if workspace.is_some() {
        String::new()
    } else {
        "\n# Its own workspace; remove these two lines to make it a member of an\n# enclosing one.\n[workspace]\n"
            .to_string()
    };
    // Cargo reads profiles only at a workspace's root.
    let profile = if workspace.is_some() {
        ""
    } else {
        "\n# Small, fast plugins.\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\n"
    };
    let manifest = CARGO_TEMPLATE
        .replace("{{name}}", name)
        .replace("{{profile}}", profile)
        .replace("{{sdk}}", &relative(&dir, &sdk_dir))
        .replace("{{workspace}}", &workspace_line);
    let code = match kind {
        PluginKindArg::Source => SOURCE_TEMPLATE,
        PluginKindArg::Filter => FILTER_TEMPLATE,
    }
    .replace("{{name}}", name);
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join("src/lib.rs"), code)?;
    std::fs::write(dir.join(".gitignore"), "target/\n")?;

    let file = name.replace('-', "_");
    let (build_dir, member_note) = match &workspace {
        Some(ws) => (
            ws.clone(),
            format!(
                "\nIt is inside the cargo workspace {}: add \"{}\" to its `members`.",
                ws.display(),
                relative(ws, &dir)
            ),
        ),
        None => (dir.clone(), String::new()),
    };
    let section = match kind {
        PluginKindArg::Source => "sources",
        PluginKindArg::Filter => "filters",
    };
    Ok(format!(
        "created {} ({} plugin, SDK in {}){member_note}\n\nNext:\n  \
rustup target add wasm32-wasip2        # once\n  \
cd {} && cargo build --release --target wasm32-wasip2\n  \
facerecd plugins install target/wasm32-wasip2/release/{file}.wasm\n\
then list \"{name}\" in a domain's plugins.{section} (see sdk/README.md in the SDK folder).",
        dir.display(),
        match kind {
            PluginKindArg::Source => "source",
            PluginKindArg::Filter => "filter",
        },
        sdk_dir.display(),
        build_dir.display(),
    ))
}

/// Checks `file` as the host would load it and copies it into
/// `plugins_dir` as `{name}.wasm` (atomically: a running hub never sees a
/// half-written file).
pub fn install(
    file: &Path,
    name: Option<String>,
    plugins_dir: &Path,
    limits: &PluginLimits,
) -> anyhow::Result<String> {
    let name = match name {
        Some(n) => n,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.replace('_', "-"))
            .with_context(|| format!("{}: cannot take a plugin name from it", file.display()))?,
    };
    if !valid_name(&name) {
        bail!("{name:?} is not a plugin name: pass --name (1-64 of a-z, 0-9, '-', '_')");
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let check = tempfile::tempdir()?;
    std::fs::write(check.path().join(format!("{name}.wasm")), &bytes)?;
    let host = PluginHost::new(check.path().to_path_buf(), limits.clone())?;
    let info = host
        .list()
        .pop()
        .context("the plugin was not found after copying it")?
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    std::fs::create_dir_all(plugins_dir)?;
    let tmp = plugins_dir.join(format!(".{name}.wasm.tmp"));
    let dest = plugins_dir.join(format!("{name}.wasm"));
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &dest)?;
    Ok(format!(
        "installed {name} ({}, {} bytes, sha256 {}) as {}",
        info.kind.label(),
        info.bytes,
        &info.sha256[..16],
        dest.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_sdk_manifest_is_no_workspace_of_its_own() {
        let text = vendored_manifest(SDK_FILES[0].1);
        assert!(!text.contains("[workspace]"), "{text}");
        assert!(text.contains("name = \"facerec-plugin-sdk\""));
        assert!(text.contains("[dependencies]"));
    }

    #[test]
    fn relative_paths_walk_up_and_down() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(relative(&p("/w/a"), &p("/w/sdk")), "../sdk");
        assert_eq!(relative(&p("/w/a"), &p("/w/a/sdk")), "sdk");
        assert_eq!(relative(&p("/w/a/b"), &p("/x")), "../../../x");
    }
}
