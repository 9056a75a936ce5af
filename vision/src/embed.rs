//! The embedder: a 150×150 chip → a 128-d descriptor.

use std::sync::Arc;

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::align::CHIP_SIZE;
use crate::descriptor::{DESCRIPTOR_LEN, Descriptor};
use crate::error::{VisionError, VisionResult};
use crate::models::{EMBEDDER, ModelFiles};

pub trait Embedder: Send + Sync {
    fn embed(&self, chip: &RgbImage) -> VisionResult<Descriptor>;
}

/// dlib's face recognition ResNet v1 converted to ONNX: input `chip`
/// `[1, 3, 150, 150]` RGB 0..255 (the mean subtraction is inside the graph),
/// output `descriptor` `[1, 128]`.
pub struct DlibEmbedder {
    plan: Arc<TypedRunnableModel>,
}

fn err(e: impl std::fmt::Display) -> VisionError {
    VisionError::Inference {
        network: "embedder",
        reason: e.to_string(),
    }
}

impl DlibEmbedder {
    pub fn load(files: &ModelFiles) -> VisionResult<Self> {
        let bytes = files.read(EMBEDDER)?;
        let size = CHIP_SIZE as usize;
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, size, size]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(Self { plan })
    }
}

impl Embedder for DlibEmbedder {
    fn embed(&self, chip: &RgbImage) -> VisionResult<Descriptor> {
        let size = CHIP_SIZE as usize;
        if chip.dimensions() != (CHIP_SIZE, CHIP_SIZE) {
            return Err(err(format!(
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
        let tensor = Tensor::from_shape(&[1, 3, size, size], &input).map_err(err)?;
        let out = self.plan.run(tvec![tensor.into()]).map_err(err)?;
        let view = out[0].try_as_plain_ram().map_err(err)?;
        let values = view.as_slice::<f32>().map_err(err)?;
        if values.len() != DESCRIPTOR_LEN {
            return Err(err(format!(
                "output has {} values, expected {DESCRIPTOR_LEN}",
                values.len()
            )));
        }
        Ok(Descriptor(values.to_vec()))
    }
}
