//! facerec's layering, checked: which crate may import which, no import
//! cycles between the files of any crate, and how the workspace's lines
//! are shared out between its crates.
//!
//! - [`workspace`] reads the members and their path dependencies from the
//!   `Cargo.toml` files (no `cargo metadata`, so a test can run it without
//!   taking cargo's build lock).
//! - [`policy`] is the rule table: every member has a layer, and a layer
//!   may import only the layers it names.
//! - [`modules`] parses each crate's files with `syn`, follows `mod`
//!   declarations from `lib.rs`/`main.rs`, and turns every `crate::`,
//!   `super::` and `self::` path (in `use` trees, code and macro bodies)
//!   into an edge between the files that hold the two modules.
//! - [`cycles`] finds the strongly connected components of that graph.
//!
//! An edge between a module and one of its own ancestors or descendants is
//! not counted: a parent declares and re-exports its children, and a child
//! may use its parent's items; both are containment, not a dependency
//! between rooms. Every other edge is, and the file graph of each crate
//! must have no cycle.

pub mod cycles;
pub mod modules;
pub mod policy;
pub mod workspace;

use std::path::{Path, PathBuf};

/// The binary crate and the shares of the workspace's non-test lines that
/// the crate split keeps to: the binary only wires, and no other crate
/// grows into a new monolith.
pub const BINARY: &str = "facerecd";
pub const BINARY_SHARE: f64 = 0.30;
pub const CRATE_SHARE: f64 = 0.15;

/// The workspace this tool was built in (`tools/layering/../..`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Everything wrong with the workspace at `root`, one line each (empty when
/// the layering holds), and the size table for a person to read.
pub struct Report {
    pub problems: Vec<String>,
    pub sizes: Vec<(String, usize)>,
}

impl Report {
    pub fn total_lines(&self) -> usize {
        self.sizes.iter().map(|(_, n)| n).sum()
    }
}

/// Checks the crate edges against [`policy`] and every crate's files for
/// import cycles; measures each crate's non-test lines.
pub fn check(root: &Path) -> anyhow::Result<Report> {
    let ws = workspace::Workspace::read(root)?;
    let mut problems = policy::check(&ws);
    let mut sizes = Vec::new();
    for member in &ws.members {
        let graph = modules::ModuleGraph::read(&member.dir)?;
        let edges = graph.file_edges();
        problems.extend(policy::file_problems(&member.name, &edges));
        for cycle in cycles::cycles(&edges) {
            problems.push(format!(
                "{}: import cycle between files: {}",
                member.name,
                cycle.join(" → ")
            ));
        }
        sizes.push((member.name.clone(), graph.non_test_lines()));
    }
    Ok(Report { problems, sizes })
}

/// The share rules of the crate split: the binary crate holds at most
/// `binary_share` of the workspace's non-test lines, every other crate at
/// most `crate_share`.
pub fn size_problems(
    report: &Report,
    binary: &str,
    binary_share: f64,
    crate_share: f64,
) -> Vec<String> {
    let total = report.total_lines().max(1) as f64;
    report
        .sizes
        .iter()
        .filter_map(|(name, lines)| {
            let share = *lines as f64 / total;
            let cap = if name == binary {
                binary_share
            } else {
                crate_share
            };
            (share > cap).then(|| {
                format!(
                    "{name} holds {lines} of {total} non-test lines ({:.1}% > {:.0}%): split it",
                    share * 100.0,
                    cap * 100.0
                )
            })
        })
        .collect()
}
