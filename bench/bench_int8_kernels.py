"""Benchmark: the int8 scan of the compressed tier, by library, against the float32 mat-vec floor.

One query against N random 128-d int8 codes (the same bytes for every kernel), interleaved:
simsimd's int8 squared-Euclidean `cdist` into a reused buffer (what the tier ran before
`app/core/split_scan.py`) with one and two threads, and into a fresh array each time; what
split_scan runs (onnxruntime's uint8 x int8 GEMM over split codes: every distance, and the
head-first search within the default threshold, with the faces a GEMM row it measured fastest here
and with each of split_scan.GROUPS); faiss's `IndexScalarQuantizer` (8 bit,
k = 1,024 nearest, two halves on two threads: it has no full-distance output); the numpy fallback
(int16 differences, chunked); and the float32 mat-vec over the same faces (the exact tier's floor).
Medians over --repeats, JSON lines.

Run: .venv/bin/python bench/bench_int8_kernels.py [--sizes 1e6,1e7] [--repeats 15]
     .venv/bin/python bench/bench_int8_kernels.py --scan-only --sizes 1e7,2e7  (simsimd alone, codes only)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import int8_scan, split_scan  # noqa: E402

DIM = 128


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(1e3 * float(np.median(times)), 2)


def measure(n: int, repeats: int, skip_numpy: bool) -> dict:
    import faiss
    import simsimd

    rng = np.random.default_rng(0)
    x = np.empty((n, DIM), np.float32)
    for lo in range(0, n, 1 << 20):
        x[lo : lo + (1 << 20)] = rng.standard_normal((min(1 << 20, n - lo), DIM), dtype=np.float32) * 0.09
    step = int8_scan.choose_step(x[:65536], np.zeros(DIM))
    codes = np.empty((n, DIM), np.int8)
    for lo in range(0, n, 1 << 18):  # in chunks: encoding makes float64 temporaries
        codes[lo : lo + (1 << 18)] = int8_scan.encode(x[lo : lo + (1 << 18)], np.zeros(DIM, np.float32), step)[0]
    q = codes[123].copy().reshape(1, -1)
    out = np.empty((1, n), np.float32)
    row: dict = {"bench": "int8_kernels", "faces": n, "repeats": repeats}
    row["float32_matvec_floor_ms"] = median_ms(lambda: x @ x[123], repeats)
    row["simsimd_1_thread_ms"] = median_ms(
        lambda: simsimd.cdist(q, codes, metric="sqeuclidean", threads=1, out=out), repeats)
    row["simsimd_2_threads_ms"] = median_ms(
        lambda: simsimd.cdist(q, codes, metric="sqeuclidean", threads=2, out=out), repeats)
    row["simsimd_2_threads_fresh_output_ms"] = median_ms(
        lambda: simsimd.cdist(q, codes, metric="sqeuclidean", threads=2), repeats)
    row.update(split_rows(codes, q[0], step, repeats))
    halves = []
    for lo, hi in ((0, n // 2), (n // 2, n)):
        index = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2)
        index.train(x[:65536])
        index.add(x[lo:hi])
        halves.append(index)
    pool = ThreadPoolExecutor(2, initializer=lambda: faiss.omp_set_num_threads(1))
    xq = x[123:124]
    row["faiss_sq8_knn1024_2_threads_ms"] = median_ms(
        lambda: list(pool.map(lambda h: h.search(xq, 1024), halves)), repeats)
    pool.shutdown()
    if not skip_numpy:
        saved = int8_scan._simsimd
        int8_scan._simsimd = False
        buf = np.empty(n, np.float32)
        row["numpy_fallback_ms"] = median_ms(lambda: int8_scan.squared_code_distances(codes, q[0], buf), 3)
        int8_scan._simsimd = saved
    row["simsimd_2_threads_over_floor"] = round(row["simsimd_2_threads_ms"] / row["float32_matvec_floor_ms"], 3)
    row["loadavg"] = os.getloadavg()
    return row


def split_rows(codes: np.ndarray, code: np.ndarray, step: float, repeats: int) -> dict:
    """What app/core/split_scan.py runs on the same codes: every distance by onnxruntime's integer
    GEMM (heads and tails), and the head-first search for faces within the default threshold
    (distance 0.6 plus two rounding radii), which reads tails only for near heads."""
    head, head_sq, tail, tail_sq = split_scan.split_codes(codes)
    out = np.empty(len(codes), np.int64)
    reach_sq = ((0.6 + 2 * int8_scan.rounding_radius(DIM, step)) / step) ** 2
    found = split_scan.within(head, head_sq, tail, tail_sq, code, reach_sq)[0]
    by_group = {g: median_ms(lambda g=g: split_scan.within(head, head_sq, tail, tail_sq, code, reach_sq, group=g), repeats)
                for g in split_scan.GROUPS}
    chosen = split_scan.group_for(head.shape[1])
    return {
        "gemm_all_distances_2_threads_ms": median_ms(
            lambda: split_scan.all_distances(head, head_sq, tail, tail_sq, code, out), repeats),
        "gemm_head_first_within_0.6_2_threads_ms": by_group[chosen],  # what the tier runs here
        "faces_per_gemm_row_measured": chosen,
        "head_first_within_ms_by_faces_per_row": by_group,
        "head_first_faces_found": len(found),
    }


def scan_only(n: int, repeats: int) -> dict:
    """simsimd alone on random codes (no float32 matrix, no faiss): sizes past memory for the others."""
    import simsimd

    rng = np.random.default_rng(0)
    codes = np.empty((n, DIM), np.int8)
    for lo in range(0, n, 1 << 20):
        codes[lo : lo + (1 << 20)] = rng.integers(-60, 60, (min(1 << 20, n - lo), DIM), dtype=np.int8)
    q = codes[123].copy().reshape(1, -1)
    out = np.empty((1, n), np.float32)
    step = 0.09 / (60 / np.sqrt(3))  # codes uniform in +-60: coordinates of sd 0.09, as in measure()
    return {"bench": "int8_kernels_scan_only", "faces": n, "repeats": repeats,
            "simsimd_2_threads_ms": median_ms(
                lambda: simsimd.cdist(q, codes, metric="sqeuclidean", threads=2, out=out), repeats),
            **split_rows(codes, q[0], step, repeats),
            "loadavg": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip-numpy", action="store_true", help="the numpy fallback takes seconds at 1e7")
    parser.add_argument("--scan-only", action="store_true", help="simsimd alone on random codes (e.g. 2e7)")
    args = parser.parse_args()
    for n in [int(float(s)) for s in args.sizes.split(",")]:
        row = scan_only(n, args.repeats) if args.scan_only else measure(n, args.repeats, args.skip_numpy)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
