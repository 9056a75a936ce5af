//! `facerecd batch …`: signed per-domain batches on a hub's data root.

use anyhow::Context;
use facerec_storage::{DomainCode, Store};

use crate::cli::BatchCommand;
use crate::config::Config;
use crate::hub::{batch, keys};

pub fn run(config: &Config, cmd: BatchCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.data_root)
        .with_context(|| format!("cannot open the data root {}", config.data_root.display()))?;
    match cmd {
        BatchCommand::Build { domain } => {
            let code = DomainCode::parse(&domain)?;
            let key = keys::hub_key(store.layout())?;
            match batch::build_delta(&store, &code, &key)? {
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
            let m = batch::build_snapshot(&store, &code, &key)?;
            println!(
                "{domain}: snapshot at batch {} ({} people, {} descriptors) in {}",
                m.seq,
                m.people_added,
                m.descriptors,
                batch::snapshot_dir(&store, &code, m.seq).display()
            );
            Ok(())
        }
        BatchCommand::Verify { dir, public_keys } => {
            let trusted = if public_keys.is_empty() {
                vec![keys::hub_key(store.layout())?.verifying_key()]
            } else {
                public_keys
                    .iter()
                    .map(|k| keys::parse_public_key(k))
                    .collect::<anyhow::Result<Vec<_>>>()?
            };
            let content = batch::verify_dir(&dir, &trusted)
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
        BatchCommand::PublicKey => {
            let key = keys::hub_key(store.layout())?;
            println!("{}", hex::encode(key.verifying_key().to_bytes()));
            Ok(())
        }
    }
}
