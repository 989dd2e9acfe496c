"""Build an ONNX graph (opset 13) of dlib's face-recognition ResNet from its parsed weights.

Graph contract:
  input  "chips":       uint8 (N, 150, 150, 3), RGB chips as dlib.get_face_chip makes them
                         (NHWC, the layout images have in numpy, so callers pass them as-is).
  output "descriptors": float32 (N, 128), unnormalised; compare with Euclidean distance.
The graph does dlib's input normalisation itself, (x - mean) / 256 per channel, and the
NHWC -> NCHW transpose, so there is no Python-side preprocessing to keep in step with it.
"""

from __future__ import annotations

import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from app.vision.dlib_resnet_parser import TAG_OR_SKIP, DlibLayer, DlibResnet, parse_resnet_file

INPUT_NAME = "chips"
OUTPUT_NAME = "descriptors"
OPSET = 13
IR_VERSION = 7  # the IR that goes with opset 13; keeps the file loadable by older runtimes


class UnsupportedNetworkError(ValueError):
    """The parsed network is not the dlib face-recognition ResNet this builder knows."""


def _anet_topology() -> list[tuple]:
    """The layer sequence of dlib's `anet_type` (examples/dnn_face_recognition_ex.cpp), input outwards.

    The file does not record tag ids or skip targets, so they come from here. Tokens:
    (kind, filters) for con, ("tag", id), ("skip", id), ("add_prev", id), (kind,) otherwise.
    """

    def block(n: int) -> list[tuple]:
        return [("con", n), ("affine",), ("relu",), ("con", n), ("affine",)]

    def ares(n: int) -> list[tuple]:  # relu(block(x) + x)
        return [("tag", 1), *block(n), ("add_prev", 1), ("relu",)]

    def ares_down(n: int) -> list[tuple]:  # relu(avg_pool(x) (+) block_stride2(x))
        return [("tag", 1), *block(n), ("tag", 2), ("skip", 1), ("avg_pool",), ("add_prev", 2), ("relu",)]

    seq = [("con", 32), ("affine",), ("relu",), ("max_pool",)]
    seq += ares(32) * 3  # alevel4
    seq += ares_down(64) + ares(64) * 3  # alevel3
    seq += ares_down(128) + ares(128) * 2  # alevel2
    seq += ares_down(256) + ares(256) * 2  # alevel1
    seq += ares_down(256)  # alevel0
    seq += [("avg_pool",), ("fc",)]
    return seq


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, array: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, **attrs) -> str:
        out = self.name(stem or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _pool_out(size: int, window: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - window) // stride


def _pad_to(g: _GraphBuilder, value: str, shape: tuple, target: tuple) -> str:
    """Zero-pad (C, H, W) at the end of each axis up to `target`, as dlib's add_prev does."""
    if shape == target:
        return value
    extra = [t - s for s, t in zip(shape, target, strict=False)]
    pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)  # N,C,H,W begins then ends
    return g.op("Pad", [value, g.const("pad_amounts", pads)], stem="pad", mode="constant")


def build_resnet_onnx(net: DlibResnet) -> onnx.ModelProto:
    """The ONNX model for a parsed dlib face-recognition ResNet (see module docstring)."""
    topology = _anet_topology()
    kinds = [layer.kind for layer in net.layers]
    expected = [TAG_OR_SKIP if t[0] in ("tag", "skip") else t[0] for t in topology]
    if kinds != expected:
        first = next((i for i, (a, b) in enumerate(zip(kinds, expected, strict=False)) if a != b), min(len(kinds), len(expected)))
        raise UnsupportedNetworkError(
            f"layer sequence differs from dlib's face ResNet at layer {first} "
            f"({len(kinds)} layers parsed, {len(expected)} expected)"
        )

    g = _GraphBuilder()
    rows, cols = net.input_size
    # uint8 NHWC -> NCHW first (a quarter of the bytes to move), then (x - mean) / 256.
    x = g.op("Transpose", [INPUT_NAME], perm=[0, 3, 1, 2])
    x = g.op("Cast", [x], to=TensorProto.FLOAT)
    mean = np.asarray(net.input_mean, dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.op("Sub", [x, g.const("input_mean", mean)])
    # dlib divides by 256.0 (input.h); a power of two, so multiplying is exact.
    x = g.op("Mul", [x, g.const("input_scale", np.array(1.0 / 256.0, dtype=np.float32))])
    shape = (3, rows, cols)

    tags: dict[int, tuple[str, tuple]] = {}
    for token, layer in zip(topology, net.layers, strict=False):
        kind = token[0]
        if kind == "tag":
            tags[token[1]] = (x, shape)
        elif kind == "skip":
            x, shape = tags[token[1]]
        elif kind == "add_prev":
            other, other_shape = tags[token[1]]
            target = tuple(max(a, b) for a, b in zip(shape, other_shape, strict=False))
            x = g.op("Add", [_pad_to(g, x, shape, target), _pad_to(g, other, other_shape, target)])
            shape = target
        elif kind == "con":
            x, shape = _conv(g, layer, x, shape, token[1])
        elif kind == "affine":
            if not layer.settings["disabled"]:
                x = g.op("Mul", [x, g.const("affine_gamma", _broadcastable(layer.weights["gamma"], shape))])
                x = g.op("Add", [x, g.const("affine_beta", _broadcastable(layer.weights["beta"], shape))])
        elif kind == "relu":
            if not layer.settings["disabled"]:
                x = g.op("Relu", [x])
        elif kind in ("max_pool", "avg_pool"):
            x, shape = _pool(g, layer, x, shape)
        elif kind == "fc":
            x, shape = _fc(g, layer, x, shape)
        else:  # pragma: no cover - the topology only holds the kinds above
            raise UnsupportedNetworkError(f"no ONNX mapping for layer kind {kind!r}")

    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["N", rows, cols, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", shape[0]])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rekurator",
        doc_string="dlib_face_recognition_resnet_model_v1 (CC0, Davis King) converted by rekurator",
    )
    model.ir_version = IR_VERSION
    return model


def convert_resnet_file(path: str | pathlib.Path) -> bytes:
    """Parse a dlib ResNet .dat file and return the checked, serialized ONNX model."""
    model = build_resnet_onnx(parse_resnet_file(path))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _broadcastable(values: np.ndarray, shape: tuple) -> np.ndarray:
    """gamma/beta as (C,1,1) in CONV_MODE or (C,H,W) in FC_MODE, checked against the input."""
    c, h, w = values.shape
    if c != shape[0] or (h, w) not in ((1, 1), shape[1:]):
        raise UnsupportedNetworkError(f"affine parameters of shape {values.shape} do not fit input {shape}")
    return values.reshape(c, h, w).astype(np.float32)


def _conv(g: _GraphBuilder, layer: DlibLayer, x: str, shape: tuple, filters: int) -> tuple[str, tuple]:
    s = layer.settings
    weight = layer.weights["weight"]
    if s["filters"] != filters or weight.shape[1] != shape[0]:
        raise UnsupportedNetworkError(
            f"convolution {weight.shape} does not fit input {shape} / expected {filters} filters"
        )
    (kh, kw), (sy, sx), (py, px) = s["kernel"], s["stride"], s["padding"]
    inputs = [x, g.const("conv_weight", weight)]
    if "bias" in layer.weights:
        inputs.append(g.const("conv_bias", layer.weights["bias"]))
    x = g.op("Conv", inputs, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])
    if s["relu"]:
        x = g.op("Relu", [x])
    return x, (filters, _pool_out(shape[1], kh, sy, py), _pool_out(shape[2], kw, sx, px))


def _pool(g: _GraphBuilder, layer: DlibLayer, x: str, shape: tuple) -> tuple[str, tuple]:
    s = layer.settings
    (wh, ww), (sy, sx), (py, px) = s["window"], s["stride"], s["padding"]
    average = layer.kind == "avg_pool"
    if (wh, ww) == (0, 0):  # dlib's "pool over everything"
        return g.op("GlobalAveragePool" if average else "GlobalMaxPool", [x]), (shape[0], 1, 1)
    if average and (py, px) != (0, 0):
        # dlib averages only in-image pixels at padded borders; this net never pads its
        # average pools, so that mapping is left unbuilt rather than guessed.
        raise UnsupportedNetworkError("padded average pooling is not supported")
    out = g.op(
        "AveragePool" if average else "MaxPool",
        [x],
        kernel_shape=[wh, ww],
        strides=[sy, sx],
        pads=[py, px, py, px],
    )
    return out, (shape[0], _pool_out(shape[1], wh, sy, py), _pool_out(shape[2], ww, sx, px))


def _fc(g: _GraphBuilder, layer: DlibLayer, x: str, shape: tuple) -> tuple[str, tuple]:
    weight = layer.weights["weight"]
    flat = shape[0] * shape[1] * shape[2]
    if weight.shape[0] != flat:
        raise UnsupportedNetworkError(f"fc layer expects {weight.shape[0]} inputs, gets {flat}")
    x = g.op("Flatten", [x], axis=1)  # NCHW order, the order dlib's fc reads its input in
    x = g.op("MatMul", [x, g.const("fc_weight", weight)])
    if "bias" in layer.weights:
        x = g.op("Add", [x, g.const("fc_bias", layer.weights["bias"])])
    return x, (weight.shape[1], 1, 1)
