#!/usr/bin/env python3
"""Converts dlib's face recognition ResNet, written as XML by dump_xml
(dlib's net_to_xml), to ONNX.

usage: xml_to_onnx.py NET.xml OUT.onnx

dlib lists layers from the output (idx 0, the loss) to the input; this walks
them from the input up, keeping the "current" tensor and the tagged ones:
  input_rgb_image_sized  (x - mean_c) / 256, NCHW RGB 0..255 in
  con                    Conv (its padding and stride as written)
  affine_con             folded into the preceding Conv (gamma, beta)
  relu / max_pool / avg_pool (nr=nc=0: global average)
  tag N / skip N         remember / go back to a tensor
  add_prev tag=N         current + tagged, the smaller one zero-padded at the
                         end of each axis first (as dlib's add_prev does)
  fc_no_bias             MatMul (weights are num_inputs x num_outputs)
Needs the `onnx` and `numpy` Python packages.
"""
import sys
import xml.etree.ElementTree as ET

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def values(elem):
    return np.array(elem.text.split(), dtype=np.float32)


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0
        self.shapes = {}  # tensor name -> (C, H, W)

    def name(self, prefix):
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, prefix, array):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, shape, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.shapes[out] = shape
        return out


def pool_out(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def convert(xml_path, onnx_path):
    layers = ET.parse(xml_path).getroot().findall("layer")
    layers.sort(key=lambda l: int(l.get("idx")))
    b = Builder()
    tags = {}
    current = None
    last_conv = None  # (node, weight init, bias init) of the conv feeding `current`
    for layer in reversed(layers):
        kind = layer.get("type")
        if kind == "input":
            spec = layer.find("input_rgb_image_sized")
            mean = np.array([float(spec.get(c)) for c in "rgb"], dtype=np.float32).reshape(1, 3, 1, 1)
            size = int(spec.get("nr"))
            centred = b.node("Sub", ["chip", b.const("mean", mean)], (3, size, size))
            current = b.node("Mul", [centred, b.const("scale", np.array(1 / 256, dtype=np.float32))], (3, size, size))
        elif kind == "tag":
            tags[layer.get("id")] = current
        elif kind == "skip":
            current = tags[layer.get("id")]
            last_conv = None
        elif kind == "comp":
            op = layer[0]
            c, h, w = b.shapes[current]
            if op.tag == "con":
                f, kh, kw = int(op.get("num_filters")), int(op.get("nr")), int(op.get("nc"))
                sy, sx = int(op.get("stride_y")), int(op.get("stride_x"))
                py, px = int(op.get("padding_y")), int(op.get("padding_x"))
                v = values(op)
                weights = v[: f * c * kh * kw].reshape(f, c, kh, kw)
                bias = v[f * c * kh * kw :] if op.get("use_bias", "true") == "true" else np.zeros(f, np.float32)
                assert bias.size == f, f"con: {v.size} values for {f}x{c}x{kh}x{kw}"
                wi, bi = b.const("w", weights), b.const("b", bias)
                current = b.node(
                    "Conv", [current, wi, bi], (f, pool_out(h, kh, sy, py), pool_out(w, kw, sx, px)),
                    kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px],
                )
                last_conv = (wi, bi)
            elif op.tag == "affine_con":
                v = values(op)
                gamma, beta = v[:c], v[c:]
                assert last_conv is not None, "affine not after a convolution"
                wi, bi = last_conv
                inits = {t.name: t for t in b.inits}
                wt = numpy_helper.to_array(inits[wi]) * gamma.reshape(-1, 1, 1, 1)
                bt = numpy_helper.to_array(inits[bi]) * gamma + beta
                inits[wi].CopyFrom(numpy_helper.from_array(wt.astype(np.float32), wi))
                inits[bi].CopyFrom(numpy_helper.from_array(bt.astype(np.float32), bi))
            elif op.tag == "relu":
                current = b.node("Relu", [current], (c, h, w))
                last_conv = None
            elif op.tag in ("max_pool", "avg_pool"):
                kh, kw = int(op.get("nr")), int(op.get("nc"))
                if kh == 0 and kw == 0:
                    current = b.node("GlobalAveragePool", [current], (c, 1, 1))
                else:
                    sy, sx = int(op.get("stride_y")), int(op.get("stride_x"))
                    py, px = int(op.get("padding_y")), int(op.get("padding_x"))
                    current = b.node(
                        "MaxPool" if op.tag == "max_pool" else "AveragePool", [current],
                        (c, pool_out(h, kh, sy, py), pool_out(w, kw, sx, px)),
                        kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px],
                    )
                last_conv = None
            elif op.tag == "add_prev":
                other = tags[op.get("tag")]
                shape = tuple(max(a, z) for a, z in zip(b.shapes[current], b.shapes[other]))

                def padded(t):
                    tc, th, tw = b.shapes[t]
                    if (tc, th, tw) == shape:
                        return t
                    pads = np.array([0, 0, 0, 0, 0, shape[0] - tc, shape[1] - th, shape[2] - tw], dtype=np.int64)
                    return b.node("Pad", [t, b.const("pads", pads)], shape)

                current = b.node("Add", [padded(current), padded(other)], shape)
                last_conv = None
            elif op.tag == "fc_no_bias":
                n_out = int(op.get("num_outputs"))
                v = values(op)
                weights = v.reshape(-1, n_out)
                flat = b.node("Flatten", [current], (c * h * w,), axis=1)
                assert weights.shape[0] == c * h * w
                current = b.node("MatMul", [flat, b.const("fc", weights)], (n_out,))
            else:
                raise SystemExit(f"unsupported layer {op.tag} (idx {layer.get('idx')})")
        elif kind == "loss":
            pass
        else:
            raise SystemExit(f"unsupported layer type {kind}")

    b.nodes.append(helper.make_node("Identity", [current], ["descriptor"], name="descriptor"))
    graph = helper.make_graph(
        b.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chip", TensorProto.FLOAT, ["N", 3, 150, 150])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", 128])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="facerec")
    onnx.checker.check_model(model)
    onnx.save(model, onnx_path)
    print(f"wrote {onnx_path}: {len(b.nodes)} nodes")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
