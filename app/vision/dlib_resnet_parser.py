"""Parser for dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`).

A serialized dlib network is a chain of layer wrappers written from the loss inwards: each
wrapper writes its version int, then its whole sub-network, then its own details. So the file
holds the versions of every wrapper first (2 = computational layer, 1 = tag/skip layer), then
the input layer, then the layers' details from the input outwards. Tag and skip wrappers store
neither their id nor their target, so the parse keeps them as "tag_or_skip" placeholders and
the topology comes from the C++ network type (see dlib_resnet_onnx).

Facts from dlib/dnn/core.h, dlib/cuda/tensor.h, dlib/dnn/layers.h, input.h and loss.h.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

import numpy as np

from app.vision.dlib_serialize import DlibFormatError, DlibReader

RESNET_FILE_SIZE = 22_466_066  # bytes of the file shipped by face_recognition_models 0.3.0

TAG_OR_SKIP = "tag_or_skip"


@dataclass
class DlibLayer:
    """One wrapper of the network.

    kind: "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc" or "tag_or_skip".
    type_name: dlib's own type string ("con_4", "affine_", ...; "" for tag/skip).
    settings: integer/bool settings (kernel, stride, padding, mode, ...).
    weights: numpy float32 arrays ("weight", "bias" for con/fc; "gamma", "beta" for affine).
    """

    kind: str
    type_name: str = ""
    settings: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)


@dataclass
class DlibResnet:
    input_mean: tuple[float, float, float]  # subtracted from R, G, B before dividing by 256
    input_size: tuple[int, int]  # rows, cols of the chip the net expects
    layers: list[DlibLayer]  # from the input outwards, tag/skip placeholders included
    loss: dict  # {"type": "loss_metric_2", "margin": .., "dist_thresh": ..}
    bytes_consumed: int

    @property
    def computational_layers(self) -> list[DlibLayer]:
        return [layer for layer in self.layers if layer.kind != TAG_OR_SKIP]

    def learned_float_count(self) -> int:
        return sum(int(w.size) for layer in self.layers for w in layer.weights.values())


def parse_resnet_file(path: str | pathlib.Path) -> DlibResnet:
    return parse_resnet_bytes(pathlib.Path(path).read_bytes())


def parse_resnet_bytes(data: bytes) -> DlibResnet:
    """Parse a whole serialized dlib metric network; every byte must be consumed."""
    reader = DlibReader(data)
    loss_version = reader.integer()
    if loss_version != 1:
        raise DlibFormatError(f"unsupported add_loss_layer version {loss_version} at byte 0")
    loss = _read_loss(reader)

    # Wrapper versions from the loss inwards, until the input layer's type string shows up.
    wrapper_versions: list[int] = []
    while True:
        at = reader.pos
        version = reader.integer()
        if _next_is_input_layer(reader):
            if version not in (2, 3):
                raise DlibFormatError(
                    f"bottom layer wrapper version {version} at byte {at} is not supported"
                )
            bottom_version = version
            break
        if version not in (1, 2):
            raise DlibFormatError(f"unexpected layer wrapper version {version} at byte {at}")
        wrapper_versions.append(version)

    input_mean, input_size = _read_input(reader)

    layers = [_read_layer_details(reader)]
    _skip_wrapper_state(reader)
    _read_tensor(reader)  # grad_final
    if bottom_version == 3:
        reader.integer()  # sample_expansion_factor

    for version in reversed(wrapper_versions):
        if version == 1:
            layers.append(DlibLayer(kind=TAG_OR_SKIP))
            continue
        layers.append(_read_layer_details(reader))
        _skip_wrapper_state(reader)
        _read_tensor(reader)  # params_grad

    if reader.remaining():
        raise DlibFormatError(
            f"{reader.remaining()} unexpected trailing bytes after the network at byte {reader.pos}"
        )
    return DlibResnet(
        input_mean=input_mean,
        input_size=input_size,
        layers=layers,
        loss=loss,
        bytes_consumed=reader.pos,
    )


def _next_is_input_layer(reader: DlibReader) -> bool:
    try:
        return reader.peek_string().startswith("input_")
    except DlibFormatError:
        # Not a string at all (e.g. a version int whose "length" runs past the end).
        return False


def _read_loss(reader: DlibReader) -> dict:
    name = reader.string()
    if name == "loss_metric_":
        return {"type": name}
    if name == "loss_metric_2":
        return {"type": name, "margin": reader.real(), "dist_thresh": reader.real()}
    raise DlibFormatError(f"unsupported loss layer {name!r}; expected a loss_metric network")


def _read_input(reader: DlibReader) -> tuple[tuple[float, float, float], tuple[int, int]]:
    name = reader.string()
    if name != "input_rgb_image_sized":
        raise DlibFormatError(f"unsupported input layer {name!r}; expected input_rgb_image_sized")
    mean = (reader.real(), reader.real(), reader.real())
    rows, cols = reader.uint(), reader.uint()
    return mean, (rows, cols)


def _read_tensor(reader: DlibReader) -> np.ndarray:
    """resizable_tensor: version 2, n, k, nr, nc, then raw float32 data (NCHW)."""
    at = reader.pos
    version = reader.integer()
    if version != 2:
        raise DlibFormatError(f"unsupported tensor version {version} at byte {at}")
    shape = tuple(reader.uint() for _ in range(4))
    count = shape[0] * shape[1] * shape[2] * shape[3]
    return reader.float32_array(count).reshape(shape)


def _read_alias_shape(reader: DlibReader) -> tuple[int, int, int, int]:
    at = reader.pos
    version = reader.integer()
    if version != 1:
        raise DlibFormatError(f"unsupported alias_tensor version {version} at byte {at}")
    return reader.uint(), reader.uint(), reader.uint(), reader.uint()


def _skip_wrapper_state(reader: DlibReader) -> None:
    # this_layer_setup_called, gradient_input_is_stale, get_output_and_gradient_input_disabled,
    # then the x_grad and cached_output tensors (training state, not needed for inference).
    for _ in range(3):
        reader.boolean()
    _read_tensor(reader)
    _read_tensor(reader)


def _take(params: np.ndarray, offset: int, shape: tuple[int, ...], what: str) -> np.ndarray:
    count = int(np.prod(shape))
    if offset + count > params.size:
        raise DlibFormatError(f"{what}: params tensor holds {params.size} floats, needs {offset + count}")
    return params[offset : offset + count].reshape(shape)


def _read_layer_details(reader: DlibReader) -> DlibLayer:
    at = reader.pos
    name = reader.string()
    if name in ("con_4", "con_5", "con_6"):
        params = _read_tensor(reader).ravel()
        num_filters, nr, nc = reader.integer(), reader.integer(), reader.integer()
        stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(4))
        filters = _read_alias_shape(reader)
        _read_alias_shape(reader)  # the biases' shape: only read past it
        for _ in range(4):  # learning-rate / weight-decay multipliers
            reader.real()
        use_bias = reader.boolean() if name != "con_4" else True
        use_relu = reader.boolean() if name == "con_6" else False
        weight = _take(params, 0, filters, name)
        if filters[0] != num_filters or filters[2:] != (nr, nc):
            raise DlibFormatError(f"{name} at byte {at}: filter shape {filters} disagrees with settings")
        weights = {"weight": weight}
        used = weight.size
        if use_bias:
            weights["bias"] = _take(params, used, (num_filters,), name)
            used += num_filters
        if used != params.size:
            raise DlibFormatError(f"{name} at byte {at}: {params.size - used} unused parameters")
        settings = {
            "filters": num_filters,
            "kernel": (nr, nc),
            "stride": (stride_y, stride_x),
            "padding": (pad_y, pad_x),
            "relu": use_relu,
        }
        return DlibLayer("con", name, settings, weights)

    if name in ("affine_", "affine_2"):
        params = _read_tensor(reader).ravel()
        gamma = _read_alias_shape(reader)
        beta = _read_alias_shape(reader)
        mode = reader.integer()
        disabled = reader.boolean() if name == "affine_2" else False
        if mode not in (0, 1):
            raise DlibFormatError(f"{name} at byte {at}: unknown mode {mode}")
        gamma_shape, beta_shape = gamma[1:], beta[1:]  # (k, nr, nc); nr = nc = 1 in CONV_MODE
        g = _take(params, 0, gamma_shape, name)
        b = _take(params, g.size, beta_shape, name)
        if g.size + b.size != params.size:
            raise DlibFormatError(f"{name} at byte {at}: params size {params.size} is not gamma + beta")
        settings = {"mode": "conv" if mode == 0 else "fc", "disabled": disabled}
        return DlibLayer("affine", name, settings, {"gamma": g, "beta": b})

    if name in ("relu_", "relu_2"):
        disabled = reader.boolean() if name == "relu_2" else False
        return DlibLayer("relu", name, {"disabled": disabled})

    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, stride_y, stride_x, pad_y, pad_x = (reader.integer() for _ in range(6))
        settings = {"window": (nr, nc), "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)}
        return DlibLayer(name[:-2], name, settings)

    if name == "add_prev_":
        return DlibLayer("add_prev", name)

    if name in ("fc_2", "fc_3"):
        num_outputs, num_inputs = reader.uint(), reader.uint()
        params = _read_tensor(reader).ravel()
        w_shape = _read_alias_shape(reader)
        _read_alias_shape(reader)  # biases alias
        bias_mode = reader.integer()
        for _ in range(4):
            reader.real()
        use_bias = reader.boolean() if name == "fc_3" else True
        has_bias = bias_mode == 0 and use_bias
        if w_shape[:2] != (num_inputs, num_outputs):
            raise DlibFormatError(f"{name} at byte {at}: weights alias {w_shape} disagrees with sizes")
        # Row-major [inputs x outputs]: y = x @ W.
        weights = {"weight": _take(params, 0, (num_inputs, num_outputs), name)}
        used = num_inputs * num_outputs
        if has_bias:
            weights["bias"] = _take(params, used, (num_outputs,), name)
            used += num_outputs
        if used != params.size:
            raise DlibFormatError(f"{name} at byte {at}: {params.size - used} unused parameters")
        return DlibLayer("fc", name, {"outputs": num_outputs, "inputs": num_inputs}, weights)

    raise DlibFormatError(f"unsupported dlib layer type {name!r} at byte {at}")
