"""The neighbour graph behind ClusterFaces: each face's k nearest faces within a radius (faiss, no SQL).

The graph is two N x k arrays, not a list of every edge: `neighbours` (int32 row ids, nearest first,
-1 padding) and `d2` (their squared distances, float32). A face of an identity with hundreds of
faces keeps only its k nearest, so memory is bounded (k = 32: 256 bytes a face, half a 128-d
descriptor) and label propagation does a fixed amount of work per face.

- Up to EXACT_PAIRS compared pairs (N^2 < 4e8, about 20,000 faces) every face is compared with
  every face: exact kNN, faiss' blocked distance products, the queries split over worker threads.
- Above that, direction-based cells: spherical k-means on an evenly spaced sample of the faces'
  directions from the sample mean gives about N / cell size centroids (size ~ sqrt(N / 4)); each face is stored in
  its CELLS_PER_FACE best cells and searches (exactly) the faces stored in its best one, so two
  near faces on either side of a cell border mostly still meet. A cell whose searchers would be
  more than CROWDED x the cell size is split along its own sub-centroids, so no "hub" cell costs N^2.
  In 128 dimensions a face's cosines to the centroids lie close together, so one partition still
  misses ~0.3-1.5 % of the pairs (a face's best cell not among a near face's 4); ROUNDS = 2
  partitions (another sample and seed: other borders), keeping the better k of both rounds,
  miss ~0.1 % (README).

Worker threads (one per core) each run faiss single-threaded: faiss releases the GIL, and one
level of parallelism avoids OpenMP inside threads oversubscribing the cores. The result is the
same for the same data whatever the number of threads (every face's search is independent).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .errors import InvalidParameterException


def faiss_module() -> ModuleType:
    """faiss, imported on first use: the engine's start and small collections never load it (~0.2 s, tens of MB)."""
    import faiss

    return faiss


K = 32
EXACT_PAIRS = 400_000_000
CELL_SIZE = None  # about sqrt(N / 4), 128..1024: balances finding the cells (N^2 / size) and searching them (4 N size)
CELLS_PER_FACE = 4
CROWDED = 4
SAMPLE_PER_CELL = 32
ITERATIONS = 8
ROUNDS = 2
_QUERY_BLOCK = 1024


@dataclass
class KnnGraph:
    """Row i: the faces nearest face i within the radius, nearest first (-1 pads short rows)."""

    neighbours: np.ndarray  # (n, k) int32
    d2: np.ndarray  # (n, k) float32 squared distances; 0 where there is no neighbour

    @property
    def n(self) -> int:
        return len(self.neighbours)

    @property
    def valid(self) -> np.ndarray:
        return self.neighbours >= 0

    @property
    def degree(self) -> np.ndarray:
        return np.count_nonzero(self.neighbours >= 0, axis=1)


def workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _single_threaded(fn):
    def run(*args):
        faiss_module().omp_set_num_threads(1)  # per calling thread: the threads are the parallelism
        return fn(*args)
    return run


def check_vectors(vectors) -> np.ndarray:
    x = np.asarray(vectors)
    if x.ndim != 2 or (len(x) and x.shape[1] == 0):
        raise InvalidParameterException(f"descriptors must be a 2-d array of rows, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise InvalidParameterException(f"descriptors must be numbers, got {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) and not np.isfinite(x).all():
        raise InvalidParameterException("descriptors hold NaN or infinite values")
    return x


def _check_radius(max_distance: float, k: int) -> float:
    if not np.isfinite(max_distance) or max_distance <= 0:
        raise InvalidParameterException(f"the grouping radius must be a positive distance, got {max_distance}")
    if k < 1:
        raise InvalidParameterException(f"k must be at least 1, got {k}")
    return float(max_distance) ** 2


def _keep(rows: np.ndarray, found: np.ndarray, dist: np.ndarray, r2: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """faiss' answer for `rows` (nearest first) -> the first k hits within r2 that are not the face itself."""
    ok = (found >= 0) & (found != rows[:, None]) & (dist <= r2)
    order = np.argsort(~ok, axis=1, kind="stable")[:, :k]  # valid hits first, in distance order
    ok = np.take_along_axis(ok, order, axis=1)
    nb = np.where(ok, np.take_along_axis(found, order, axis=1), -1).astype(np.int32)
    d2 = np.where(ok, np.maximum(np.take_along_axis(dist, order, axis=1), 0.0), 0.0).astype(np.float32)
    if nb.shape[1] < k:
        pad = k - nb.shape[1]
        nb = np.pad(nb, ((0, 0), (0, pad)), constant_values=-1)
        d2 = np.pad(d2, ((0, 0), (0, pad)))
    return nb, d2


def knn_graph(vectors, max_distance: float, k: int = K, exact_pairs: int = EXACT_PAIRS,
              cell_size: int | None = CELL_SIZE, per_face: int = CELLS_PER_FACE, rounds: int = ROUNDS,
              threads: int | None = None) -> KnnGraph:
    """Each row's k nearest rows within `max_distance` (Euclidean): exact below `exact_pairs`
    compared pairs, else through `rounds` independent cell partitions (module docstring)."""
    x = check_vectors(vectors)
    r2 = _check_radius(max_distance, k)
    n = len(x)
    neighbours = np.full((n, k), -1, dtype=np.int32)
    d2 = np.zeros((n, k), dtype=np.float32)
    if n < 2:
        return KnnGraph(neighbours, d2)
    threads = threads or workers()
    exact = n * n <= exact_pairs

    @_single_threaded
    def search(job):
        rows, members = job
        if members is None:
            dist, found = faiss_module().knn(x[rows], x, min(n, k + 1))
        else:
            dist, local = faiss_module().knn(x[rows], x[members], min(len(members), k + 1))
            found = np.where(local >= 0, members[np.maximum(local, 0)], -1)
        nb, dd = _keep(rows, found, dist, r2, k)
        if not exact and (neighbours[rows] >= 0).any():  # a later round: keep the best of both
            nb, dd = _merge(np.hstack([neighbours[rows], nb]), np.hstack([d2[rows], dd]), k)
        neighbours[rows], d2[rows] = nb, dd

    if exact:
        _run(search, [(np.arange(s, min(n, s + _QUERY_BLOCK)), None) for s in range(0, n, _QUERY_BLOCK)], threads)
    for seed in range(0 if exact else rounds):
        _run(search, cell_searches(x, cell_size, threads, per_face, seed), threads)
    return KnnGraph(neighbours, d2)


def _merge(nb: np.ndarray, d2: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest distinct neighbours of each row of two rounds' answers side by side."""
    by_id = np.argsort(nb, axis=1, kind="stable")
    ids = np.take_along_axis(nb, by_id, axis=1)
    dup = np.zeros(ids.shape, dtype=bool)
    dup[:, 1:] = ids[:, 1:] == ids[:, :-1]
    drop = np.zeros(ids.shape, dtype=bool)
    np.put_along_axis(drop, by_id, dup, axis=1)
    key = np.where((nb < 0) | drop, np.inf, d2)
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    ok = np.isfinite(np.take_along_axis(key, order, axis=1))
    return (np.where(ok, np.take_along_axis(nb, order, axis=1), -1).astype(np.int32),
            np.where(ok, np.take_along_axis(d2, order, axis=1), 0.0).astype(np.float32))


def _run(fn, jobs: list, threads: int) -> None:
    if threads <= 1 or len(jobs) <= 1:
        for job in jobs:
            _single_threaded(fn)(job)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(fn, jobs):  # re-raises a worker's error here
            pass


# -- cells -----------------------------------------------------------------------------------------
def _directions(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    d = x - mean
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(d, dtype=np.float32)


def _train_cells(sample: np.ndarray, n_cells: int, seed: int) -> np.ndarray:
    """Unit centroids of spherical k-means on `sample` (directions), deterministic (fixed seed)."""
    n_cells = max(1, min(n_cells, len(sample)))
    if n_cells == 1:
        c = sample.mean(axis=0, keepdims=True)
        return c / max(float(np.linalg.norm(c)), 1e-12)
    before = faiss_module().omp_get_max_threads()
    try:
        kmeans = faiss_module().Kmeans(sample.shape[1], n_cells, niter=ITERATIONS, spherical=True, seed=seed,
                              max_points_per_centroid=64, min_points_per_centroid=1)
        kmeans.train(sample)
    finally:
        faiss_module().omp_set_num_threads(before)
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def _best_cells(x: np.ndarray, mean: np.ndarray, centroids: np.ndarray, m: int, threads: int) -> np.ndarray:
    """Each row's m best cells (largest cosine between its direction and the centroid), best first:
    the ranking of (x - mean) . c, so the directions need no copy of the faces: one product with
    [x, 1] . [c, -mean . c] per block."""
    m = min(m, len(centroids))
    base = np.ascontiguousarray(np.hstack([centroids, -(centroids @ mean)[:, None]]), dtype=np.float32)
    out = np.empty((len(x), m), dtype=np.int32)

    @_single_threaded
    def assign(start):
        block = x[start : start + _QUERY_BLOCK]
        q = np.hstack([block, np.ones((len(block), 1), np.float32)])
        out[start : start + len(block)] = faiss_module().knn(q, base, m, faiss_module().METRIC_INNER_PRODUCT)[1]

    _run(assign, list(range(0, len(x), _QUERY_BLOCK)), threads)
    return out


def cell_searches(x: np.ndarray, cell_size: int | None = CELL_SIZE, threads: int = 1,
                  per_face: int | None = None, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(searching rows, stored rows) per cell, both ascending: every row searches exactly one
    cell; crowded cells are split again along their own centroids. Another `seed` gives another
    partition (another sample, other starting centroids), with its borders elsewhere."""
    every = np.arange(len(x))
    cell_size = cell_size or int(np.clip(np.sqrt(len(x) / 4), 128, 1024))
    return _split(x, every, every, cell_size, threads, per_face or CELLS_PER_FACE, seed, depth=0)


def _split(x: np.ndarray, searching: np.ndarray, stored: np.ndarray, cell_size: int, threads: int,
           per_face: int, seed: int, depth: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cells for the rows `searching` among the rows `stored` (a superset, ascending)."""
    n = len(searching)
    n_cells = max(2, n // cell_size)
    picks = np.linspace(0, n - 1, min(n, SAMPLE_PER_CELL * n_cells)).astype(np.int64)
    sample = searching[(picks + seed * max(1, n // (2 * len(picks) + 1))) % n]
    mean = x[sample].astype(np.float64).mean(axis=0).astype(np.float32)
    centroids = _train_cells(_directions(x[sample], mean), n_cells, 1234 + seed)
    best = _best_cells(x if depth == 0 else x[stored], mean, centroids, per_face, threads)
    flat = best.ravel()
    order = np.argsort(flat, kind="stable")  # stored rows by cell, ascending within a cell
    members = stored[order // best.shape[1]]
    bounds = np.searchsorted(flat[order], np.arange(len(centroids) + 1))
    home_cell = best[np.searchsorted(stored, searching), 0]
    home_order = np.argsort(home_cell, kind="stable")
    home = searching[home_order]
    home_bounds = np.searchsorted(home_cell[home_order], np.arange(len(centroids) + 1))
    del best, flat, order, home_order, home_cell
    out = []
    for c in range(len(centroids)):
        here = home[home_bounds[c] : home_bounds[c + 1]]
        if len(here) == 0:
            continue
        cell = members[bounds[c] : bounds[c + 1]]
        if len(here) > CROWDED * cell_size and depth < 2 and len(here) < n:
            out.extend(_split(x, here, cell, cell_size, threads, per_face, seed, depth + 1))
        else:
            out.append((here, cell))
    return out


def cross_neighbours(new, old, max_distance: float, k: int = K,
                     threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(new row, old row, squared distance) for each new row's k nearest old rows within
    `max_distance` (exact: new x old, for the faces that arrived since the last grouping)."""
    new, old = check_vectors(new), check_vectors(old)
    r2 = _check_radius(max_distance, k)
    if len(new) == 0 or len(old) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    if new.shape[1] != old.shape[1]:
        raise InvalidParameterException(f"descriptor sizes differ: {new.shape[1]} and {old.shape[1]}")
    nb = np.full((len(new), k), -1, dtype=np.int32)
    d2 = np.zeros((len(new), k), dtype=np.float32)

    @_single_threaded
    def search(start):
        rows = np.arange(start, min(len(new), start + _QUERY_BLOCK))
        dist, found = faiss_module().knn(new[rows], old, min(len(old), k))
        nb[rows], d2[rows] = _keep(np.full(len(rows), -1), found, dist, r2, k)

    _run(search, list(range(0, len(new), _QUERY_BLOCK)), threads or workers())
    r, j = np.nonzero(nb >= 0)
    return r.astype(np.int64), nb[r, j].astype(np.int64), d2[r, j]
