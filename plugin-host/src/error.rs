//! Every way a plugin call can fail, always naming the plugin.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("plugin '{plugin}': {kind}")]
pub struct PluginError {
    pub plugin: String,
    pub kind: PluginErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginErrorKind {
    #[error("invalid plugin name (use 1-64 of a-z, 0-9, '-' and '_')")]
    InvalidName,
    #[error("not installed (no {0})")]
    NotFound(String),
    #[error("cannot be loaded: {0}")]
    Load(String),
    #[error("is a {actual}, not a {expected}")]
    WrongKind {
        expected: &'static str,
        actual: &'static str,
    },
    #[error("cannot be instantiated: {0}")]
    Instantiate(String),
    #[error("stopped: ran past its deadline of {0:?}")]
    Deadline(Duration),
    #[error("stopped: tried to grow its memory to {requested} bytes, over the cap of {cap} bytes")]
    Memory { requested: usize, cap: usize },
    #[error("crashed: {0}")]
    Trap(String),
    #[error("returned an error: {0}")]
    Failed(String),
    #[error("output refused: {bytes} bytes is over the cap of {cap} bytes")]
    OutputTooLarge { bytes: usize, cap: usize },
    #[error("output refused: {0}")]
    InvalidOutput(String),
}

impl PluginError {
    pub fn new(plugin: &str, kind: PluginErrorKind) -> Self {
        Self {
            plugin: plugin.to_string(),
            kind,
        }
    }
}
