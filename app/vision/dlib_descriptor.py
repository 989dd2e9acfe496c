"""dlib's face-recognition ResNet as an onnxruntime session: 150x150 chips -> 128-d descriptors."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from app.vision.dlib_models import model_path
from app.vision.dlib_resnet_onnx import INPUT_NAME, OUTPUT_NAME, convert_resnet_file
from app.vision.model_cache import cached_model
from app.vision.onnx_runtime import ort

RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
# Bump the suffix whenever the converter's output changes, so old cache entries are not reused.
CACHE_NAME = "dlib_resnet_v1.graph1.onnx"
CHIP_SHAPE = (150, 150, 3)
DESCRIPTOR_SIZE = 128


class InvalidChipsError(ValueError):
    """Chips given to DlibDescriptor.compute are not an (N, 150, 150, 3) uint8 array."""


def build_onnx_model() -> bytes:
    """Convert the installed dlib ResNet into the serialized ONNX model (takes ~0.3 s)."""
    return convert_resnet_file(model_path(RESNET_FILE))


def session_options() -> ort.SessionOptions:
    """At most two intra-op threads and no spinning: a desktop app shares the CPU."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class DlibDescriptor:
    """128-d face descriptors bit-compatible (to ~1e-6) with dlib.face_recognition_model_v1.

    The ONNX model is converted on first use and kept in the user cache (see model_cache).
    One instance owns one session; share the instance rather than making many.
    """

    version = "dlib_resnet_v1"

    def __init__(self, onnx_path: str | pathlib.Path | None = None):
        self.onnx_path = pathlib.Path(onnx_path) if onnx_path else cached_model(CACHE_NAME, build_onnx_model)
        self.session = ort.InferenceSession(
            str(self.onnx_path), session_options(), providers=["CPUExecutionProvider"]
        )

    def compute(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) float32 of uint8 RGB chips (N, 150, 150, 3) from dlib.get_face_chip."""
        if not isinstance(chips, np.ndarray):
            raise InvalidChipsError(f"chips must be a numpy array, got {type(chips).__name__}")
        if chips.dtype != np.uint8:
            raise InvalidChipsError(f"chips must have dtype uint8, got {chips.dtype}")
        if chips.ndim != 4 or chips.shape[1:] != CHIP_SHAPE:
            raise InvalidChipsError(
                f"chips must have shape (N, 150, 150, 3) (RGB face chips), got {chips.shape}"
            )
        if chips.shape[0] == 0:
            return np.empty((0, DESCRIPTOR_SIZE), dtype=np.float32)
        if not chips.flags.c_contiguous:
            chips = np.ascontiguousarray(chips)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: chips})[0]
