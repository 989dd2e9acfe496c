"""Chinese whispers (dlib's label propagation) over a k-nearest-neighbour graph, row by row (numpy).

Each face takes the label with the largest summed edge weight among its own row of neighbours
(ties: the smaller label). Faces are visited in index order in slices, each slice updated at once
from the labels so far (dlib updates one face at a time; slices keep it vectorised). A face is
visited again only while a neighbour of its row changed label in the previous pass: its vote
cannot change otherwise. Stops when a pass changes at most one face in 10,000 (a few faces between
two groups can flip back and forth for ever), or after `iterations` passes. Deterministic.
"""

from __future__ import annotations

import numpy as np

SLICES = 16
MAX_SLICE = 8192


def row_votes(labels: np.ndarray, neighbours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """For each row, the neighbours' label of largest summed weight (ties: the smaller label);
    -1 for a row with no neighbour. `neighbours` (m, k) with -1 padding, `weights` (m, k)."""
    m, k = neighbours.shape
    valid = neighbours >= 0
    lab = np.where(valid, labels[np.maximum(neighbours, 0)], np.iinfo(np.int64).max)
    order = np.argsort(lab, axis=1, kind="stable")
    lab = np.take_along_axis(lab, order, axis=1)
    w = np.take_along_axis(np.where(valid, weights, 0.0), order, axis=1).astype(np.float64)
    total = np.cumsum(w, axis=1)
    last = np.ones((m, k), dtype=bool)  # the last position of each run of one label
    last[:, :-1] = lab[:, 1:] != lab[:, :-1]
    before = np.zeros((m, k))  # the running total where the previous run ended
    before[:, 1:] = np.maximum.accumulate(np.where(last, total, 0.0), axis=1)[:, :-1]
    score = np.where(last & (lab != np.iinfo(np.int64).max), total - before, -np.inf)
    best = np.argmax(score, axis=1)  # the first maximum: labels ascend, so the smaller label
    out = np.take_along_axis(lab, best[:, None], axis=1)[:, 0]
    return np.where(np.isfinite(score[np.arange(m), best]), out, -1)


def chinese_whispers(neighbours: np.ndarray, weights: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Labels (int64, a face's label is some face's index) for the graph's rows (module docstring)."""
    n = len(neighbours)
    labels = np.arange(n, dtype=np.int64)
    if n == 0 or not (neighbours >= 0).any():
        return labels
    slices = max(SLICES, -(-n // MAX_SLICE))
    bounds = np.linspace(0, n, min(slices, n) + 1).astype(np.int64)
    active = np.count_nonzero(neighbours >= 0, axis=1) > 0
    for _ in range(iterations):
        changed = np.zeros(n, dtype=bool)
        for s, e in zip(bounds[:-1], bounds[1:], strict=True):
            rows = s + np.flatnonzero(active[s:e])
            if len(rows) == 0:
                continue
            vote = row_votes(labels, neighbours[rows], weights[rows])
            moved = (vote >= 0) & (vote != labels[rows])
            labels[rows[moved]] = vote[moved]
            changed[rows[moved]] = True
        if np.count_nonzero(changed) <= n // 10_000:
            break
        nb = neighbours
        active = np.zeros(n, dtype=bool)
        for s, e in zip(bounds[:-1], bounds[1:], strict=True):
            block = nb[s:e]
            active[s:e] = (changed[np.maximum(block, 0)] & (block >= 0)).any(axis=1)
    return labels
