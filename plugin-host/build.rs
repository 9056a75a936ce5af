//! Builds the bundled plugins (and the test suite's hostile plugin) from
//! source for `wasm32-wasip2`, the way wasmtime's own test programs are
//! built, and embeds them: no prebuilt `.wasm` is kept in git.
//!
//! Each plugin is its own cargo workspace (as a third-party plugin is), built
//! into `target/wasm-plugins` so this nested cargo never waits on the lock of
//! the build that runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (directory under the repository, plugin name)
const PLUGINS: &[(&str, &str)] = &[
    ("plugins/wikidata-source", "wikidata-source"),
    ("plugins/sitelinks-filter", "sitelinks-filter"),
    ("plugins/csv-source", "csv-source"),
];
const TEST_PLUGINS: &[(&str, &str)] = &[
    ("plugin-host/tests/plugins/hostile", "hostile-test"),
    ("plugin-host/tests/plugins/future-wit", "future-wit-test"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let repo = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = repo.join("target").join("wasm-plugins");
    println!("cargo:rerun-if-changed={}", repo.join("sdk").display());
    println!("cargo:rerun-if-changed={}", repo.join("plugins").display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("tests/plugins").display()
    );

    check_target_installed();
    let mut consts = String::new();
    for (group, list) in [("BUNDLED", PLUGINS), ("TEST_PLUGINS", TEST_PLUGINS)] {
        let dest = out_dir.join(group.to_ascii_lowercase());
        std::fs::create_dir_all(&dest).unwrap();
        if group == "TEST_PLUGINS" {
            consts.push_str("/// Misbehaving plugins for the host's own tests.\n#[doc(hidden)]\n");
        }
        consts.push_str(&format!("pub const {group}: &[(&str, &[u8])] = &[\n"));
        for (dir, name) in list {
            let wasm = build_plugin(&repo.join(dir), name, &target_dir);
            let copy = dest.join(format!("{name}.wasm"));
            std::fs::copy(&wasm, &copy).unwrap();
            consts.push_str(&format!(
                "    ({name:?}, include_bytes!({:?})),\n",
                copy.display().to_string()
            ));
        }
        consts.push_str("];\n");
    }
    std::fs::write(out_dir.join("plugins.rs"), consts).unwrap();
}

fn check_target_installed() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("run rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    if !Path::new(&sysroot)
        .join("lib/rustlib/wasm32-wasip2")
        .exists()
    {
        panic!(
            "\n\nfacerec's plugins are built for the wasm32-wasip2 target, which this toolchain lacks.\n\
             Install it with:  rustup target add wasm32-wasip2   (scripts/setup does this)\n\n"
        );
    }
}

fn build_plugin(dir: &Path, name: &str, target_dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target_dir);
    // The outer build's flags and jobserver are for the host target, not this one.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build plugin {name}: {e}"));
    if !status.success() {
        panic!(
            "building plugin {name} in {} failed ({status})",
            dir.display()
        );
    }
    let file = name.replace('-', "_");
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{file}.wasm"))
}
