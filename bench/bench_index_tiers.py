"""Benchmark: exact vs compressed search tier at the index level (no SQLite), to choose the switch-over.

For each size: SearchFaces-style queries (threshold distance 0.6, 10 matches) against the exact
in-memory tier and the compressed tier (1-bit codes + exact re-rank from memory-mapped segment
files) over the same synthetic clustered descriptors; p50 per tier, the bare float32 mat-vec
floor, and whether both tiers returned the same hits. Optionally faiss-cpu's IndexBinaryFlat
Hamming scan on the same codes, for the library comparison in the README (if faiss is importable).

The exact tier here shares the bench's matrix (no copy), so 1e7 faces need about 6 GB. At the
largest size a fresh process also opens the compressed tier's saved files (index file + segments)
and runs one search: wall time and resident memory against the raw float32 descriptor bytes.

Run: .venv/bin/python bench/bench_index_tiers.py --sizes 1e5,1e6 [--repeats 50] [--exact-queries 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
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
        out[lo:hi] = (
            centres[np.arange(lo, hi) % people]
            + rng.standard_normal((hi - lo, DIM), dtype=np.float32) * sd * 0.35
        )
    return out


def memory_mib() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = round(int(value.split()[0]) / 1024.0, 1)
    return out


def child_open(path: str, query: str) -> None:
    """In a fresh process: load the saved compressed index, run one search, report time and memory."""
    base = memory_mib()
    t0 = time.perf_counter()
    index = CompressedIndex.load_file(pathlib.Path(path), 1, DIM)
    t1 = time.perf_counter()
    assert index is not None, "saved index did not load"
    q = np.frombuffer(bytes.fromhex(query), dtype=np.float32)
    hits = index.search_faces(q, 0.6, 10)
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "load_s": round(t1 - t0, 3),
                "first_search_s": round(t2 - t1, 3),
                "open_and_first_search_s": round(t2 - t0, 3),
                "matches": len(hits[0]),
                "before": base,
                "after": memory_mib(),
            }
        )
    )


def exact_view(x: np.ndarray) -> CollectionIndex:
    """An exact-tier index over `x` itself (no copy of the matrix)."""
    index = CollectionIndex(DIM)
    n = len(x)
    index.vectors, index.n = x, n
    index.rowids = np.arange(1, n + 1, dtype=np.int64)
    index.owners = np.zeros(n, np.int64)
    index.sqnorms = np.empty(n, np.float32)
    for lo in range(0, n, 1 << 20):
        index.sqnorms[lo : lo + (1 << 20)] = np.einsum(
            "ij,ij->i", x[lo : lo + (1 << 20)], x[lo : lo + (1 << 20)]
        )
    index._max_sqnorm = float(index.sqnorms.max())
    return index


def exhaustive(x: np.ndarray, probes: np.ndarray, max_distance: float, limit: int):
    """For each probe face: (rowids, float64 distances) of every face within max_distance, nearest
    first by (distance, rowid), itself excluded: one blocked float32 pass with a wide margin, then
    float64 for the survivors (the brute-force reference the tiers must equal)."""
    q = x[probes]
    near: list[list[int]] = [[] for _ in probes]
    qq = np.einsum("ij,ij->i", q, q)[:, None]
    for lo in range(0, len(x), 25_000):
        block = x[lo : lo + 25_000]
        d2 = np.einsum("ij,ij->i", block, block)[None, :] - 2.0 * (q @ block.T) + qq
        for qi, col in zip(*np.nonzero(d2 <= max_distance * max_distance + 1e-3), strict=False):
            near[qi].append(lo + int(col))
    out = []
    for qi, g in enumerate(probes):
        cand = np.asarray([c for c in near[qi] if c != g], dtype=np.int64)
        diff = x[cand].astype(np.float64) - q[qi].astype(np.float64)
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff))  # the same float64 arithmetic as the index
        cand, d = cand[d <= max_distance], d[d <= max_distance]
        order = np.lexsort((cand, d))[:limit]
        out.append((cand[order] + 1, d[order]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--exact-queries", type=int, default=1000, help="queries compared with exhaustive search"
    )
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--candidates", type=int, default=None, help="compressed_index.CANDIDATES for this run")
    parser.add_argument("--child-open", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_open:
        child_open(*args.child_open)
        return
    if args.candidates:
        compressed_index.CANDIDATES = args.candidates
    rng = np.random.default_rng(0)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    for n in sizes:
        x = clustered(n, rng)
        exact = exact_view(x)
        with tempfile.TemporaryDirectory(prefix="rekurator-tiers-", dir=args.workdir) as tmp:
            comp = CompressedIndex(
                DIM, directory=pathlib.Path(tmp), prefix="bench", center=x[:65536].mean(axis=0)
            )
            t0 = time.perf_counter()
            for lo in range(0, n, compressed_index.SEGMENT_ROWS):
                comp.append(
                    np.arange(lo + 1, min(n, lo + compressed_index.SEGMENT_ROWS) + 1),
                    x[lo : lo + compressed_index.SEGMENT_ROWS],
                )
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
            row = {
                "bench": "index_tiers",
                "faces": n,
                "repeats": args.repeats,
                "exact_p50_ms": round(1e3 * float(np.median(te)), 3),
                "compressed_p50_ms": round(1e3 * float(np.median(tc)), 3),
                "floor_matvec_p50_ms": round(1e3 * float(np.median(tf)), 3),
                "same_answers": same,
                "compressed_build_s": round(build_s, 2),
                "compressed_memory_bytes_per_face": comp.codes.itemsize * comp.words + 8 + 8 + 4,
            }
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
            # exactness: planted same-person faces (10 per person), default threshold and MaxFaces 10
            agree, probes = 0, rng.choice(n, size=min(args.exact_queries, n), replace=False)
            for a, g in zip(exhaustive(x, probes, 0.6, 10), probes, strict=False):
                b = comp.search_faces(x[g], 0.6, 10, exclude_rowid=int(g) + 1)
                agree += bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
            row.update(exactness_queries=len(probes), exactness_agreeing=agree)
            raw = n * DIM * 4
            row["compressed_memory_ratio"] = round(
                (comp.codes[:n].nbytes + 20 * n + comp.vectors.nbytes) / raw, 3
            )
            if n == sizes[-1]:
                comp.save(pathlib.Path(tmp) / "bench.index", 1)
                opens = []
                for _ in range(3):
                    done = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child-open",
                            str(pathlib.Path(tmp) / "bench.index"),
                            x[int(rng.integers(0, n))].tobytes().hex(),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    opens.append(json.loads(done.stdout.strip().splitlines()[-1]))
                opens.sort(key=lambda r: r["open_and_first_search_s"])
                mid = opens[1]
                row["open"] = mid
                row["open_all_s"] = [r["open_and_first_search_s"] for r in opens]
                row["open_rss_over_fixed_ratio"] = round(
                    (mid["after"]["VmRSS"] - mid["before"]["VmRSS"]) * 2**20 / raw, 3
                )
            row["loadavg"] = os.getloadavg()
            print(json.dumps(row), flush=True)
            comp.close()
        del exact, x


if __name__ == "__main__":
    main()
