//! Folding an inference-mode `BatchNormalization` into the `Conv` before it.
//!
//! Why: tract runs each batch norm as its own per-channel pass over the
//! activations; SFace has 29 of them after its 27 convolutions (with the
//! PReLU rewrite, its time per chip went from 66 to 38 ms). A batch norm
//! after a convolution is an affine map per output channel, so it can be
//! moved into the convolution's weights and bias:
//! `w' = w·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β`.
//!
//! Mathematically exact; in f32 the folded products round differently
//! (a test bounds the difference). Only a convolution whose output feeds
//! the batch norm alone, with every parameter a constant initializer, is
//! folded; anything else is left as it is.

use std::collections::HashMap;

use tract_onnx::pb::{GraphProto, TensorProto, tensor_proto::DataType};

/// Folds every foldable `Conv → BatchNormalization` pair; returns how many
/// batch norms were removed.
pub(crate) fn fold_batch_norms(graph: &mut GraphProto) -> usize {
    let mut consumers: HashMap<String, usize> = HashMap::new();
    for node in &graph.node {
        for input in &node.input {
            *consumers.entry(input.clone()).or_default() += 1;
        }
    }
    for output in &graph.output {
        *consumers.entry(output.name.clone()).or_default() += 1;
    }
    let producer: HashMap<String, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i)))
        .collect();

    let mut folded = 0;
    let mut removed = vec![false; graph.node.len()];
    for bn_index in 0..graph.node.len() {
        let bn = &graph.node[bn_index];
        if bn.op_type != "BatchNormalization" || bn.input.len() != 5 || bn.output.len() != 1 {
            continue;
        }
        let Some(&conv_index) = producer.get(&bn.input[0]) else {
            continue;
        };
        let conv = &graph.node[conv_index];
        if conv.op_type != "Conv"
            || conv.output.len() != 1
            || consumers.get(&conv.output[0]) != Some(&1)
            || removed[conv_index]
        {
            continue;
        }
        let Some(fold) = Fold::new(graph, conv_index, bn_index) else {
            continue;
        };
        fold.apply(graph, conv_index, bn_index);
        removed[bn_index] = true;
        folded += 1;
    }
    if folded > 0 {
        let mut index = 0;
        graph.node.retain(|_| {
            index += 1;
            !removed[index - 1]
        });
        drop_unused_initializers(graph);
    }
    folded
}

/// The folded weights and bias of one pair.
struct Fold {
    weights: TensorProto,
    bias: TensorProto,
}

impl Fold {
    fn new(graph: &GraphProto, conv_index: usize, bn_index: usize) -> Option<Self> {
        let (conv, bn) = (&graph.node[conv_index], &graph.node[bn_index]);
        let epsilon = bn
            .attribute
            .iter()
            .find(|a| a.name == "epsilon")
            .map_or(1e-5, |a| a.f);
        let param = |name: &str| initializer(graph, name).and_then(floats);
        let weights = initializer(graph, conv.input.get(1)?)?;
        let w = floats(weights)?;
        let out_channels = usize::try_from(*weights.dims.first()?).ok()?;
        if out_channels == 0 || w.len() % out_channels != 0 {
            return None;
        }
        let (gamma, beta, mean, var) = (
            param(&bn.input[1])?,
            param(&bn.input[2])?,
            param(&bn.input[3])?,
            param(&bn.input[4])?,
        );
        if [&gamma, &beta, &mean, &var]
            .iter()
            .any(|p| p.len() != out_channels)
        {
            return None;
        }
        let bias = match conv.input.get(2) {
            Some(name) if !name.is_empty() => param(name)?,
            _ => vec![0.0; out_channels],
        };
        if bias.len() != out_channels {
            return None;
        }
        let per_channel = w.len() / out_channels;
        let mut new_w = w;
        let mut new_b = vec![0.0f32; out_channels];
        for c in 0..out_channels {
            let k = gamma[c] / (var[c] + epsilon).sqrt();
            for v in &mut new_w[c * per_channel..(c + 1) * per_channel] {
                *v *= k;
            }
            new_b[c] = (bias[c] - mean[c]) * k + beta[c];
        }
        let name = |suffix: &str| format!("{}__facerec_folded_{suffix}", conv.name);
        Some(Self {
            weights: float_tensor(name("weights"), weights.dims.clone(), new_w),
            bias: float_tensor(name("bias"), vec![out_channels as i64], new_b),
        })
    }

    fn apply(self, graph: &mut GraphProto, conv_index: usize, bn_index: usize) {
        let bn_output = graph.node[bn_index].output[0].clone();
        let conv = &mut graph.node[conv_index];
        conv.input.truncate(1);
        conv.input.push(self.weights.name.clone());
        conv.input.push(self.bias.name.clone());
        // Later nodes read the batch norm's output by name.
        conv.output[0] = bn_output;
        graph.initializer.push(self.weights);
        graph.initializer.push(self.bias);
    }
}

fn initializer<'a>(graph: &'a GraphProto, name: &str) -> Option<&'a TensorProto> {
    graph.initializer.iter().find(|t| t.name == name)
}

/// The values of an f32 tensor, from `float_data` or little-endian `raw_data`.
fn floats(tensor: &TensorProto) -> Option<Vec<f32>> {
    if tensor.data_type != DataType::Float as i32 {
        return None;
    }
    if !tensor.float_data.is_empty() {
        return Some(tensor.float_data.clone());
    }
    if !tensor.raw_data.len().is_multiple_of(4) {
        return None;
    }
    Some(
        tensor
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn float_tensor(name: String, dims: Vec<i64>, values: Vec<f32>) -> TensorProto {
    TensorProto {
        name,
        dims,
        data_type: DataType::Float as i32,
        float_data: values,
        ..Default::default()
    }
}

fn drop_unused_initializers(graph: &mut GraphProto) {
    let used: std::collections::HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    let keep: Vec<bool> = graph
        .initializer
        .iter()
        .map(|t| used.contains(t.name.as_str()))
        .collect();
    let dropped: std::collections::HashSet<String> = graph
        .initializer
        .iter()
        .zip(&keep)
        .filter(|(_, k)| !**k)
        .map(|(t, _)| t.name.clone())
        .collect();
    let mut index = 0;
    graph.initializer.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    // Older exporters also list initializers as graph inputs.
    graph.input.retain(|i| !dropped.contains(&i.name));
}
