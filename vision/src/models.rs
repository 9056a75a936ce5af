//! Locating and verifying the ONNX files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{VisionError, VisionResult};

pub const EMBEDDER: &str = "dlib_resnet_v1.onnx";
pub const YUNET: &str = "yunet_2023mar_fp32.onnx";
pub const SFACE: &str = "sface_2021dec_fp32.onnx";

/// The models folder: `FACEREC_MODELS_DIR`, else `./models`, else the
/// repository's `models/` this crate was built from.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FACEREC_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.join(EMBEDDER).is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

/// The model files of a folder, checked against its `SHA256SUMS` — a
/// truncated download or a Git LFS pointer would otherwise load as garbage
/// or fail deep inside tract.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
}

impl ModelFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Reads a model file and verifies its checksum.
    pub(crate) fn read(&self, name: &str) -> VisionResult<Vec<u8>> {
        let path = self.dir.join(name);
        let err = |reason: String| VisionError::Model {
            path: path.clone(),
            reason,
        };
        let sums = self.sums()?;
        let expected = sums.get(name).ok_or_else(|| {
            err(format!(
                "not listed in {}",
                self.dir.join("SHA256SUMS").display()
            ))
        })?;
        let bytes = std::fs::read(&path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if &actual != expected {
            return Err(err(format!(
                "sha256 is {actual}, expected {expected} (a damaged copy or a Git LFS pointer?)"
            )));
        }
        Ok(bytes)
    }

    fn sums(&self) -> VisionResult<HashMap<String, String>> {
        let path = self.dir.join("SHA256SUMS");
        let text = std::fs::read_to_string(&path).map_err(|e| VisionError::Model {
            path: path.clone(),
            reason: format!("cannot read the checksum list: {e}"),
        })?;
        Ok(text
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                Some((
                    parts.nth(1)?.trim_start_matches('*').to_string(),
                    l.split_whitespace().next()?.to_string(),
                ))
            })
            .collect())
    }
}
