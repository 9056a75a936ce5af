//! The edge's side of domain definitions: at its first start it waits
//! for its domain's definition (and those of the domains it inherits) and
//! imports them at once; while running, definitions that inherit a domain
//! not yet known wait in [`Pending`] (the format and signatures are
//! [`facerec_sync::definitions`]).
//!
//! Architecture invariant: an edge imports a definition only when its
//! signature verifies against a configured hub key, and only for a domain
//! it follows.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use facerec_storage::{DomainCode, ImportReport, Store};
use facerec_sync::client::{LinkEvent, connect, connect_options};
use facerec_sync::config::MqttConfig;
use facerec_sync::definitions::{DomainDefinition, import, inheritance_closure, verify};
use facerec_sync::messages::Message;
use facerec_sync::topics::Topic;
use rumqttc::QoS;

/// Definitions received but not imported yet, because they inherit
/// domains the registry does not know: they are imported together once
/// every domain they need is defined (an import is one transaction).
#[derive(Debug, Default)]
pub struct Pending {
    defs: BTreeMap<DomainCode, DomainDefinition>,
}

impl Pending {
    pub fn add(&mut self, domain: DomainCode, definition: DomainDefinition) {
        self.defs.insert(domain, definition);
    }

    /// The domains still needed: inherited by a pending definition, and
    /// neither in the registry nor pending.
    pub fn missing(&self, store: &Store) -> anyhow::Result<BTreeSet<DomainCode>> {
        let mut missing = BTreeSet::new();
        for def in self.defs.values() {
            for parent in &def.inherit_from {
                let parent = DomainCode::parse(parent)?;
                if !self.defs.contains_key(&parent) && store.get_domain(&parent)?.is_none() {
                    missing.insert(parent);
                }
            }
        }
        Ok(missing)
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// Imports every pending definition, once none is missing.
    pub fn import(&mut self, store: &Store) -> anyhow::Result<ImportReport> {
        let defs: Vec<DomainDefinition> = std::mem::take(&mut self.defs).into_values().collect();
        import(store, &defs)
    }
}

/// At an edge's start: when the registry lacks one of `roots` (its own
/// domain and any allowed ones) or a domain they inherit, waits for the
/// hub's definitions and imports them all at once. Returns the domains the
/// edge follows (roots first). Waits as long as it takes, saying so: an
/// appliance has nobody to give up to.
pub async fn fetch_missing(
    config: &MqttConfig,
    store: &std::sync::Arc<Store>,
    roots: &[DomainCode],
) -> anyhow::Result<Vec<DomainCode>> {
    let closure = {
        let (store, roots) = (store.clone(), roots.to_vec());
        move || -> anyhow::Result<(Vec<DomainCode>, Vec<DomainCode>)> {
            inheritance_closure(&store, &roots)
        }
    };
    let (known, unknown) = tokio::task::spawn_blocking(closure.clone()).await??;
    if unknown.is_empty() {
        return Ok(known);
    }
    anyhow::ensure!(
        !config.hub_public_keys.is_empty(),
        "this edge's registry does not know {unknown:?}, and without the hub's public key it cannot \
trust the hub's definitions: set FACEREC_HUB_PUBLIC_KEYS (or hub_public_keys in [mqtt])"
    );
    let topics = config.topics();
    // A separate, clean-session client: the persistent session belongs to
    // the subscriber that starts afterwards.
    let mut options = connect_options(config, &format!("{}-setup", config.device_id), None)?;
    options.set_clean_session(true);
    let (client, mut events) = connect(options);
    let mut pending = Pending::default();
    let mut wanted: BTreeSet<DomainCode> = unknown.iter().cloned().collect();
    let mut subscribed: BTreeSet<DomainCode> = BTreeSet::new();
    let mut said = Instant::now();
    tracing::info!(domains = ?unknown, "waiting for the hub's definitions of domains this edge's registry does not know");
    while !wanted.is_empty() {
        for d in wanted.difference(&subscribed.clone()) {
            if client
                .subscribe(topics.definition(d), QoS::AtLeastOnce)
                .await
                .is_ok()
            {
                subscribed.insert(d.clone());
            }
        }
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv()).await;
        match event {
            Err(_) | Ok(Some(LinkEvent::Disconnected(_))) => {}
            Ok(None) => anyhow::bail!("the MQTT link closed while waiting for domain definitions"),
            // A reconnection forgets a clean session's subscriptions.
            Ok(Some(LinkEvent::Connected { .. })) => subscribed.clear(),
            Ok(Some(LinkEvent::Message(publish))) => {
                let _ = client.ack(&publish).await;
                if let Some(Topic::Definition(d)) = topics.parse(&publish.topic)
                    && wanted.contains(&d)
                {
                    match decode_verified(&publish.payload, &config.hub_public_keys, &d) {
                        Ok(Some(def)) => {
                            pending.add(d.clone(), def);
                            wanted.remove(&d);
                            wanted.extend(pending.missing(store)?);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(domain = %d, reason = format!("{e:#}"),
                            "refused a domain definition"),
                    }
                }
            }
        }
        if !wanted.is_empty() && said.elapsed() >= Duration::from_secs(30) {
            said = Instant::now();
            let topics_waited: Vec<String> = wanted.iter().map(|d| topics.definition(d)).collect();
            tracing::warn!(topics = ?topics_waited,
                "still waiting for the hub to publish these domain definitions: is the domain created on the hub, and may this edge read the topics?");
        }
    }
    let _ = client.disconnect().await;
    let store2 = store.clone();
    let report = tokio::task::spawn_blocking(move || pending.import(&store2)).await??;
    tracing::info!(created = ?report.created, updated = ?report.updated, "domain definitions imported from the hub");
    let (known, unknown) = tokio::task::spawn_blocking(closure).await??;
    anyhow::ensure!(
        unknown.is_empty(),
        "domains {unknown:?} are still unknown after importing the hub's definitions"
    );
    Ok(known)
}

/// A definition payload, verified; `None` for an empty (cleared) one.
pub fn decode_verified(
    payload: &[u8],
    trusted: &[VerifyingKey],
    domain: &DomainCode,
) -> anyhow::Result<Option<DomainDefinition>> {
    if payload.is_empty() {
        return Ok(None);
    }
    match Message::decode(payload) {
        Ok(Message::Definition(signed)) => Ok(Some(verify(&signed, trusted, domain)?)),
        Ok(_) => anyhow::bail!("the message is not a definition"),
        Err(e) => Err(e.into()),
    }
}
