"""SCRFD face detector (insightface packs, e.g. det_10g.onnx) with our own pre/post-processing.

Pipeline: letterbox the RGB image into the net's input (resize keeping aspect, top-left of a black
canvas) -> (pixel - 127.5) / 128, channels RGB, NCHW -> onnxruntime -> `decode_outputs` (anchor
grid + distance decoding, score threshold) -> back to image pixels -> `nms`.

Output layout (read in insightface's model_zoo/scrfd.py, reimplemented here): with 9 outputs the
net gives, in session order, scores for strides 8, 16, 32 (each (N, 1), already sigmoid),
box distances for the same strides ((N, 4), in units of the stride) and keypoint distances
((N, 10), same units). N = (H / stride) * (W / stride) * anchors, rows location-major
(row-by-row over the grid), anchors-per-location minor. An anchor's centre is the top-left corner
of its grid cell, (x * stride, y * stride). 6 outputs = the same without keypoints; 10/15 outputs
= five strides (8..128) with one anchor per location.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.vision.insightface_pack import (
    SCRFD_LAYOUTS,
    ModelPackError,
    check_rgb_image,
    file_sha256,
    open_session,
    session_dims,
)
from app.vision.nms import nms_xyxy

INPUT_MEAN = 127.5
INPUT_STD = 128.0


# Landmark order, named as insightface names them, i.e. as the points appear in the image. For an
# upright frontal face index 0 is the eye nearer the image's left edge, the subject's right eye;
# so the order is the same as YuNet's (app.vision.yunet.LANDMARK_NAMES names it from the subject).
LANDMARK_ORDER = ("left_eye", "right_eye", "nose_tip", "left_mouth_corner", "right_mouth_corner")


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields has no single truth value
class Detection:
    """One face found by SCRFD, in pixels of the image given to `detect`.

    `box` is (x, y, width, height) and is not clipped: a face cut by the border can start at a
    negative x/y or extend past the image. `landmarks` is (5, 2) float64 (x, y), read-only, in
    LANDMARK_ORDER; None for detector exports without keypoints (6 or 10 outputs).
    """

    box: tuple  # (x, y, w, h) floats
    score: float  # 0..1
    landmarks: np.ndarray | None


def output_layout(output_count: int) -> tuple:
    """(strides, anchors per location, has keypoints) for an SCRFD export with this many outputs."""
    try:
        return SCRFD_LAYOUTS[output_count]
    except KeyError:
        raise ValueError(
            f"an SCRFD detector has 6, 9, 10 or 15 outputs, this one has {output_count}"
        ) from None


def anchor_centers(grid_height: int, grid_width: int, stride: int, anchors: int) -> np.ndarray:
    """(grid_height * grid_width * anchors, 2) anchor centres (x, y) in net-input pixels."""
    ys, xs = np.mgrid[:grid_height, :grid_width]
    centers = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64) * stride
    return np.repeat(centers, anchors, axis=0)


def decode_outputs(
    outputs: Sequence[np.ndarray], input_height: int, input_width: int, score_threshold: float
) -> tuple:
    """Turn raw SCRFD outputs into candidate faces (before NMS), in net-input pixels.

    Returns (boxes (K, 4) as x1, y1, x2, y2; scores (K,); keypoints (K, 5, 2) or None), float64,
    in stride order then row order (not sorted by score). Raises ValueError when an output's size
    does not fit the input size.
    """
    strides, anchors, has_kps = output_layout(len(outputs))
    levels = len(strides)
    boxes, scores, kpss = [], [], []
    for level, stride in enumerate(strides):
        grid_h = math.ceil(input_height / stride)
        grid_w = math.ceil(input_width / stride)
        rows = grid_h * grid_w * anchors
        # Exports differ on a leading batch axis ((1, N, k) vs (N, k)); the row count is what counts.
        level_scores = _rows(outputs[level], rows, 1, level, f"scores for stride {stride}")[:, 0]
        picked = np.flatnonzero(level_scores >= score_threshold)
        if picked.size == 0:
            continue
        # Decode only the rows that passed: a 640x640 input has 16800 of them, a photo a handful.
        centers = anchor_centers(grid_h, grid_w, stride, anchors)[picked]
        distances = _rows(outputs[levels + level], rows, 4, levels + level, f"boxes for stride {stride}")
        d = distances[picked].astype(np.float64) * stride
        boxes.append(np.concatenate([centers - d[:, :2], centers + d[:, 2:]], axis=1))
        scores.append(level_scores[picked].astype(np.float64))
        if has_kps:
            index = 2 * levels + level
            offsets = _rows(outputs[index], rows, 10, index, f"keypoints for stride {stride}")
            k = offsets[picked].astype(np.float64).reshape(-1, 5, 2) * stride
            kpss.append(centers[:, None, :] + k)
    if not boxes:
        return np.zeros((0, 4)), np.zeros((0,)), (np.zeros((0, 5, 2)) if has_kps else None)
    return (
        np.concatenate(boxes),
        np.concatenate(scores),
        np.concatenate(kpss) if has_kps else None,
    )


def _rows(array: np.ndarray, rows: int, width: int, index: int, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.size != rows * width:
        raise ValueError(
            f"SCRFD output {index} ({what}) has shape {array.shape}, expected {rows} rows of {width} "
            f"for this input size"
        )
    return array.reshape(rows, width)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression over (x1, y1, x2, y2) boxes; indices kept, best score first."""
    return nms_xyxy(boxes, scores, iou_threshold)


def letterbox(rgb: np.ndarray, input_size: tuple) -> tuple:
    """Fit the image into a (width, height) canvas, keeping aspect, at the top-left; black elsewhere.

    Returns (canvas uint8 (height, width, 3), x scale, y scale) where scale = canvas px / image px.
    Sizes are truncated to integers like insightface does, so the two scales can differ slightly;
    keeping both makes the way back exact.
    """
    net_w, net_h = input_size
    img_h, img_w = rgb.shape[:2]
    image_ratio = img_h / img_w
    # Same float expressions as insightface, so the truncated sizes agree to the pixel.
    if image_ratio > net_h / net_w:
        new_h = net_h
        new_w = max(1, int(new_h / image_ratio))
    else:
        new_w = net_w
        new_h = max(1, int(new_w * image_ratio))
    # INTER_LINEAR is what the SCRFD packs were evaluated with (cv2.resize's default).
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((net_h, net_w, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return canvas, new_w / img_w, new_h / img_h


class ScrfdDetector:
    """Runs an SCRFD ONNX file on RGB images. One owner per instance (the session is not shared).

    `input_size` is (width, height); a model with a fixed input size uses its own and ignores the
    argument (see `self.input_size`). Dynamic-size models need multiples of the largest stride.
    """

    def __init__(
        self,
        model_path: str | Path,
        input_size: tuple = (640, 640),
        score_threshold: float = 0.5,
        nms_threshold: float = 0.4,
        threads: int = 2,
    ):
        for name, value in (("score_threshold", score_threshold), ("nms_threshold", nms_threshold)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        self.model_path = Path(model_path)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self._session = open_session(self.model_path, threads)
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        dims = session_dims(inputs[0].shape) if len(inputs) == 1 else ()
        if len(inputs) != 1 or len(outputs) not in SCRFD_LAYOUTS or len(dims) != 4 or dims[1] != 3:
            raise ModelPackError(
                f"{self.model_path} is not an SCRFD detector: expected one Nx3xHxW input and "
                f"6, 9, 10 or 15 outputs, found {len(inputs)} input(s) and {len(outputs)} output(s)"
            )
        self.strides, self.anchors, self.has_landmarks = output_layout(len(outputs))
        width = dims[3] or int(input_size[0])
        height = dims[2] or int(input_size[1])
        step = max(self.strides)
        if width <= 0 or height <= 0 or width % step or height % step:
            raise ValueError(f"SCRFD input size must be positive multiples of {step}, got {width}x{height}")
        self.input_size = (width, height)
        self._input_name = inputs[0].name
        self._output_names = [o.name for o in outputs]
        self.version = f"scrfd_{file_sha256(self.model_path)[:8]}"

    def detect(self, rgb: np.ndarray) -> list:
        """Faces in an (H, W, 3) uint8 RGB image, best score first, as `Detection`s."""
        check_rgb_image(rgb)
        canvas, scale_x, scale_y = letterbox(rgb, self.input_size)
        width, height = self.input_size
        # In place into one NCHW buffer: a third of the time of the astype/subtract/transpose chain.
        blob = np.empty((1, 3, height, width), dtype=np.float32)
        blob[0] = canvas.transpose(2, 0, 1)
        blob -= INPUT_MEAN
        blob /= INPUT_STD
        raw = self._session.run(self._output_names, {self._input_name: blob})
        boxes, scores, kpss = decode_outputs(raw, height, width, self.score_threshold)
        boxes[:, 0::2] /= scale_x
        boxes[:, 1::2] /= scale_y
        if kpss is not None:
            kpss[..., 0] /= scale_x
            kpss[..., 1] /= scale_y
        detections = []
        for i in nms(boxes, scores, self.nms_threshold):
            x1, y1, x2, y2 = (float(v) for v in boxes[i])
            landmarks = None
            if kpss is not None:
                landmarks = kpss[i].copy()
                landmarks.flags.writeable = False
            detections.append(Detection((x1, y1, x2 - x1, y2 - y1), float(scores[i]), landmarks))
        return detections

