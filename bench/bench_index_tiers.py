"""Benchmark: exact vs compressed search tier at the index level (no SQLite), to choose the switch-over.

For each size: SearchFaces-style queries (threshold distance 0.6, 10 matches) against the exact
in-memory tier and the compressed tier (1-bit codes + exact re-rank from memory-mapped segment
files) over the same synthetic clustered descriptors; p50 per tier, the bare float32 mat-vec
floor, and whether both tiers returned the same hits. Optionally faiss-cpu's IndexBinaryFlat
Hamming scan on the same codes, for the library comparison in the README (if faiss is importable).

Run: .venv/bin/python bench/bench_index_tiers.py --sizes 1e5,1e6 [--repeats 50]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from app.core import compressed_index  # noqa: E402
from app.core.compressed_index import CompressedIndex  # noqa: E402
from app.core.vector_index import CollectionIndex  # noqa: E402

DIM = 128


def clustered(n: int, rng) -> np.ndarray:
    sd = np.float32(1.0 / np.sqrt(2 * DIM))
    people = max(1, n // 10)
    centres = rng.standard_normal((people, DIM), dtype=np.float32) * sd
    out = np.empty((n, DIM), np.float32)
    for lo in range(0, n, 200_000):
        hi = min(n, lo + 200_000)
        out[lo:hi] = centres[np.arange(lo, hi) % people] + rng.standard_normal((hi - lo, DIM), dtype=np.float32) * sd * 0.35
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for n in [int(float(s)) for s in args.sizes.split(",")]:
        x = clustered(n, rng)
        exact = CollectionIndex(DIM)
        exact.append(np.arange(1, n + 1), x)
        with tempfile.TemporaryDirectory(prefix="rekurator-tiers-") as tmp:
            comp = CompressedIndex(DIM, directory=pathlib.Path(tmp), prefix="bench", center=x[:65536].mean(axis=0))
            t0 = time.perf_counter()
            for lo in range(0, n, compressed_index.SEGMENT_ROWS):
                comp.append(np.arange(lo + 1, min(n, lo + compressed_index.SEGMENT_ROWS) + 1),
                            x[lo : lo + compressed_index.SEGMENT_ROWS])
            build_s = time.perf_counter() - t0
            queries = rng.integers(0, n, args.repeats)
            te, tc, tf, same = [], [], [], 0
            for g in queries:
                q = x[g]
                t0 = time.perf_counter()
                x @ q
                t1 = time.perf_counter()
                a = exact.search_faces(q, 0.6, 10, exclude_rowid=int(g) + 1)
                t2 = time.perf_counter()
                b = comp.search_faces(q, 0.6, 10, exclude_rowid=int(g) + 1)
                t3 = time.perf_counter()
                tf.append(t1 - t0)
                te.append(t2 - t1)
                tc.append(t3 - t2)
                same += bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
            row = {"bench": "index_tiers", "faces": n, "repeats": args.repeats,
                   "exact_p50_ms": round(1e3 * float(np.median(te)), 3),
                   "compressed_p50_ms": round(1e3 * float(np.median(tc)), 3),
                   "floor_matvec_p50_ms": round(1e3 * float(np.median(tf)), 3),
                   "same_answers": same, "compressed_build_s": round(build_s, 2),
                   "compressed_memory_bytes_per_face": comp.codes.itemsize * comp.words + 8 + 8 + 4}
            try:
                import faiss  # optional: only for the comparison
                faiss.omp_set_num_threads(1)
                fidx = faiss.IndexBinaryFlat(comp.words * 64)
                fidx.add(comp.codes[:n].view(np.uint8))
                qcodes = comp.encode(x[queries])
                t = []
                for qc in qcodes:
                    t0 = time.perf_counter()
                    fidx.search(qc.view(np.uint8)[None], compressed_index.CANDIDATES)
                    t.append(time.perf_counter() - t0)
                row["faiss_binary_flat_scan_p50_ms"] = round(1e3 * float(np.median(t)), 3)
            except ImportError:
                pass
            t = []
            for g in queries:
                code = comp.encode(x[g : g + 1])[0]
                t0 = time.perf_counter()
                comp.hamming(code)
                t.append(time.perf_counter() - t0)
            row["numpy_hamming_scan_p50_ms"] = round(1e3 * float(np.median(t)), 3)
            print(json.dumps(row), flush=True)
            comp.close()
        del exact, x


if __name__ == "__main__":
    main()
