//! Load-time rewrites of the shipped graphs into forms tract runs faster,
//! with the same arithmetic. The ONNX files stay as shipped (and as their
//! checksums say); only the graph handed to tract changes.

mod batch_norm;

use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto, tensor_proto::DataType};

pub(crate) use batch_norm::fold_batch_norms;

/// Applies every rewrite below; returns how many nodes were rewritten.
pub(crate) fn faster_graph(graph: &mut GraphProto) -> usize {
    fold_batch_norms(graph) + prelu_as_max_min(graph) + separable_max_pools(graph)
}

/// Name of the scalar `0.0` the rewritten nodes compare against.
const ZERO: &str = "facerec_prelu_zero";

/// Replaces every `PRelu(x, a)` by `Max(x, 0) + a · Min(x, 0)`.
///
/// Why: tract lowers PRelu to a comparison into a boolean tensor, a multiply
/// and a select, three passes that cost more than a small net's
/// convolutions. The max/min form becomes two fused element-wise chains
/// (measured on the MTCNN nets facerec ran before YuNet: R-Net
/// 0.196 → 0.139 ms, O-Net 0.92 → 0.77 ms per crop).
///
/// Exact, not approximate: for `x > 0` it is `x + a·0 = x`, for `x < 0` it is
/// `0 + a·x`; one term is always a zero, so no rounding is added. Returns how
/// many nodes were rewritten.
pub(crate) fn prelu_as_max_min(graph: &mut GraphProto) -> usize {
    let mut rewritten = 0;
    let mut nodes = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        if node.op_type != "PRelu" || node.input.len() != 2 || node.output.len() != 1 {
            nodes.push(node);
            continue;
        }
        let (x, slope, y) = (&node.input[0], &node.input[1], &node.output[0]);
        let part = |suffix: &str| format!("{y}__facerec_{suffix}");
        let op = |op_type: &str, inputs: [&str; 2], output: String| NodeProto {
            name: output.clone(),
            op_type: op_type.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output],
            ..Default::default()
        };
        nodes.push(op("Max", [x, ZERO], part("positive")));
        nodes.push(op("Min", [x, ZERO], part("negative")));
        nodes.push(op(
            "Mul",
            [&part("negative"), slope],
            part("scaled_negative"),
        ));
        // The last node keeps the PRelu's own name: outputs are pinned by
        // node name, and later nodes read its output by tensor name.
        let mut sum = op(
            "Add",
            [&part("positive"), &part("scaled_negative")],
            y.clone(),
        );
        sum.name = node.name.clone();
        nodes.push(sum);
        rewritten += 1;
    }
    graph.node = nodes;
    if rewritten > 0 && !graph.initializer.iter().any(|t| t.name == ZERO) {
        graph.initializer.push(TensorProto {
            name: ZERO.into(),
            data_type: DataType::Float as i32,
            float_data: vec![0.0],
            ..Default::default()
        });
    }
    rewritten
}

/// Splits every square `k × k` max pool (k ≥ 2) into a `k × 1` pool down
/// the columns and a `1 × k` pool along the rows.
///
/// Why: tract walks a square pool tap by tap (R-Net's and O-Net's first
/// pools were a quarter of O-Net's time, YuNet's four 2×2 pools a fifth of
/// its time); two one-dimensional pools take its faster row path (measured:
/// O-Net 0.78 → 0.71 ms per crop).
///
/// Exact: a maximum is separable, and `SAME_UPPER`/`VALID` padding is worked
/// out per axis, so each axis is padded as before. Pools with non-zero
/// `pads`, dilations, ceil mode or an index output are left alone. Returns
/// how many pools were split.
pub(crate) fn separable_max_pools(graph: &mut GraphProto) -> usize {
    let mut split = 0;
    let mut nodes = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let Some(k) = splittable_pool_size(&node) else {
            nodes.push(node);
            continue;
        };
        let stride = ints(&node, "strides").map_or(vec![1, 1], <[i64]>::to_vec);
        let between = format!("{}__facerec_columns", node.output[0]);
        let pass = |kernel: [i64; 2], strides: [i64; 2], input: String, output: String| {
            let mut pool = node.clone();
            pool.input = vec![input];
            pool.output = vec![output];
            for attr in &mut pool.attribute {
                match attr.name.as_str() {
                    "kernel_shape" => attr.ints = kernel.to_vec(),
                    "strides" => attr.ints = strides.to_vec(),
                    _ => {}
                }
            }
            if !pool.attribute.iter().any(|a| a.name == "strides") {
                pool.attribute.push(AttributeProto {
                    name: "strides".into(),
                    r#type: tract_onnx::pb::attribute_proto::AttributeType::Ints as i32,
                    ints: strides.to_vec(),
                    ..Default::default()
                });
            }
            pool
        };
        let mut columns = pass(
            [k, 1],
            [stride[0], 1],
            node.input[0].clone(),
            between.clone(),
        );
        columns.name = between.clone();
        // The second pass keeps the pool's name and output, as later nodes
        // and pinned outputs refer to them.
        let rows = pass([1, k], [1, stride[1]], between, node.output[0].clone());
        nodes.push(columns);
        nodes.push(rows);
        split += 1;
    }
    graph.node = nodes;
    split
}

fn ints<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.ints.as_slice())
}

/// `Some(k)` for a plain square `k × k` max pool worth splitting.
fn splittable_pool_size(node: &NodeProto) -> Option<i64> {
    if node.op_type != "MaxPool" || node.input.len() != 1 || node.output.len() != 1 {
        return None;
    }
    let kernel = ints(node, "kernel_shape")?;
    let stride_ok = ints(node, "strides").is_none_or(|s| s.len() == 2);
    let plain = node.attribute.iter().all(|a| match a.name.as_str() {
        "kernel_shape" | "strides" => true,
        "auto_pad" => matches!(a.s.as_slice(), b"SAME_UPPER" | b"VALID" | b"NOTSET"),
        // All-zero pads are no padding (YuNet writes them out).
        "pads" => a.ints.iter().all(|&p| p == 0),
        "ceil_mode" => a.i == 0,
        "storage_order" => a.i == 0,
        _ => false, // pads, dilations: left as they are
    });
    (kernel.len() == 2 && kernel[0] == kernel[1] && kernel[0] >= 2 && stride_ok && plain)
        .then_some(kernel[0])
}

#[cfg(test)]
mod tests {
    use tract_onnx::prelude::*;

    use super::*;
    use crate::models::{ModelFiles, SFACE, YUNET, default_models_dir};

    /// Runs `file` on a fixed pseudo-random `shape` input, with or without
    /// the rewrite; returns every output's values.
    fn run(file: &str, shape: [usize; 4], rewrite: bool) -> (usize, Vec<Vec<f32>>) {
        let bytes = ModelFiles::new(default_models_dir()).read(file).unwrap();
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut std::io::Cursor::new(bytes))
            .unwrap();
        let rewritten = if rewrite {
            faster_graph(proto.graph.as_mut().unwrap())
        } else {
            0
        };
        let plan = onnx
            .model_for_proto_model(&proto)
            .unwrap()
            .with_input_fact(0, f32::fact(shape).into())
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let len: usize = shape.iter().product();
        // Spread over MTCNN's input range, both signs, so PReLUs see both.
        let input: Vec<f32> = (0..len)
            .map(|i| ((i * 7919 % 255) as f32 - 127.5) / 128.0)
            .collect();
        let outputs = plan
            .run(tvec![Tensor::from_shape(&shape, &input).unwrap().into()])
            .unwrap();
        let values = outputs
            .iter()
            .map(|t| {
                t.try_as_plain_ram()
                    .unwrap()
                    .as_slice::<f32>()
                    .unwrap()
                    .to_vec()
            })
            .collect();
        (rewritten, values)
    }

    #[test]
    fn rewritten_nets_compute_what_the_shipped_ones_do() {
        // (file, input, nodes rewritten: batch norms + PReLUs + pools)
        for (file, shape, rewrites) in [
            (YUNET, [1, 3, 64, 96], 4),
            // SFace: 27 of its 29 batch norms follow a convolution.
            (SFACE, [1, 3, 112, 112], 27 + 27),
        ] {
            let (none, shipped) = run(file, shape, false);
            let (rewritten, fast) = run(file, shape, true);
            assert_eq!((none, rewritten), (0, rewrites), "{file}: nodes rewritten");
            assert_eq!(shipped.len(), fast.len(), "{file}: outputs");
            for (a, b) in shipped.iter().zip(&fast) {
                assert_eq!(a.len(), b.len(), "{file}: output length");
                let worst = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f32::max);
                // Folded batch norms round differently: bound the error
                // relative to the output's scale.
                let scale = a.iter().map(|x| x.abs()).fold(1.0, f32::max);
                assert!(
                    worst <= 1e-5 * scale,
                    "{file}: outputs differ by {worst} (scale {scale})"
                );
            }
        }
    }

    #[test]
    fn pools_that_are_not_plain_squares_are_left_alone() {
        let pool = |kernel: Vec<i64>, extra: Option<AttributeProto>| NodeProto {
            op_type: "MaxPool".into(),
            input: vec!["x".into()],
            output: vec!["y".into()],
            attribute: [AttributeProto {
                name: "kernel_shape".into(),
                ints: kernel,
                ..Default::default()
            }]
            .into_iter()
            .chain(extra)
            .collect(),
            ..Default::default()
        };
        let pads = AttributeProto {
            name: "pads".into(),
            ints: vec![1, 1, 1, 1],
            ..Default::default()
        };
        for node in [
            pool(vec![1, 1], None),
            pool(vec![3, 2], None),
            pool(vec![3, 3], Some(pads)),
        ] {
            let mut graph = GraphProto {
                node: vec![node],
                ..Default::default()
            };
            let before = graph.clone();
            assert_eq!(separable_max_pools(&mut graph), 0);
            assert_eq!(graph, before);
        }
        let mut graph = GraphProto {
            node: vec![pool(vec![3, 3], None)],
            ..Default::default()
        };
        assert_eq!(separable_max_pools(&mut graph), 1);
        let kernels: Vec<_> = graph.node.iter().map(|n| ints(n, "kernel_shape")).collect();
        assert_eq!(kernels, [Some(&[3, 1][..]), Some(&[1, 3][..])]);
        assert_eq!(graph.node[1].output, ["y"]);
    }

    #[test]
    fn a_graph_without_prelu_is_left_alone() {
        let mut graph = GraphProto {
            node: vec![NodeProto {
                op_type: "Relu".into(),
                input: vec!["x".into()],
                output: vec!["y".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let before = graph.clone();
        assert_eq!(prelu_as_max_min(&mut graph), 0);
        assert_eq!(graph, before);
    }
}
