//! v4l2-sys-mit 0.3.0's build script (MIT, Christopher N. Hesse), patched
//! into facerec's build (`[patch.crates-io]` in the workspace Cargo.toml)
//! for one reason: without libclang, bindgen fails with "Unable to find
//! libclang … set LIBCLANG_PATH", which does not say what to install. This
//! copy says so first; the bindings it generates are unchanged.

use std::env;
use std::path::{Path, PathBuf};

/// Whether clang-sys will find a libclang: LIBCLANG_PATH, the usual
/// library folders, or an LLVM install under /usr/lib/llvm-*.
fn libclang_present() -> bool {
    if env::var_os("LIBCLANG_PATH").is_some() {
        return true;
    }
    let is_libclang = |name: &str| {
        name.strip_prefix("libclang").is_some_and(|rest| {
            rest.starts_with(".so") || (rest.starts_with('-') && !rest.starts_with("-cpp") && rest.contains(".so"))
        })
    };
    let holds_libclang = |dir: &Path| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| is_libclang(&e.file_name().to_string_lossy()))
    };
    let llvm = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .map(|e| e.path().join("lib"));
    ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib/arm-linux-gnueabihf"]
        .iter()
        .map(PathBuf::from)
        .chain(llvm)
        .any(|d| holds_libclang(&d))
}

fn main() {
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=build.rs");
    if !libclang_present() {
        eprintln!(
            "\nfacerec: libclang was not found. V4L2 camera support (the `v4l` crate) generates its \
             bindings with bindgen, which needs it.\n  Install it: `sudo apt-get install libclang-dev` \
             (Debian/Ubuntu), `sudo dnf install clang-devel` (Fedora) — or run `scripts/setup`, \
             which does.\n  If libclang is installed elsewhere, set LIBCLANG_PATH to its folder.\n"
        );
        std::process::exit(1);
    }
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .generate()
        .expect("Failed to generate bindings");

    let out_path = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings
        .write_to_file(out_path.join("v4l2_bindings.rs"))
        .expect("Failed to write bindings");
}
