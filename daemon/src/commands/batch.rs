//! `facerecd batch …`: signed per-domain batches on a hub's data root.

use anyhow::Context;
use facerec_storage::{DomainCode, Store};

use crate::cli::BatchCommand;
use crate::config::Config;
use facerec_sync::{batch, keys};

pub fn run(config: &Config, cmd: BatchCommand) -> anyhow::Result<()> {
    // Verifying needs only a key: never create a data root (and a signing
    // key) for it.
    if let BatchCommand::Verify { dir, public_keys } = &cmd {
        return verify(config, dir, public_keys);
    }
    let store = Store::open(&config.data_root)
        .with_context(|| format!("cannot open the data root {}", config.data_root.display()))?;
    match cmd {
        BatchCommand::Build { domain } => {
            let code = DomainCode::parse(&domain)?;
            let key = keys::hub_key(store.layout())?;
            match facerec_hub::batch::build_delta(&store, &code, &key)? {
                Some(m) => println!(
                    "{domain}: batch {} built ({} people added, {} removed, {} descriptors) in {}",
                    m.seq,
                    m.people_added,
                    m.people_removed,
                    m.descriptors,
                    batch::batch_dir(&store, &code, m.seq).display()
                ),
                None => println!(
                    "{domain}: nothing approved or erased since the last batch; no new batch"
                ),
            }
            Ok(())
        }
        BatchCommand::Snapshot { domain } => {
            let code = DomainCode::parse(&domain)?;
            let key = keys::hub_key(store.layout())?;
            let m = facerec_hub::batch::build_snapshot(&store, &code, &key)?;
            println!(
                "{domain}: snapshot at batch {} ({} people, {} descriptors) in {}",
                m.seq,
                m.people_added,
                m.descriptors,
                batch::snapshot_dir(&store, &code, m.seq).display()
            );
            Ok(())
        }
        BatchCommand::Verify { .. } => unreachable!("handled above"),
        BatchCommand::PublicKey => {
            let key = keys::hub_key(store.layout())?;
            println!("{}", hex::encode(key.verifying_key().to_bytes()));
            Ok(())
        }
    }
}

/// Verifies a batch folder against `--public-key`s, or this hub's own key
/// when its data root already has one.
fn verify(config: &Config, dir: &std::path::Path, public_keys: &[String]) -> anyhow::Result<()> {
    let trusted = if public_keys.is_empty() {
        let layout = facerec_storage::Layout::new(&config.data_root);
        let path = keys::key_path(&layout);
        if !path.is_file() {
            anyhow::bail!(
                "no --public-key given and {} holds no hub key ({} is missing): pass the hub's key with --public-key HEX (`facerecd batch public-key` on the hub prints it)",
                config.data_root.display(),
                path.display()
            );
        }
        vec![keys::hub_key(&layout)?.verifying_key()]
    } else {
        public_keys
            .iter()
            .map(|k| keys::parse_public_key(k))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let content = batch::verify_dir(dir, &trusted)
        .with_context(|| format!("{} does not verify", dir.display()))?;
    println!(
        "{}: batch {} of {} verifies ({} people added, {} removed)",
        dir.display(),
        content.seq,
        content.domain,
        content.added.len(),
        content.removed.len()
    );
    Ok(())
}
