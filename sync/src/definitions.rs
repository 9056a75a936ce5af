//! Domain definitions: the hub publishes each domain's registry entry,
//! signed with its batch key and retained, on
//! `{prefix}/domains/{d}/definition`. An edge then needs only its domain
//! code, the broker and the hub's public key. This module is the format:
//! signing, verification and the import into an edge's registry; the
//! edge's waiting and following is `facerec-edge`'s `definitions`.
//!
//! Architecture invariant: an edge imports a definition only when its
//! signature verifies against a configured hub key, and only for a domain
//! it follows. Definitions carry no plugin settings or filters: those are
//! the hub's business and may hold a source's credentials.

use std::collections::BTreeSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use facerec_storage::{
    DomainCode, DomainConfigEntry, DomainConfigFile, ImportReport, SearchMode, Store,
};
use serde::{Deserialize, Serialize};

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
    if !crate::keys::signed_by_any(message.as_bytes(), &signed.signature, trusted)? {
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
