//! Embedders: an aligned chip → a 128-d descriptor.

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::descriptor::{DESCRIPTOR_LEN, Descriptor};
use crate::error::{VisionError, VisionResult};
use crate::models::ModelFiles;
use crate::rewrite::faster_graph;

pub trait Embedder: Send + Sync {
    fn embed(&self, chip: &RgbImage) -> VisionResult<Descriptor>;
}

/// An ONNX embedder taking one `[1, 3, size, size]` RGB chip, raw 0..255
/// (both shipped embedders normalise inside their graph), and giving a
/// `[1, 128]` descriptor.
///
/// - dlib's ResNet v1 (`dlib_resnet_v1.onnx`, 150×150 chip): descriptors
///   compared by Euclidean distance, used as they come.
/// - SFace (`sface_2021dec_fp32.onnx`, 112×112 ArcFace chip): compared by
///   cosine similarity, so descriptors are L2-normalised here; the
///   Euclidean distance of unit vectors is then `√(2 − 2·cos)`, and every
///   index and threshold in facerec can stay Euclidean.
pub struct OnnxEmbedder {
    name: &'static str,
    size: u32,
    normalise: bool,
    plan: TypedSimplePlan,
}

/// The runnable form tract gives an optimised typed model.
type TypedSimplePlan = std::sync::Arc<TypedRunnableModel>;

impl OnnxEmbedder {
    /// Loads `file` (checked against `SHA256SUMS`), applies the exact
    /// load-time rewrites of `rewrite::faster_graph` and optimises it for one chip
    /// of `size`.
    pub fn load(
        files: &ModelFiles,
        name: &'static str,
        file: &str,
        size: u32,
        normalise: bool,
    ) -> VisionResult<Self> {
        let err = |e: TractError| VisionError::Inference {
            network: name,
            reason: e.to_string(),
        };
        let bytes = files.read(file)?;
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(err)?;
        if let Some(graph) = proto.graph.as_mut() {
            faster_graph(graph);
        }
        let s = size as usize;
        let plan = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, s, s]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(Self {
            name,
            size,
            normalise,
            plan,
        })
    }

    fn err(&self, reason: String) -> VisionError {
        VisionError::Inference {
            network: self.name,
            reason,
        }
    }
}

impl Embedder for OnnxEmbedder {
    fn embed(&self, chip: &RgbImage) -> VisionResult<Descriptor> {
        let size = self.size as usize;
        if chip.dimensions() != (self.size, self.size) {
            return Err(self.err(format!(
                "chip is {:?}, expected {size}×{size}",
                chip.dimensions()
            )));
        }
        let plane = size * size;
        let mut input = vec![0.0f32; 3 * plane];
        for (i, px) in chip.pixels().enumerate() {
            input[i] = f32::from(px[0]);
            input[plane + i] = f32::from(px[1]);
            input[2 * plane + i] = f32::from(px[2]);
        }
        let tract = |e: TractError| self.err(e.to_string());
        let tensor = Tensor::from_shape(&[1, 3, size, size], &input).map_err(tract)?;
        let out = self.plan.run(tvec![tensor.into()]).map_err(tract)?;
        let view = out[0].try_as_plain_ram().map_err(tract)?;
        let values = view.as_slice::<f32>().map_err(tract)?;
        if values.len() != DESCRIPTOR_LEN {
            return Err(self.err(format!(
                "output has {} values, expected {DESCRIPTOR_LEN}",
                values.len()
            )));
        }
        let mut descriptor = values.to_vec();
        if self.normalise {
            let norm = descriptor.iter().map(|v| v * v).sum::<f32>().sqrt();
            if !(norm > 0.0 && norm.is_finite()) {
                return Err(self.err(format!("descriptor norm is {norm}")));
            }
            descriptor.iter_mut().for_each(|v| *v /= norm);
        }
        Ok(Descriptor(descriptor))
    }
}
