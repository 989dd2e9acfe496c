"""Benchmark: the int8 scan of the compressed tier, by library, against the float32 mat-vec floor.

One query against N random 128-d int8 codes (the same bytes for every kernel), interleaved:
simsimd's int8 squared-Euclidean `cdist` into a reused buffer (what `app/core/int8_scan.py` runs)
with one and two threads, and into a fresh array each time; faiss's `IndexScalarQuantizer` (8 bit,
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

from app.core import int8_scan  # noqa: E402

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


def scan_only(n: int, repeats: int) -> dict:
    """simsimd alone on random codes (no float32 matrix, no faiss): sizes past memory for the others."""
    import simsimd

    rng = np.random.default_rng(0)
    codes = np.empty((n, DIM), np.int8)
    for lo in range(0, n, 1 << 20):
        codes[lo : lo + (1 << 20)] = rng.integers(-60, 60, (min(1 << 20, n - lo), DIM), dtype=np.int8)
    q = codes[123].copy().reshape(1, -1)
    out = np.empty((1, n), np.float32)
    return {"bench": "int8_kernels_scan_only", "faces": n, "repeats": repeats,
            "simsimd_2_threads_ms": median_ms(
                lambda: simsimd.cdist(q, codes, metric="sqeuclidean", threads=2, out=out), repeats),
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
