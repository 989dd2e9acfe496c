"""The compressed tier's codes: int8 scalar quantization with a per-face error bound, and their scan.

A descriptor x is held as c = round((x - center) / step), clipped to [-127, 127], so that
x_hat = center + step * c is its decoded form; `radius` is ||x - x_hat||, rounded up. For a query
q coded the same way (q_hat, radius r_q), the distance between the decoded forms is exactly
step * sqrt(sum((c_q - c_x)^2)), an integer sum, and by the triangle inequality

    | ||q - x|| - ||q_hat - x_hat|| |  <=  r_q + r_x

so a scan of the codes alone bounds every face's true distance from both sides. The tier scans
its codes split in two (`split_scan`: onnxruntime's integer GEMM); `squared_code_distances` here,
simsimd's int8 squared-Euclidean kernel per row (or numpy where simsimd is missing), reads the
few tails the head scan leaves. Its sums are exact integers (at most dim * 254^2: float32 holds
them exactly up to 260 coordinates, float64 beyond; `sum_dtype`).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

PARALLEL_MIN_FACES = 1 << 18  # from here on simsimd scans with two threads
_NUMPY_ROWS = 1 << 14
_SAMPLE_QUANTILE = 0.9999  # the step covers this share of the sample's coordinates, with headroom:
_HEADROOM = 1.5  # later faces beyond it are clipped, get a large radius and are always re-ranked
_ROUND_UP = 1 + 1e-6  # radii are computed in float64 and rounded up by far more than its rounding

_lock = threading.Lock()
_simsimd: Any = None  # the module once imported; False when it cannot be


def simsimd_module() -> Any:
    """simsimd, imported on first use; None where it is not installed or does not load."""
    global _simsimd
    with _lock:
        if _simsimd is None:
            try:
                import simsimd  # lazy: small collections never scan codes

                _simsimd = simsimd
            except ImportError:
                _simsimd = False
    return _simsimd or None


def choose_step(sample: np.ndarray, center: np.ndarray) -> float:
    """The quantization step for a collection, from a sample of its descriptors."""
    if len(sample) == 0:
        return 1.0 / 127  # no data yet: unit-scale descriptors
    spread = np.abs(np.asarray(sample, np.float32) - center)
    top = float(np.quantile(spread, _SAMPLE_QUANTILE)) if spread.size else 0.0
    return max(top * _HEADROOM / 127, 1e-6)


def encode(vectors: np.ndarray, center: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(codes int8 (n, dim), radii float32 (n,)): the codes and an upper bound of each face's error."""
    x = np.asarray(vectors, np.float32)
    codes = np.clip(np.rint((x - center) / np.float32(step)), -127, 127).astype(np.int8)
    decoded = center.astype(np.float64) + step * codes.astype(np.float64)
    err = np.sqrt(np.einsum("ij,ij->i", x - decoded, x - decoded))
    radii = (err * _ROUND_UP + 1e-9).astype(np.float32)
    return codes, np.nextafter(radii, np.float32(np.inf))  # float32 rounding can only make it larger


def rounding_radius(dim: int, step: float) -> float:
    """The largest radius of a face that was not clipped: half a step in every coordinate."""
    return float(np.sqrt(dim) * step / 2 * _ROUND_UP + 1e-9)


def sum_dtype(dim: int) -> type:
    """float32 holds every sum exactly up to 260 coordinates (260 * 254^2 < 2^24); float64 beyond."""
    return np.float32 if dim * 254 * 254 < 1 << 24 else np.float64


def squared_code_distances(
    codes: np.ndarray, code: np.ndarray, out: np.ndarray, threads: int | None = None
) -> np.ndarray:
    """sum((code - codes[i])^2) for every row into `out` (`sum_dtype`, len(codes)); returns `out`.

    `threads`: simsimd's thread count; by default two from PARALLEL_MIN_FACES rows on."""
    n = len(codes)
    if n == 0:
        return out
    simsimd = simsimd_module()
    if simsimd is not None:
        if threads is None:
            threads = min(2, os.cpu_count() or 1) if n >= PARALLEL_MIN_FACES else 1
        # not `out=`: simsimd 6.5's cdist then returns None without a reference of its own, and each
        # call takes one of None's (Python 3.11 aborts once they run out: tests/core/test_split_scan.py)
        result = simsimd.cdist(
            code.reshape(1, -1), codes, metric="sqeuclidean", threads=threads, out_dtype=out.dtype.name
        )
        out[:] = np.asarray(result).reshape(n)
        return out
    q = code.astype(np.int16)
    for lo in range(0, n, _NUMPY_ROWS):
        diff = codes[lo : lo + _NUMPY_ROWS].astype(np.int16) - q
        out[lo : lo + _NUMPY_ROWS] = np.einsum("ij,ij->i", diff, diff, dtype=np.int32)
    return out
