//! Which crate may import which. Every member has a [`Layer`]; a layer may
//! import only the layers [`Layer::may_import`] names. Because the
//! foundation imports no role, a role cannot reach the other through it
//! either: checking direct edges is enough.
//!
//! Architecture invariants this table enforces:
//! - no crate imports the binary crate (`facerecd`);
//! - the hub's crate never imports an edge crate, nor an edge crate the
//!   hub's: what both read lives in the foundation (`facerec-sync`);
//! - nothing but the binary imports the HTTP API or the evaluation.

use crate::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Storage, vision, index, camera, plugin host, node basics, the sync
    /// protocol: what any role builds on.
    Foundation,
    /// The hub's training pipeline and publisher.
    Hub,
    /// The edge's batch sync and live analysis.
    Edge,
    /// Evaluation on labelled photos and clips (runs the edge's analysis).
    Eval,
    /// The HTTP API both roles serve.
    Api,
    /// The binary that wires everything.
    Binary,
    /// Development tools (this checker).
    Tool,
}

impl Layer {
    pub fn may_import(self, other: Layer) -> bool {
        use Layer::*;
        match self {
            Foundation => other == Foundation,
            Hub => other == Foundation,
            Edge => matches!(other, Foundation | Edge),
            Eval => matches!(other, Foundation | Edge),
            Api => matches!(other, Foundation | Hub | Edge),
            Binary => matches!(other, Foundation | Hub | Edge | Eval | Api),
            Tool => false,
        }
    }
}

/// The layer of every member; a new member must be added here.
pub fn layer_of(crate_name: &str) -> Option<Layer> {
    Some(match crate_name {
        "facerec-storage"
        | "facerec-vision"
        | "facerec-index"
        | "facerec-camera"
        | "facerec-plugin-host"
        | "facerec-node"
        | "facerec-sync" => Layer::Foundation,
        "facerec-hub" => Layer::Hub,
        "facerec-edge" | "facerec-live" => Layer::Edge,
        "facerec-eval" => Layer::Eval,
        "facerec-api" => Layer::Api,
        "facerecd" => Layer::Binary,
        "facerec-layering" => Layer::Tool,
        _ => return None,
    })
}

/// File edges forbidden inside one crate: (crate, files under, must not
/// import files under). The node's serving path never reaches a CLI
/// command (the bench harness and the demo are commands).
pub const FORBIDDEN_FILE_EDGES: &[(&str, &str, &str)] = &[
    ("facerecd", "src/server.rs", "src/commands"),
    ("facerecd", "src/config.rs", "src/commands"),
];

/// Every forbidden edge among `edges` (file → files) of `crate_name`.
pub fn file_problems(
    crate_name: &str,
    edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (krate, from, to) in FORBIDDEN_FILE_EDGES {
        if *krate != crate_name {
            continue;
        }
        for (file, targets) in edges.range(from.to_string()..) {
            if !file.starts_with(from) {
                break;
            }
            for t in targets.iter().filter(|t| t.starts_with(to)) {
                problems.push(format!("{crate_name}: {file} must not import {t}"));
            }
        }
    }
    problems
}

/// Every crate edge the table forbids, and every member it does not know.
pub fn check(ws: &Workspace) -> Vec<String> {
    check_with(ws, layer_of)
}

pub fn check_with(ws: &Workspace, layer_of: impl Fn(&str) -> Option<Layer>) -> Vec<String> {
    let mut problems = Vec::new();
    for m in &ws.members {
        let Some(from) = layer_of(&m.name) else {
            problems.push(format!(
                "{} has no layer: add it to tools/layering/src/policy.rs",
                m.name
            ));
            continue;
        };
        for dep in &m.deps {
            match layer_of(dep) {
                Some(to) if from.may_import(to) => {}
                Some(to) => problems.push(format!(
                    "{} ({from:?}) must not import {dep} ({to:?})",
                    m.name
                )),
                None => {} // reported as a member of its own
            }
        }
    }
    problems
}
