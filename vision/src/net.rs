//! One ONNX network with a free input size (MTCNN's P-Net, YuNet): parsed
//! once, specialised to concrete input shapes.
//!
//! tract runs a plan with concrete shapes ~3× faster than one with symbolic
//! height and width, and building one takes a few milliseconds, so plans are
//! cached per input shape (camera frames reuse the same handful of sizes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;

use crate::error::{VisionError, VisionResult};
use crate::rewrite::faster_graph;

type Plan = Arc<TypedRunnableModel>;

/// More distinct sizes than this (photos of many sizes) and the cache is
/// emptied: rebuilding costs milliseconds, an unbounded cache costs memory.
const MAX_PLANS: usize = 96;

pub(crate) struct Net {
    pub name: &'static str,
    model: InferenceModel,
    plans: Mutex<HashMap<[usize; 4], Plan>>,
}

impl Net {
    /// Parses `bytes`, rewrites the graph into the faster, equivalent form
    /// of [`faster_graph`] and pins the outputs, in the given order, by node
    /// name (none given: the graph's own outputs, in its order).
    pub fn load(name: &'static str, bytes: &[u8], outputs: &[&str]) -> VisionResult<Self> {
        let err = |reason: String| VisionError::Inference {
            network: name,
            reason,
        };
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| err(format!("cannot parse the ONNX model: {e}")))?;
        if let Some(graph) = proto.graph.as_mut() {
            faster_graph(graph);
        }
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| err(format!("cannot load the ONNX graph: {e}")))?;
        if !outputs.is_empty() {
            model = model
                .with_outputs_by_name(outputs.iter().copied())
                .map_err(|e| err(format!("outputs {outputs:?} not found: {e}")))?;
        }
        Ok(Self {
            name,
            model,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// The plan for one input shape (batches were measured no faster per
    /// item with tract, so every run is a batch of one).
    fn plan(&self, shape: [usize; 4]) -> VisionResult<Plan> {
        if let Some(plan) = self.plans.lock().expect("plan cache lock").get(&shape) {
            return Ok(plan.clone());
        }
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| VisionError::Inference {
                network: self.name,
                reason: format!("cannot build a plan for a {shape:?} input: {e}"),
            })?;
        let mut plans = self.plans.lock().expect("plan cache lock");
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(shape, plan.clone());
        Ok(plan)
    }

    /// Runs on one input of `shape`; returns each output as a flat vector.
    pub fn run(&self, shape: [usize; 4], input: &[f32]) -> VisionResult<Vec<Vec<f32>>> {
        let plan = self.plan(shape)?;
        let err = |e: TractError| VisionError::Inference {
            network: self.name,
            reason: e.to_string(),
        };
        let tensor = Tensor::from_shape(&shape, input).map_err(err)?;
        let outputs = plan.run(tvec![tensor.into()]).map_err(err)?;
        outputs
            .iter()
            .map(|t| {
                t.try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>().map(|s| s.to_vec()))
                    .map_err(err)
            })
            .collect()
    }
}
