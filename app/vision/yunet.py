"""YuNet face detector (OpenCV Zoo, 2023mar, MIT) run with onnxruntime and our own decoding.

The ONNX file declares a fixed 1x3x640x640 input, but its graph is size-agnostic (its
Reshapes use -1, its Resizes use scales), which is how OpenCV's FaceDetectorYN runs it at any
size. We mark the input height/width symbolic in memory so onnxruntime accepts any multiple of
32, and pad the image bottom/right with zeros to the next multiple of 32, as FaceDetectorYN does.
Decoding follows FaceDetectorYN's semantics: for each stride s in (8, 16, 32) and grid cell
(row r, col c), score = sqrt(clip(cls) * clip(obj)); box centre = ((c, r) + bbox[0:2]) * s,
size = exp(bbox[2:4]) * s; landmark k = ((c, r) + kps[2k:2k+2]) * s. Then greedy NMS.

Input to the network is BGR, 0..255 float, unnormalised (the model was trained on OpenCV's BGR
frames); `detect` takes RGB like the rest of app.vision and swaps the channels itself.

Images whose longer side exceeds `max_side` are downscaled first (INTER_AREA) and the results
mapped back to the caller's pixels, pixel centre to pixel centre. With `upsample_small` (off
here; the default analyzer turns it on, see README, "Accuracy against dlib's own pipeline"), an
image small enough that twice its size still fits `max_side` is detected at twice its size
(bilinear), as dlib's face_recognition pipeline upsamples every photo once before its HOG
detector. Boxes are not clipped to the image (Rekognition boxes may extend past the edges either).

Landmark order (checked on tests/data photos, see tests/vision/test_yunet.py):
right eye, left eye, nose tip, right mouth corner, left mouth corner, where "right" is the
subject's right, i.e. the point nearer the image's left edge in a frontal, upright face.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx

from app.resources import YUNET_MODEL, resource_path
from app.vision.onnx_runtime import ort

from .nms import nms_xyxy

YUNET_2023MAR_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
DEFAULT_MODEL_PATH = resource_path(*YUNET_MODEL)  # the bundled copy, wherever this install keeps resources/
LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")

_STRIDES = (8, 16, 32)
_DIVISOR = 32  # the coarsest stride: the padded input must be a multiple of it


class ModelChecksumError(RuntimeError):
    """The model file is not the one this code was written and tested against."""


@dataclass(frozen=True, eq=False)
class Detection:
    """One face: box (x, y, w, h) and landmarks (5, 2) in the input image's pixels."""

    box: tuple[float, float, float, float]
    score: float  # 0..1
    landmarks: np.ndarray  # float64 (5, 2), order as LANDMARK_NAMES, read-only


class YuNetDetector:
    """Detect faces in RGB uint8 images. One owner per instance (it holds one ORT session)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int = 640,
        num_threads: int = 2,
        upsample_small: bool = False,
    ):
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be within 0..1, got {score_threshold}")
        if not 0.0 < nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be within (0, 1], got {nms_threshold}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if max_side < _DIVISOR:
            raise ValueError(f"max_side must be >= {_DIVISOR}, got {max_side}")
        if num_threads not in (1, 2):
            raise ValueError(f"num_threads must be 1 or 2 (house rule: intra-op threads <= 2), got {num_threads}")
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.top_k = int(top_k)
        self.max_side = int(max_side)
        self.upsample_small = bool(upsample_small)
        self.model_path = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH

        model_bytes = _read_verified(self.model_path)
        self._session = ort.InferenceSession(
            _with_free_input_size(model_bytes), _session_options(num_threads), providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        self._output_names = [o.name for o in self._session.get_outputs()]
        expected = {f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in _STRIDES}
        if set(self._output_names) != expected:
            raise ModelChecksumError(f"{self.model_path}: unexpected outputs {sorted(self._output_names)}")

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in `rgb` (uint8, HxWx3), best score first, then top-to-bottom, left-to-right."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            desc = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise ValueError(f"detect() needs an RGB uint8 array of shape (height, width, 3), got {desc}")
        height, width = rgb.shape[:2]
        if height == 0 or width == 0:
            raise ValueError(f"detect() got an empty image ({width}x{height})")

        scale = min(1.0, self.max_side / max(height, width))
        upsampled = self.upsample_small and 2 * max(height, width) <= self.max_side
        if upsampled:
            small = cv2.resize(rgb, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
        elif scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        else:
            small = rgb
        net_h, net_w = small.shape[:2]
        pad_h = -(-net_h // _DIVISOR) * _DIVISOR
        pad_w = -(-net_w // _DIVISOR) * _DIVISOR
        blob = np.zeros((1, 3, pad_h, pad_w), dtype=np.float32)
        blob[0, :, :net_h, :net_w] = small[:, :, ::-1].transpose(2, 0, 1)  # RGB -> BGR planes

        outputs = dict(zip(self._output_names, self._session.run(self._output_names, {self._input_name: blob}), strict=False))
        boxes, scores, landmarks = self._decode(outputs, pad_h, pad_w)
        keep = nms(boxes, scores, self.nms_threshold, self.top_k)

        # Map back with separate x/y factors: rounding the downscaled size changes the aspect a hair.
        fx, fy = net_w / width, net_h / height
        boxes = boxes[keep].astype(np.float64) / np.array([fx, fy, fx, fy])
        landmarks = landmarks[keep].astype(np.float64) / np.array([fx, fy])
        if small is not rgb:
            # a resize by f puts pixel i's centre at f*i + (f - 1)/2 of the resized image (bilinear
            # and area alike): back in the caller's pixels a position moves by 0.5/f - 0.5, a quarter
            # pixel up-left at 2x, half a pixel down-right at 0.5x
            offset = np.array([0.5 / fx - 0.5, 0.5 / fy - 0.5])
            boxes[:, :2] += offset
            landmarks += offset
        scores = scores[keep].astype(np.float64)

        order = np.lexsort((boxes[:, 0], boxes[:, 1], -scores))
        faces = []
        for i in order:
            points = landmarks[i].copy()
            points.flags.writeable = False
            x, y, w, h = (float(v) for v in boxes[i])
            faces.append(Detection(box=(x, y, w, h), score=float(scores[i]), landmarks=points))
        return faces

    def _decode(self, outputs: dict, pad_h: int, pad_w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        all_boxes, all_scores, all_points = [], [], []
        for stride in _STRIDES:
            cols = pad_w // stride
            cls = outputs[f"cls_{stride}"].reshape(-1)
            obj = outputs[f"obj_{stride}"].reshape(-1)
            score = np.sqrt(np.clip(cls, 0.0, 1.0) * np.clip(obj, 0.0, 1.0))
            idx = np.flatnonzero(score >= self.score_threshold)
            if idx.size == 0:
                continue
            col = (idx % cols).astype(np.float32)[:, None]
            row = (idx // cols).astype(np.float32)[:, None]
            bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[idx]
            centre_x = (col[:, 0] + bbox[:, 0]) * stride
            centre_y = (row[:, 0] + bbox[:, 1]) * stride
            box_w = np.exp(bbox[:, 2]) * stride
            box_h = np.exp(bbox[:, 3]) * stride
            all_boxes.append(np.stack([centre_x - box_w / 2, centre_y - box_h / 2, box_w, box_h], axis=1))
            kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[idx]
            all_points.append(np.stack([(kps[:, :, 0] + col) * stride, (kps[:, :, 1] + row) * stride], axis=2))
            all_scores.append(score[idx])
        if not all_scores:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32)
        return np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_points)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, top_k: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression over (x, y, w, h) boxes; indices of the kept boxes.

    Like OpenCV's NMSBoxes: candidates are ranked by score (stable), cut to `top_k`, and a box
    is dropped when its IoU with an already kept box exceeds `iou_threshold`.
    """
    xywh = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return nms_xyxy(xyxy, scores, iou_threshold, top_k)


def _read_verified(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"YuNet model not found at {path}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != YUNET_2023MAR_SHA256:
        raise ModelChecksumError(
            f"YuNet model {path} has sha256 {digest}, expected {YUNET_2023MAR_SHA256} "
            "(face_detection_yunet_2023mar.onnx); the file is damaged or a different model."
        )
    return data


def _with_free_input_size(model_bytes: bytes) -> bytes:
    """The same graph with symbolic input height/width and no stale fixed output shapes."""
    model = onnx.load_from_string(model_bytes)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param = "height"
    dims[3].dim_param = "width"
    for output in model.graph.output:
        output.type.tensor_type.ClearField("shape")
    del model.graph.value_info[:]
    return model.SerializeToString()


def _session_options(num_threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads burn a core between calls; the GUI and camera loop need it more.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options
