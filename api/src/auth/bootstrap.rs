//! The first admin token of a fresh install.
//!
//! A node whose config names no admin token would be unmanageable, so on
//! first start it generates one and writes it, readable by its owner only,
//! to `{data_root}/secrets/admin.token` — as databases do with an initial
//! password. Configure your own admin token to turn this off.

use std::path::PathBuf;

use anyhow::Context;
use facerec_storage::Layout;
use facerec_storage::files::{create_private_dir, write_private};

use super::tokens::{TokenConfig, generate_token, hash_token};

pub const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap-admin";

/// Returns the token entry to add and the file that holds the token.
pub fn ensure_bootstrap_admin(layout: &Layout) -> anyhow::Result<(TokenConfig, PathBuf)> {
    let dir = layout.secrets();
    let path = dir.join("admin.token");
    let token = match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        Ok(_) => anyhow::bail!(
            "{} is empty; delete it to generate a new admin token",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_private_dir(&dir)?;
            let token = generate_token();
            write_private(&path, &token)?;
            token
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let entry = TokenConfig {
        name: BOOTSTRAP_TOKEN_NAME.into(),
        sha256: hex::encode(hash_token(&token)),
        domains: vec!["*".into()],
        admin: true,
    };
    Ok((entry, path))
}
