//! What a node is and which domains it may touch.
//!
//! Architecture invariant: an edge never opens, stores or answers for a
//! domain outside its allowed set; every API handler asks [`NodeScope`]
//! before it asks storage.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, RwLock};

use facerec_storage::DomainCode;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Hub,
    Edge,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Hub => "hub",
            Role::Edge => "edge",
        })
    }
}

/// The domains this node serves: all of them (a hub without
/// `ALLOWED_DOMAINS`), or an explicit set (every edge), which grows when
/// the hub's definitions make the edge's domain inherit another.
#[derive(Debug, Clone)]
pub struct NodeScope {
    pub role: Role,
    pub primary: Option<DomainCode>,
    allowed: Option<Arc<RwLock<BTreeSet<DomainCode>>>>,
}

impl NodeScope {
    pub fn new(role: Role, primary: Option<DomainCode>, allowed: &[DomainCode]) -> Self {
        let allowed = if primary.is_none() && allowed.is_empty() {
            None
        } else {
            Some(Arc::new(RwLock::new(
                allowed.iter().cloned().chain(primary.clone()).collect(),
            )))
        };
        Self {
            role,
            primary,
            allowed,
        }
    }

    pub fn serves(&self, domain: &DomainCode) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|set| set.read().expect("scope lock").contains(domain))
    }

    /// The explicit set, or `None` when the node serves every domain.
    pub fn allowed(&self) -> Option<BTreeSet<DomainCode>> {
        self.allowed
            .as_ref()
            .map(|set| set.read().expect("scope lock").clone())
    }

    /// Stops serving `domain` (a node serving every domain never does).
    pub fn unfollow(&self, domain: &DomainCode) {
        if let Some(set) = &self.allowed {
            set.write().expect("scope lock").remove(domain);
        }
    }

    /// Serves `domain` from now on (a node serving every domain already does).
    pub fn follow(&self, domain: DomainCode) {
        if let Some(set) = &self.allowed {
            set.write().expect("scope lock").insert(domain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_serves_primary_and_allowed_only() {
        let d = |s| DomainCode::parse(s).unwrap();
        let scope = NodeScope::new(
            Role::Edge,
            Some(d("slovenia")),
            &[d("croatia"), d("serbia")],
        );
        assert!(scope.serves(&d("slovenia")));
        assert!(scope.serves(&d("serbia")));
        assert!(!scope.serves(&d("greece")));
        let hub = NodeScope::new(Role::Hub, None, &[]);
        assert!(hub.serves(&d("greece")));
    }
}
