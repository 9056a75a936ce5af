use std::path::PathBuf;

use thiserror::Error;

pub type VisionResult<T> = Result<T, VisionError>;

#[derive(Debug, Error)]
pub enum VisionError {
    #[error("the input is empty (0 bytes)")]
    Empty,
    #[error("the input is {size} bytes, over the {limit}-byte limit")]
    TooManyBytes { size: usize, limit: usize },
    #[error(
        "not a supported image (JPEG, PNG, WebP, BMP, GIF or TIFF expected; the first bytes are {magic})"
    )]
    NotAnImage { magic: String },
    #[error("the image is {width}×{height} ({megapixels:.1} MP), over the {limit_mp:.1} MP limit")]
    TooLarge {
        width: u32,
        height: u32,
        megapixels: f64,
        limit_mp: f64,
    },
    #[error("the {format} image is truncated (the data ends early)")]
    Truncated { format: String },
    #[error("the {format} image is corrupt: {reason}")]
    Corrupt { format: String, reason: String },
    #[error("the image is {width}×{height}, too small to hold a face")]
    TooSmall { width: u32, height: u32 },
    #[error("model file {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("unknown model pack '{name}' (this build runs: {known})")]
    UnknownPack { name: String, known: String },
    #[error("inference failed in {network}: {reason}")]
    Inference {
        network: &'static str,
        reason: String,
    },
}
