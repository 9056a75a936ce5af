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
use wasmtime::component::{Component, Linker};

use crate::error::{PluginError, PluginErrorKind};
use crate::state::HostState;

/// The WIT package this host implements; a component built against another
/// minor version is refused when it is loaded, not when it is called.
pub const WIT_PACKAGE: &str = "facerec:plugin@0.1.0";

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

    pub fn get(
        &self,
        engine: &Engine,
        linker: &Linker<HostState>,
        name: &str,
    ) -> Result<Loaded, PluginError> {
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
                if is_core_module(&bytes) {
                    return Err(err(PluginErrorKind::Load(
                        "this is a core WebAssembly module, not a component: build the plugin with \
`cargo build --release --target wasm32-wasip2` (wasm32-unknown-unknown and wasm32-wasip1 make core modules)"
                            .into(),
                    )));
                }
                let component = Component::from_binary(engine, &bytes)
                    .map_err(|e| err(PluginErrorKind::Load(format!("{e:#}"))))?;
                let kind = kind_of(engine, &component).ok_or_else(|| {
                    err(PluginErrorKind::Load(format!(
                        "exports neither `generate` (candidate-source) nor `filter` (candidate-filter) \
of {WIT_PACKAGE}{}",
                        built_against(engine, &component)
                    )))
                })?;
                check_contract(engine, linker, &component, kind)
                    .map_err(|e| err(PluginErrorKind::Load(e)))?;
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
    pub fn list(
        &self,
        engine: &Engine,
        linker: &Linker<HostState>,
    ) -> Vec<Result<PluginInfo, PluginError>> {
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
            .map(|n| self.get(engine, linker, n).map(|l| l.info))
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

/// A core module's header: magic, then version 1 (a component's layer
/// field makes its "version" differ).
fn is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

/// ", built against facerec:plugin@X" when the component names a version
/// of the package other than this host's.
fn built_against(engine: &Engine, component: &Component) -> String {
    let ty = component.component_type();
    let names: Vec<String> = ty
        .imports(engine)
        .map(|(n, _)| n.to_string())
        .chain(ty.exports(engine).map(|(n, _)| n.to_string()))
        .collect();
    let ours = WIT_PACKAGE.split_once('@').map_or("", |(_, v)| v);
    let mut versions: Vec<&str> = names
        .iter()
        .filter(|n| n.starts_with("facerec:plugin/"))
        .filter_map(|n| n.split_once('@').map(|(_, v)| v))
        .filter(|v| *v != ours)
        .collect();
    versions.sort();
    versions.dedup();
    if versions.is_empty() {
        String::new()
    } else {
        format!(", built against facerec:plugin@{}", versions.join(", @"))
    }
}

/// Checks at load what a call would otherwise find out: every import is
/// one this host provides, and the export has the type of this host's WIT.
fn check_contract(
    engine: &Engine,
    linker: &Linker<HostState>,
    component: &Component,
    kind: PluginKind,
) -> Result<(), String> {
    let checked = linker
        .instantiate_pre(component)
        .and_then(|pre| match kind {
            PluginKind::Source => crate::bindings::source::CandidateSourcePre::new(pre).map(|_| ()),
            PluginKind::Filter => crate::bindings::filter::CandidateFilterPre::new(pre).map(|_| ()),
        });
    checked.map_err(|e| {
        format!(
            "does not match the plugin contract this host implements ({WIT_PACKAGE}){}: {e:#}; \
rebuild it against this host's SDK (sdk/wit/plugin.wit)",
            built_against(engine, component)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_the_wit_and_the_sdk_name_one_contract_version() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let wit = std::fs::read_to_string(format!("{root}/sdk/wit/plugin.wit")).unwrap();
        assert!(
            wit.contains(&format!("package {WIT_PACKAGE};")),
            "sdk/wit/plugin.wit"
        );
        let sdk = std::fs::read_to_string(format!("{root}/sdk/src/lib.rs")).unwrap();
        assert!(
            sdk.contains(&format!("pub const WIT_PACKAGE: &str = \"{WIT_PACKAGE}\";")),
            "sdk/src/lib.rs"
        );
    }

    #[test]
    fn core_modules_are_told_from_components() {
        assert!(is_core_module(b"\0asm\x01\0\0\0"));
        assert!(!is_core_module(b"\0asm\x0d\0\x01\0"));
        assert!(!is_core_module(b"\0as"));
    }
}
