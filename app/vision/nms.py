"""Greedy non-maximum suppression, shared by the YuNet and SCRFD detectors."""

from __future__ import annotations

import numpy as np


def nms_xyxy(boxes, scores, iou_threshold: float, top_k: int | None = None) -> np.ndarray:
    """Indices of the kept (x1, y1, x2, y2) boxes, best score first.

    Candidates are ranked by score (stable: equal scores keep their input order, so results are
    deterministic) and cut to `top_k`; a box is dropped when its IoU with an already kept box
    exceeds `iou_threshold`. Areas are continuous (no "+1 pixel" convention).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"nms got {boxes.shape[0]} boxes but {scores.shape[0]} scores")
    order = np.argsort(-scores, kind="stable")
    if top_k is not None:
        order = order[:top_k]
    x1, y1, x2, y2 = boxes.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        inter_w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        inter_h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
