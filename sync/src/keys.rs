//! The hub's ed25519 signing key: generated on first use into
//! `{data_root}/secrets/hub.ed25519` (hex seed, mode 0600). Edges trust the
//! public key (`facerecd batch public-key`).

use anyhow::Context;
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use facerec_storage::Layout;
use rand::RngCore;

use facerec_storage::files::{create_private_dir, write_private};

pub fn key_path(layout: &Layout) -> std::path::PathBuf {
    layout.secrets().join("hub.ed25519")
}

/// Loads the hub key, creating it on first use.
pub fn hub_key(layout: &Layout) -> anyhow::Result<SigningKey> {
    let path = key_path(layout);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            parse_seed(text.trim()).with_context(|| format!("{} is not a hub key", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            let dir = path.parent().expect("key path has a parent");
            create_private_dir(dir)?;
            write_private(&path, &hex::encode(seed))?;
            tracing::info!(file = %path.display(), "generated the hub's batch signing key");
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn parse_seed(hex_seed: &str) -> anyhow::Result<SigningKey> {
    let bytes: [u8; 32] = hex::decode(hex_seed)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("a key is 32 bytes"))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A public key as printed by `facerecd batch public-key` (64 hex digits).
pub fn parse_public_key(text: &str) -> anyhow::Result<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .context("a public key is 64 hex digits")?
        .try_into()
        .map_err(|_| anyhow::anyhow!("a public key is 32 bytes (64 hex digits)"))?;
    VerifyingKey::from_bytes(&bytes).context("not a valid ed25519 public key")
}

/// Whether `signature_hex` signs `message` under one of the `trusted` keys
/// (batch manifests and domain definitions alike); an error when it is no
/// ed25519 signature at all.
pub fn signed_by_any(
    message: &[u8],
    signature_hex: &str,
    trusted: &[VerifyingKey],
) -> anyhow::Result<bool> {
    let signature =
        Signature::from_slice(&hex::decode(signature_hex).context("the signature is not hex")?)
            .context("the signature is malformed")?;
    Ok(trusted
        .iter()
        .any(|k| k.verify(message, &signature).is_ok()))
}
