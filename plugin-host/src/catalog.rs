//! The plugins directory: `{name}.wasm` files, compiled on first use and
//! recompiled when the file changes (checked on every use: a stat, and a
//! hash only when size or mtime moved).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{PluginError, PluginErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Implements `candidate-source` (exports `generate`).
    Source,
    /// Implements `candidate-filter` (exports `filter`).
    Filter,
}

impl PluginKind {
    pub fn label(self) -> &'static str {
        match self {
            PluginKind::Source => "candidate source",
            PluginKind::Filter => "candidate filter",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub kind: PluginKind,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone)]
pub(crate) struct Loaded {
    pub component: Component,
    pub info: PluginInfo,
    stamp: (u64, Option<SystemTime>),
}

pub(crate) struct Catalog {
    dir: PathBuf,
    cache: Mutex<HashMap<String, Loaded>>,
}

/// Plugin names become file names: keep them boring.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

impl Catalog {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn get(&self, engine: &Engine, name: &str) -> Result<Loaded, PluginError> {
        let err = |kind| PluginError::new(name, kind);
        if !valid_name(name) {
            return Err(err(PluginErrorKind::InvalidName));
        }
        let path = self.dir.join(format!("{name}.wasm"));
        let meta = std::fs::metadata(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                err(PluginErrorKind::NotFound(path.display().to_string()))
            } else {
                err(PluginErrorKind::Load(format!("{}: {e}", path.display())))
            }
        })?;
        let stamp = (meta.len(), meta.modified().ok());
        if let Some(hit) = self.cache.lock().unwrap().get(name)
            && hit.stamp == stamp
        {
            return Ok(hit.clone());
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| err(PluginErrorKind::Load(format!("{}: {e}", path.display()))))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let previous = self.cache.lock().unwrap().get(name).cloned();
        let loaded = match previous {
            Some(mut same) if same.info.sha256 == sha256 => {
                same.stamp = stamp;
                same
            }
            _ => {
                let component = Component::from_binary(engine, &bytes)
                    .map_err(|e| err(PluginErrorKind::Load(format!("{e:#}"))))?;
                let kind = kind_of(engine, &component).ok_or_else(|| {
                    err(PluginErrorKind::Load(
                        "exports neither `generate` (candidate-source) nor `filter` (candidate-filter)"
                            .into(),
                    ))
                })?;
                tracing::info!(target: "facerec::plugin", plugin = name, kind = kind.label(),
                    sha256 = &sha256[..12], "plugin compiled");
                Loaded {
                    component,
                    info: PluginInfo {
                        name: name.to_string(),
                        kind,
                        bytes: bytes.len() as u64,
                        sha256,
                    },
                    stamp,
                }
            }
        };
        self.cache
            .lock()
            .unwrap()
            .insert(name.to_string(), loaded.clone());
        Ok(loaded)
    }

    /// Every `*.wasm` in the directory, loaded (errors per plugin).
    pub fn list(&self, engine: &Engine) -> Vec<Result<PluginInfo, PluginError>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".wasm"))
                    .filter(|n| valid_name(n))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| self.get(engine, n).map(|l| l.info))
            .collect()
    }
}

fn kind_of(engine: &Engine, component: &Component) -> Option<PluginKind> {
    let ty = component.component_type();
    let mut kind = None;
    for (name, _) in ty.exports(engine) {
        match name {
            "generate" => kind = Some(PluginKind::Source),
            "filter" => kind = Some(PluginKind::Filter),
            _ => {}
        }
    }
    kind
}
