//! README's first command: `facerecd demo` runs the whole system on
//! loopback and exits 0 only when recognition and isolation held.

use std::process::Command;

#[test]
fn the_demo_runs_end_to_end_and_its_checks_hold() {
    let out = Command::new(env!("CARGO_BIN_EXE_facerecd"))
        .arg("demo")
        .env_remove("FACEREC_CONFIG")
        .env_remove("FACEREC_CAMERAS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for line in [
        "✓ the Slovenian edge recognised the Serbian face through inheritance",
        "✓ the Greek edge recognised the Greek face in greece",
        "✓ the Greek-only face is unknown on the Slovenian edge",
        "✓ the Serbian face is unknown on the Greek edge",
        "all checks held",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    // The table names who was found where.
    assert!(
        stdout.contains("Person 05 (person_05)") && stdout.contains("serbia"),
        "{stdout}"
    );
    assert!(stderr.contains("batch 1 signed and published"), "{stderr}");
}
