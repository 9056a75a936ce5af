//! The workspace's members and the path dependencies between them, read
//! from the `Cargo.toml` files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;

#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub dir: PathBuf,
    /// Members this one depends on, of any kind (normal, build, dev): a
    /// test that imports another role's crate breaks the layering too.
    pub deps: BTreeSet<String>,
}

#[derive(Debug)]
pub struct Workspace {
    pub members: Vec<Member>,
}

impl Workspace {
    pub fn read(root: &Path) -> anyhow::Result<Self> {
        let manifest = read_toml(&root.join("Cargo.toml"))?;
        let dirs: Vec<String> = manifest
            .get("workspace")
            .and_then(|w| w.get("members"))
            .and_then(|m| m.as_array())
            .context("the root Cargo.toml has no [workspace] members")?
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let mut members = Vec::new();
        for dir in dirs {
            let dir = root.join(dir);
            let toml = read_toml(&dir.join("Cargo.toml"))?;
            let name = toml
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .with_context(|| format!("{} has no package name", dir.display()))?
                .to_string();
            let mut deps = BTreeSet::new();
            for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(t) = toml.get(table).and_then(|t| t.as_table()) {
                    for (key, value) in t {
                        // `foo = { package = "bar", … }` depends on bar.
                        let package = value.get("package").and_then(|p| p.as_str()).unwrap_or(key);
                        deps.insert(package.to_string());
                    }
                }
            }
            members.push(Member { name, dir, deps });
        }
        let names: BTreeSet<String> = members.iter().map(|m| m.name.clone()).collect();
        for m in &mut members {
            m.deps.retain(|d| names.contains(d) && *d != m.name);
        }
        Ok(Self { members })
    }
}

fn read_toml(path: &Path) -> anyhow::Result<toml::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))
}
