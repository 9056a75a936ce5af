//! Domain definitions over MQTT: the hub publishes each domain's registry
//! entry, signed with its batch key and retained, on
//! `{prefix}/domains/{d}/definition`. An edge then needs only its domain
//! code, the broker and the hub's public key: at its first start it waits
//! for its domain's definition (and those of the domains it inherits), and
//! while running it follows changes.
//!
//! Architecture invariant: an edge imports a definition only when its
//! signature verifies against a configured hub key, and only for a domain
//! it follows. Definitions carry no plugin settings or filters: those are
//! the hub's business and may hold a source's credentials.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use facerec_storage::{
    DomainCode, DomainConfigEntry, DomainConfigFile, ImportReport, SearchMode, Store,
};
use rumqttc::QoS;
use serde::{Deserialize, Serialize};

use super::client::{LinkEvent, connect, connect_options};
use super::config::MqttConfig;
use super::messages::Message;
use super::topics::Topic;

/// Prepended to what is signed, so a definition's signature can never be
/// taken for a batch manifest's (or the reverse).
const SIGNING_CONTEXT: &str = "facerec-domain-definition-v1\n";

/// What an edge needs of a hub's domain record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainDefinition {
    pub domain: String,
    pub display_name: String,
    pub countries: Vec<String>,
    pub search_priority: i32,
    pub search_mode: SearchMode,
    /// Inherited datasets, first searched first.
    pub inherit_from: Vec<String>,
    pub pack: String,
    pub is_active: bool,
    pub updated_at: DateTime<Utc>,
}

/// The retained payload: the definition's JSON exactly as signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedDefinition {
    pub definition: String,
    /// Hex ed25519 signature of [`SIGNING_CONTEXT`] + `definition`.
    pub signature: String,
}

/// The definition of `domain` as the hub's registry holds it, signed (None
/// when the domain does not exist).
pub fn sign(
    store: &Store,
    key: &SigningKey,
    domain: &DomainCode,
) -> anyhow::Result<Option<SignedDefinition>> {
    let Some(d) = store.get_domain(domain)? else {
        return Ok(None);
    };
    let mut links = store.datasets(domain)?;
    links.sort_by_key(|l| l.priority);
    let definition = DomainDefinition {
        domain: d.domain_code.to_string(),
        display_name: d.display_name,
        countries: d.countries,
        search_priority: d.search_priority,
        search_mode: d.search_mode,
        inherit_from: links.into_iter().map(|l| l.domain.to_string()).collect(),
        pack: d.pack,
        is_active: d.is_active,
        updated_at: d.updated_at,
    };
    let json = serde_json::to_string(&definition)?;
    let signature = key.sign(format!("{SIGNING_CONTEXT}{json}").as_bytes());
    Ok(Some(SignedDefinition {
        definition: json,
        signature: hex::encode(signature.to_bytes()),
    }))
}

/// Checks the signature against `trusted` and that it is `topic_domain`'s.
pub fn verify(
    signed: &SignedDefinition,
    trusted: &[VerifyingKey],
    topic_domain: &DomainCode,
) -> anyhow::Result<DomainDefinition> {
    let message = format!("{SIGNING_CONTEXT}{}", signed.definition);
    if !crate::hub::keys::signed_by_any(message.as_bytes(), &signed.signature, trusted)? {
        anyhow::bail!("the signature does not verify with any trusted hub key");
    }
    let definition: DomainDefinition =
        serde_json::from_str(&signed.definition).context("the signed definition is malformed")?;
    anyhow::ensure!(
        definition.domain == topic_domain.as_str(),
        "it defines '{}' on the topic of '{topic_domain}'",
        definition.domain
    );
    Ok(definition)
}

/// The import file that brings a registry in line with `definitions`.
pub fn config_file(definitions: &[DomainDefinition]) -> DomainConfigFile {
    let domains = definitions
        .iter()
        .map(|d| {
            let entry = DomainConfigEntry {
                display_name: Some(d.display_name.clone()),
                default_country: None,
                countries: d.countries.clone(),
                occupations: vec![],
                search_priority: d.search_priority,
                search_mode: Some(d.search_mode),
                inherit_from: d.inherit_from.clone(),
                filter: None,
                plugins: Default::default(),
                pack: Some(d.pack.clone()),
                is_active: Some(d.is_active),
            };
            (d.domain.clone(), entry)
        })
        .collect();
    DomainConfigFile { domains }
}

/// Imports definitions into an edge's registry (one transaction).
pub fn import(store: &Store, definitions: &[DomainDefinition]) -> anyhow::Result<ImportReport> {
    Ok(store.import_domains(&config_file(definitions), false)?)
}

/// `roots` and every domain they inherit, directly or not, as the registry
/// knows them (roots first); the second list is the domains it does not know.
pub fn inheritance_closure(
    store: &Store,
    roots: &[DomainCode],
) -> anyhow::Result<(Vec<DomainCode>, Vec<DomainCode>)> {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue: std::collections::VecDeque<DomainCode> = roots.iter().cloned().collect();
    while let Some(d) = queue.pop_front() {
        if !seen.insert(d.clone()) {
            continue;
        }
        if store.get_domain(&d)?.is_none() {
            unknown.push(d);
            continue;
        }
        queue.extend(store.datasets(&d)?.into_iter().map(|l| l.domain));
        known.push(d);
    }
    Ok((known, unknown))
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use facerec_storage::NewDomain;

    fn store_with(domains: &[(&str, &[&str])]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for (code, _) in domains {
            store.create_domain(NewDomain::named(code)).unwrap();
        }
        for (code, parents) in domains {
            let links = parents
                .iter()
                .enumerate()
                .map(|(i, p)| facerec_storage::DatasetLink {
                    domain: DomainCode::parse(p).unwrap(),
                    priority: i as u32 + 1,
                })
                .collect();
            store
                .set_datasets(&DomainCode::parse(code).unwrap(), links)
                .unwrap();
        }
        (dir, store)
    }

    #[test]
    fn a_signed_definition_carries_the_chain_and_refuses_tampering() {
        let (_dir, hub) = store_with(&[
            ("serbia", &[]),
            ("croatia", &[]),
            ("slovenia", &["croatia", "serbia"]),
        ]);
        let key = SigningKey::from_bytes(&[7; 32]);
        let slovenia = DomainCode::parse("slovenia").unwrap();
        let signed = sign(&hub, &key, &slovenia).unwrap().unwrap();
        let trusted = [key.verifying_key()];
        let def = verify(&signed, &trusted, &slovenia).unwrap();
        assert_eq!(def.inherit_from, ["croatia", "serbia"]);

        let tampered = SignedDefinition {
            definition: signed.definition.replace("croatia", "greece"),
            ..signed.clone()
        };
        let e = verify(&tampered, &trusted, &slovenia).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
        let other_key = [SigningKey::from_bytes(&[8; 32]).verifying_key()];
        assert!(verify(&signed, &other_key, &slovenia).is_err());
        let serbia = DomainCode::parse("serbia").unwrap();
        let e = verify(&signed, &trusted, &serbia).unwrap_err();
        assert!(e.to_string().contains("topic"), "{e}");
        assert!(
            sign(&hub, &key, &DomainCode::parse("greece").unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn importing_definitions_builds_the_edge_registry_and_its_closure() {
        let (_hub_dir, hub) = store_with(&[
            ("serbia", &[]),
            ("croatia", &["serbia"]),
            ("slovenia", &["croatia"]),
        ]);
        let key = SigningKey::from_bytes(&[7; 32]);
        let defs: Vec<DomainDefinition> = ["slovenia", "croatia", "serbia"]
            .iter()
            .map(|c| {
                let code = DomainCode::parse(c).unwrap();
                verify(
                    &sign(&hub, &key, &code).unwrap().unwrap(),
                    &[key.verifying_key()],
                    &code,
                )
                .unwrap()
            })
            .collect();
        let edge_dir = tempfile::tempdir().unwrap();
        let edge = Store::open(edge_dir.path()).unwrap();
        let slovenia = DomainCode::parse("slovenia").unwrap();
        let roots = [slovenia.clone()];
        let (known, unknown) = inheritance_closure(&edge, &roots).unwrap();
        assert!(known.is_empty() && unknown == roots);

        import(&edge, &defs).unwrap();
        let (known, unknown) = inheritance_closure(&edge, &roots).unwrap();
        let names: Vec<&str> = known.iter().map(|d| d.as_str()).collect();
        assert_eq!(names, ["slovenia", "croatia", "serbia"]);
        assert!(unknown.is_empty());
        // Importing the same definitions again changes nothing.
        assert!(!import(&edge, &defs).unwrap().changed_anything());
    }
}
