//! The layering of this workspace, and the checker itself on small
//! workspaces written for the purpose (so a broken checker cannot pass).

use std::path::Path;

use facerec_layering::{BINARY, BINARY_SHARE, CRATE_SHARE, check, size_problems, workspace_root};

#[test]
fn the_workspace_has_no_forbidden_crate_edge_and_no_file_cycle() {
    let report = check(&workspace_root()).unwrap();
    assert!(
        report.problems.is_empty(),
        "layering problems:\n{}",
        report.problems.join("\n")
    );
    assert!(report.sizes.iter().any(|(n, _)| n == BINARY));
    assert!(report.total_lines() > 10_000, "{:?}", report.sizes);
}

#[test]
fn no_crate_outgrows_its_share_of_the_workspace() {
    let report = check(&workspace_root()).unwrap();
    let problems = size_problems(&report, BINARY, BINARY_SHARE, CRATE_SHARE);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn package(name: &str, deps: &[&str]) -> String {
    let mut s = format!("[package]\nname = \"{name}\"\n\n[dependencies]\n");
    for d in deps {
        s.push_str(&format!("{d} = {{ path = \"../{d}\" }}\n"));
    }
    s
}

#[test]
fn a_cycle_between_files_and_a_forbidden_crate_edge_are_both_reported() {
    let dir = tempfile::tempdir().unwrap();
    let hub = package("facerec-hub", &["facerec-live"]);
    let live = package("facerec-live", &[]);
    write(
        dir.path(),
        &[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"facerec-hub\", \"facerec-live\"]\n",
            ),
            ("facerec-hub/Cargo.toml", &hub),
            ("facerec-hub/src/lib.rs", "pub mod a;\npub mod b;\n"),
            // Through a use tree one way, through a macro body the other.
            (
                "facerec-hub/src/a.rs",
                "use crate::b::{self, B};\npub struct A;\n",
            ),
            (
                "facerec-hub/src/b.rs",
                "pub struct B;\nfn f() { println!(\"{:?}\", crate::a::A); }\n",
            ),
            ("facerec-live/Cargo.toml", &live),
            (
                "facerec-live/src/lib.rs",
                "pub mod tracker;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn t() {}\n}\n",
            ),
            // A child using its parent, and the parent its child: containment.
            (
                "facerec-live/src/tracker/mod.rs",
                "mod vote;\npub use vote::Vote;\npub struct T;\n",
            ),
            (
                "facerec-live/src/tracker/vote.rs",
                "use super::T;\npub struct Vote(T);\n",
            ),
        ],
    );
    let report = check(dir.path()).unwrap();
    assert_eq!(
        report.problems,
        vec![
            "facerec-hub (Hub) must not import facerec-live (Edge)".to_string(),
            "facerec-hub: import cycle between files: src/a.rs → src/b.rs → src/a.rs".to_string(),
        ]
    );
    // The test module's six lines are not counted.
    let live_lines = report
        .sizes
        .iter()
        .find(|(n, _)| n == "facerec-live")
        .unwrap()
        .1;
    assert_eq!(live_lines, 1 + 3 + 2);
}

#[test]
fn super_paths_and_sibling_cycles_through_a_parent_are_resolved_to_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"facerec-sync\"]\n"),
            ("facerec-sync/Cargo.toml", &package("facerec-sync", &[])),
            ("facerec-sync/src/lib.rs", "pub mod sync;\n"),
            (
                "facerec-sync/src/sync/mod.rs",
                "pub mod messages;\npub mod definitions;\n",
            ),
            (
                "facerec-sync/src/sync/messages.rs",
                "pub enum M { D(super::definitions::Signed) }\n",
            ),
            (
                "facerec-sync/src/sync/definitions.rs",
                "pub struct Signed;\npub fn decode() { let _ = super::super::sync::messages::M::D(Signed); }\n",
            ),
        ],
    );
    let report = check(dir.path()).unwrap();
    assert_eq!(
        report.problems,
        vec![
            "facerec-sync: import cycle between files: src/sync/definitions.rs → src/sync/messages.rs → src/sync/definitions.rs"
                .to_string()
        ]
    );
}

#[test]
fn the_server_reaching_into_a_command_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("Cargo.toml", "[workspace]\nmembers = [\"daemon\"]\n"),
            ("daemon/Cargo.toml", &package("facerecd", &[])),
            ("daemon/src/lib.rs", "pub mod commands;\npub mod server;\n"),
            ("daemon/src/commands/mod.rs", "pub mod train;\n"),
            ("daemon/src/commands/train.rs", "pub fn plugin_host() {}\n"),
            (
                "daemon/src/server.rs",
                "pub fn start() { crate::commands::train::plugin_host() }\n",
            ),
        ],
    );
    let report = check(dir.path()).unwrap();
    assert_eq!(
        report.problems,
        vec!["facerecd: src/server.rs must not import src/commands/train.rs".to_string()]
    );
}
