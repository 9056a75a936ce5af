//! facerec's face vision, shared by the hub (training) and the edge (live
//! recognition): everything between image bytes and a 128-d descriptor.
//!
//! ```text
//! bytes ─decode─► RGB image ─Detector (YuNet)─► faces (box, score, 5 points)
//!        ─QualityGate─► faces fit to embed, or a Refusal with its reason
//!        ─align─► the pack's chip ─Embedder─► Descriptor
//! ```
//!
//! A [`ModelPack`] names the chip, the embedder, the metric and the
//! threshold (`dlib-v1`: dlib's ResNet on a 150×150 chip, Euclidean;
//! `sface-v1`: SFace on the 112×112 ArcFace chip, cosine). The networks
//! are ONNX files in the repository's `models/` run by tract, loaded,
//! verified and optimised once per pack ([`FaceEngine::load_pack`],
//! [`Engines`]) and shared across threads; every call is blocking CPU
//! work, so async callers run it on a blocking pool.
//!
//! [`distance`] and a pack's [`ModelPack::match_distance`] are the one
//! definition of "same person" in facerec ([`MATCH_THRESHOLD`] is
//! `dlib-v1`'s).

mod align;
mod decode;
mod descriptor;
mod detect;
mod embed;
mod engine;
mod error;
mod geometry;
mod models;
mod net;
mod pack;
mod quality;
mod resize;
mod rewrite;
mod yunet;

pub use align::{ARCFACE_CHIP_SIZE, CHIP_SIZE, ChipKind, align_face};
pub use decode::{DecodeLimits, decode_image};
pub use descriptor::{DESCRIPTOR_LEN, Descriptor, MATCH_THRESHOLD, distance};
pub use detect::{BBox, DEFAULT_SCORE_THRESHOLD, Detector, DetectorConfig, Face, SMALLEST_FACE};
pub use embed::{Embedder, OnnxEmbedder};
pub use engine::{AnalyzedFace, Engines, FaceEngine};
pub use error::{VisionError, VisionResult};
pub use image::RgbImage;
pub use models::{ModelFiles, default_models_dir};
pub use pack::{DEFAULT_PACK, DLIB_V1, DetectorKind, Metric, ModelPack, PACKS, SFACE_V1};
pub use quality::{QualityGate, Refusal, pose};
pub use yunet::YuNetDetector;
