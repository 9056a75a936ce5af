//! Runs facerec's WebAssembly plugins.
//!
//! A plugin is a component implementing `facerec:plugin/candidate-source` or
//! `facerec:plugin/candidate-filter` (`sdk/wit/plugin.wit`). It is untrusted
//! code, so every call runs in a fresh store with
//! - a wall-clock deadline (epoch interruption) and a memory cap,
//! - no WASI filesystem, environment, sockets or stdin (WASI p2 is linked
//!   only because Rust's std imports it; the context grants nothing),
//! - HTTP only through [`http::GuardedHttp`], which enforces the domain's
//!   URL allowlist, a response-size cap and a timeout,
//! - outputs checked for size and validity.
//!
//! Whatever a plugin does becomes a [`PluginError`] naming it; the host stays
//! usable. Compiled components are cached and recompiled when their file
//! changes ([`catalog`]); a component of another contract version, or a
//! core module, is refused when it is loaded, with the reason.
//!
//! Architecture invariant: plugins get no ambient authority; everything they
//! can do is a host import that checks the domain's grants.

mod bindings;
pub mod catalog;
mod error;
pub mod http;
mod limits;
mod output;
mod runner;
mod state;

pub use bindings::{Candidate, Decision, Query};
pub use catalog::{PluginInfo, PluginKind, WIT_PACKAGE};
pub use error::{PluginError, PluginErrorKind};
pub use http::{Allowlist, GuardedHttp, HttpLimits};
pub use limits::PluginLimits;
pub use output::{Generated, RejectedCandidate};
pub use runner::{Grants, PluginHost};

/// The plugins built from `plugins/` with this binary, as `(name, wasm)`.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));

    /// Writes every bundled plugin missing from `dir` (existing files,
    /// perhaps an operator's own build, are left alone). Returns the names
    /// written.
    pub fn install_missing(dir: &std::path::Path) -> std::io::Result<Vec<&'static str>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        for (name, wasm) in BUNDLED {
            let path = dir.join(format!("{name}.wasm"));
            if !path.exists() {
                let tmp = dir.join(format!(".{name}.wasm.tmp"));
                std::fs::write(&tmp, wasm)?;
                std::fs::rename(&tmp, &path)?;
                written.push(*name);
            }
        }
        Ok(written)
    }
}
