//! `cargo run -p facerec-layering [ROOT]`: prints each crate's share of the
//! workspace's non-test lines and every layering problem; exits 1 when
//! there is one. `cargo test` runs the same check (tests/workspace.rs).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(facerec_layering::workspace_root);
    let report = match facerec_layering::check(&root) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let total = report.total_lines().max(1);
    let mut sizes = report.sizes.clone();
    sizes.sort_by(|a, b| b.1.cmp(&a.1));
    println!("{:<22} {:>7} {:>6}", "crate", "lines", "share");
    for (name, lines) in &sizes {
        println!(
            "{name:<22} {lines:>7} {:>5.1}%",
            *lines as f64 * 100.0 / total as f64
        );
    }
    println!("{:<22} {total:>7}", "workspace");
    let mut problems = report.problems.clone();
    problems.extend(facerec_layering::size_problems(
        &report,
        facerec_layering::BINARY,
        facerec_layering::BINARY_SHARE,
        facerec_layering::CRATE_SHARE,
    ));
    if problems.is_empty() {
        println!("layering holds: no forbidden crate edge, no import cycle between files");
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("problem: {p}");
        }
        ExitCode::FAILURE
    }
}
