"""Hamming scans of 1-bit codes: faiss-cpu (fast path) and numpy (fallback).

The compressed tier's scan until it moved to int8 codes (app/core/int8_scan.py); kept here for the
previous search in hamming_tier_baseline.py.

`nearest` finds, with faiss's counting k-nearest scan (`hammings_knn_mc`, one thread per part,
run on the caller's uint8 view of the codes, no copy), every live face whose Hamming distance to
the query is at most the `wanted`-th smallest live distance: the same candidate set as the numpy
rule in `CompressedIndex` (ties at the cut-off included). Each part is asked for `SLACK` times as
many neighbours as wanted; when a part's list ends at the cut-off distance, faces tied at that
distance may be missing, and None is returned so that the caller runs the exhaustive numpy scan
instead (rare: it needs `SLACK` times more faces at the cut-off than nearer).

faiss is imported on first use only: the exact tier and small collections never load it.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

PARALLEL_MIN_FACES = 1 << 21  # from here on the codes are scanned in two halves, one thread each
SLACK = 4  # neighbours asked of each part, per candidate wanted
SCAN_ROWS = 1 << 14  # numpy: codes per step, so the temporaries stay in the CPU cache

_lock = threading.Lock()
_faiss: Any = None  # the module once imported; False when it cannot be
_pool: ThreadPoolExecutor | None = None
_numpy_pool: ThreadPoolExecutor | None = None


def _threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _one_omp_thread() -> None:
    # OpenMP's thread count is per thread: each worker scans with exactly one
    _faiss.omp_set_num_threads(1)


def faiss_module() -> Any:
    """faiss, imported on first use; None where it is not installed or does not load."""
    global _faiss, _pool
    with _lock:
        if _faiss is None:
            try:
                import faiss  # lazy: loading it costs ~0.2 s and tens of MB

                _faiss = faiss
            except ImportError:
                _faiss = False
        if _faiss and _pool is None:
            _pool = ThreadPoolExecutor(_threads(), thread_name_prefix="rekurator-hamming",
                                       initializer=_one_omp_thread)
    return _faiss or None


def _knn(args: tuple) -> tuple[np.ndarray, np.ndarray, int]:
    codes, query, lo, hi, k = args
    distances, labels = _faiss.knn_hamming(query, codes[lo:hi], k, variant="mc")
    return distances[0].astype(np.int64), labels[0] + lo, hi - lo


def nearest(codes: np.ndarray, query: np.ndarray, wanted: int, sqnorms: np.ndarray | None = None,
            parts: int | None = None) -> np.ndarray | None:
    """Positions of the live faces within the `wanted`-th smallest live Hamming distance, ties included.

    `codes` is (n, bytes) uint8, C-contiguous (a view of the index's codes); `query` (bytes,) uint8;
    deleted faces are those whose entry in `sqnorms` is not finite (None: none are deleted).
    None when faiss is missing or the lists could not prove that every tie was seen (the caller
    then scans with numpy).
    """
    faiss = faiss_module()
    n = len(codes)
    if faiss is None or n == 0 or wanted <= 0:
        return None
    if parts is None:
        parts = _threads() if n >= PARALLEL_MIN_FACES else 1
    bounds = np.linspace(0, n, parts + 1).astype(np.int64).tolist()
    q = np.ascontiguousarray(query, dtype=np.uint8).reshape(1, -1)
    jobs = [(codes, q, lo, hi, min(hi - lo, SLACK * wanted)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    assert _pool is not None
    results = list(_pool.map(_knn, [job for job in jobs if job[3] > job[2]]))
    dist = np.concatenate([d for d, _i, _n in results])
    pos = np.concatenate([i for _d, i, _n in results])
    live = pos >= 0
    if sqnorms is not None:
        live &= np.isfinite(sqnorms[np.maximum(pos, 0)])
    dist, pos = dist[live], pos[live]
    if len(pos) < wanted:
        return None
    cut = int(np.partition(dist, wanted - 1)[wanted - 1])
    for d, _i, size in results:
        if len(d) < size and d.max() <= cut:  # this part may hold more faces at the cut-off
            return None
    return np.sort(pos[dist <= cut])


def numpy_distances(codes: np.ndarray, code: np.ndarray, dtype) -> np.ndarray:
    """Hamming distance from `code` to every row of `codes` ((n, words) uint64), as `dtype`.

    Scanned in cache-sized chunks; numpy's loops release the GIL, so large scans use two threads.
    """
    n, words = codes.shape
    out = np.empty(n, dtype=dtype)

    def scan(lo: int, hi: int) -> None:
        buf = np.empty((SCAN_ROWS, words), dtype=np.uint64)
        for a in range(lo, hi, SCAN_ROWS):
            b = min(hi, a + SCAN_ROWS)
            x = buf[: b - a]
            np.bitwise_xor(codes[a:b], code, out=x)
            np.bitwise_count(x, out=x)
            # column adds: several times faster than a sum along a 2-word axis
            np.add(x[:, 0], x[:, 1] if words > 1 else 0, out=out[a:b], casting="unsafe")
            for w in range(2, words):
                np.add(out[a:b], x[:, w], out=out[a:b], casting="unsafe")

    if n >= 64 * SCAN_ROWS and _threads() > 1:
        global _numpy_pool
        with _lock:
            if _numpy_pool is None:
                _numpy_pool = ThreadPoolExecutor(2, thread_name_prefix="rekurator-scan")
        mid = (n // 2) // SCAN_ROWS * SCAN_ROWS
        list(_numpy_pool.map(lambda r: scan(*r), [(0, mid), (mid, n)]))
    else:
        scan(0, n)
    return out


def numpy_nearest(ham: np.ndarray, wanted: int) -> np.ndarray:
    """Positions whose distance in `ham` is at most the `wanted`-th smallest (dead faces hold the
    dtype's maximum and are never returned)."""
    dead = np.iinfo(ham.dtype).max
    # the smallest h with at least `wanted` faces within h: guessed from a strided sample's
    # histogram, then confirmed (or moved a step at a time) by counting over all faces
    step = max(1, len(ham) // 65536)
    hist = np.cumsum(np.bincount(ham[::step], minlength=int(dead) + 1)) * step
    h = min(int(np.searchsorted(hist, wanted)), int(dead) - 1)
    count = np.count_nonzero(ham <= h)
    while count < wanted and h < dead - 1:
        h += 1
        count = np.count_nonzero(ham <= h)
    while h > 0:
        fewer = np.count_nonzero(ham <= h - 1)
        if fewer < wanted:
            break
        h, count = h - 1, fewer
    return np.flatnonzero(ham <= h)
