"""ArcFace recognizer (insightface packs, e.g. w600k_r50.onnx): alignment and embeddings.

Alignment: the least-squares similarity transform (Umeyama 1991: rotation, uniform scale,
translation, no reflection) that carries the detector's 5 points onto the standard 112x112
ArcFace template, then a bilinear warp with black outside the image. The net takes NCHW RGB
112x112 floats; its raw output is L2-normalised here so faces compare by dot product (cosine).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx

from app.vision.insightface_pack import (
    RECOGNIZER_INPUT_SIZE,
    InvalidModelFileError,
    ModelPackError,
    check_rgb_image,
    file_sha256,
    open_session,
    session_dims,
)

CHIP_SIZE = RECOGNIZER_INPUT_SIZE
# Where ArcFace models expect, in a 112x112 chip: left eye, right eye, nose tip, left and right
# mouth corners (as seen in the image; the SCRFD landmark order).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
BATCH = 32  # chips per session run: bounds the input blob (32 x 150 KB) without losing speed


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The (2, 3) matrix [sR | t] minimising sum |s R src_i + t - dst_i|^2 (R a proper rotation).

    Raises ValueError for mismatched shapes, non-finite points, or points that all coincide.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape or src.shape[0] < 2:
        raise ValueError(
            f"similarity_transform needs two (n, 2) point sets, n >= 2; got {src.shape} and {dst.shape}"
        )
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("similarity_transform got non-finite points")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var < 1e-12:
        raise ValueError("similarity_transform: the source points all coincide")
    u, singular, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    # Force a rotation: a reflection would mirror the face.
    signs = np.array([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ np.diag(signs) @ vt
    scale = (singular * signs).sum() / src_var
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def arcface_transform(landmarks5: np.ndarray) -> np.ndarray:
    """(2, 3) matrix mapping image pixels to the 112x112 chip for these 5 landmarks (SCRFD order)."""
    points = np.asarray(landmarks5, dtype=np.float64)
    if points.shape != (5, 2):
        raise ValueError(f"landmarks5 must have shape (5, 2), got {points.shape}")
    return similarity_transform(points, ARCFACE_TEMPLATE)


def arcface_align(rgb: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """The (112, 112, 3) uint8 chip ArcFace expects, cut from an (H, W, 3) uint8 RGB image."""
    check_rgb_image(rgb)
    matrix = arcface_transform(landmarks5)
    return cv2.warpAffine(
        rgb,
        matrix,
        (CHIP_SIZE, CHIP_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def input_normalisation(model_path: str | Path) -> tuple:
    """(mean, std) to apply to 0..255 pixels before the net.

    Recognizers converted from MXNet normalise inside the graph: insightface spots them by a node
    named Sub*/_minus* and one named Mul*/_mul* among the first 8 nodes, and feeds raw pixels
    (0, 1). Everything else gets (127.5, 127.5). Same rule here, so a pack behaves as its
    authors validated it.
    """
    try:
        graph = onnx.load(str(model_path), load_external_data=False).graph
    except Exception as exc:  # protobuf's DecodeError or an OSError
        raise InvalidModelFileError(f"{model_path} is not a valid ONNX model: {exc}") from exc
    names = [node.name for node in graph.node[:8]]
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names)
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return (0.0, 1.0) if has_sub and has_mul else (127.5, 127.5)


class ArcFaceEmbedder:
    """Runs an ArcFace ONNX file on aligned chips. One owner per instance.

    `version` names the exact weights ("arcface_" + first 8 hex digits of the file's sha256), so
    stored embeddings can be tied to the model that made them. `dimension` is the embedding
    length (512 for the insightface packs).
    """

    def __init__(self, model_path: str | Path, threads: int = 2):
        self.model_path = Path(model_path)
        self._session = open_session(self.model_path, threads)
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        in_dims = session_dims(inputs[0].shape) if len(inputs) == 1 else ()
        out_dims = session_dims(outputs[0].shape) if len(outputs) == 1 else ()
        # An output of unknown rank is allowed (some exports leave shapes out); compute() flattens.
        if len(in_dims) != 4 or in_dims[1:] != (3, CHIP_SIZE, CHIP_SIZE) or len(out_dims) not in (0, 2):
            raise ModelPackError(
                f"{self.model_path} is not an ArcFace recognizer: expected one Nx3x112x112 input and "
                f"one (N, D) output, found inputs {[i.shape for i in inputs]} and outputs "
                f"{[o.shape for o in outputs]}"
            )
        self.dimension = out_dims[1] if len(out_dims) == 2 else None  # None: known after a run
        # A fixed batch of 1 (some exports) means one run per chip.
        self._batch = 1 if in_dims[0] == 1 else BATCH
        self._input_name = inputs[0].name
        self._output_name = outputs[0].name
        self.input_mean, self.input_std = input_normalisation(self.model_path)
        self.version = f"arcface_{file_sha256(self.model_path)[:8]}"

    def compute(self, chips) -> np.ndarray:
        """(N, D) float32 unit-length embeddings for N aligned chips.

        `chips` is an (N, 112, 112, 3) uint8 RGB array, a list of (112, 112, 3) chips, or one chip.
        N = 0 gives an empty (0, D) array. A zero output stays zero rather than becoming NaN.
        """
        batch = _stack_chips(chips)
        blob = ((batch.astype(np.float32) - self.input_mean) / self.input_std).transpose(0, 3, 1, 2)
        parts = []
        for start in range(0, len(blob), self._batch):
            part = np.ascontiguousarray(blob[start : start + self._batch])
            out = self._session.run([self._output_name], {self._input_name: part})[0]
            parts.append(np.asarray(out, dtype=np.float32).reshape(len(part), -1))
        if not parts:
            return np.zeros((0, self.dimension or 0), dtype=np.float32)
        embeddings = np.concatenate(parts)
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        return (embeddings / np.maximum(norms, np.float32(1e-12))).astype(np.float32)


def _stack_chips(chips) -> np.ndarray:
    if isinstance(chips, np.ndarray):
        batch = chips[None] if chips.ndim == 3 else chips
    else:
        chips = list(chips)
        if not chips:
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
        shapes = {np.shape(c) for c in chips}
        if len(shapes) != 1:
            raise ValueError(f"chips must all be ({CHIP_SIZE}, {CHIP_SIZE}, 3), got shapes {sorted(shapes)}")
        batch = np.stack([np.asarray(c) for c in chips])
    if batch.ndim != 4 or batch.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"chips must be (N, {CHIP_SIZE}, {CHIP_SIZE}, 3), got shape {batch.shape}")
    if batch.dtype != np.uint8:
        raise ValueError(f"chips must be uint8, got {batch.dtype}")
    return batch
