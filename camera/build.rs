//! Fails early, with the package to install, where the `v4l` crate's
//! bindgen step would fail later with "Unable to find libclang".
//! (This script has no dependencies, so cargo runs it long before bindgen
//! is even compiled.)

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");
    if std::env::var_os("LIBCLANG_PATH").is_some() {
        return;
    }
    let dirs = [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib/arm-linux-gnueabihf",
    ];
    let is_libclang = |p: &Path| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n.starts_with("libclang") && n.contains(".so") && !n.starts_with("libclang-cpp")
        })
    };
    let in_dir = |dir: &Path| {
        std::fs::read_dir(dir)
            .map(|entries| entries.flatten().any(|e| is_libclang(&e.path())))
            .unwrap_or(false)
    };
    let llvm_dirs = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .map(|e| e.path().join("lib"));
    let found = dirs.iter().map(Path::new).any(in_dir) || llvm_dirs.into_iter().any(|d| in_dir(&d));
    if !found {
        panic!(
            "\n\nfacerec-camera: libclang was not found. The V4L2 camera support (the `v4l` crate) \
             generates its bindings with bindgen, which needs it.\n\
             Install it: `sudo apt-get install libclang-dev` (Debian/Ubuntu), \
             `sudo dnf install clang-devel` (Fedora), or run `scripts/setup`.\n\
             If libclang is installed elsewhere, set LIBCLANG_PATH to its directory.\n\n"
        );
    }
}
