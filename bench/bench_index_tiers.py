"""Benchmark: exact vs compressed search tier at the index level (no SQLite), to choose the switch-over.

For each size: SearchFaces-style queries (threshold distance 0.6, 10 matches) against the exact
in-memory tier, the compressed tier (int8 codes scanned with simsimd, bounds, exact re-rank of
the faces that could answer from segment files), the compressed tier's previous search
(`hamming_tier_baseline.py`: 1-bit codes, faiss Hamming scan, 1,024 re-ranked) and the bare
float32 mat-vec floor, interleaved query by query over the same synthetic clustered descriptors;
p50 of each, whether the answers agree, the int8 scan alone, rows read per search, and exactness
of both compressed searches against an exhaustive float64 search on 1,000 queries with planted
same-person faces. (Real descriptors: bench_real_exactness.py.)

The bench's matrix is a file-backed memory map in --workdir (built in chunks; page cache, not
process memory, holds it), and the exact tier shares it (no copy). At the largest size a fresh
process also opens the compressed tier's saved files (index file + segments) and runs one search:
wall time and resident memory against the raw float32 descriptor bytes.

Run: .venv/bin/python bench/bench_index_tiers.py --sizes 1e5,1e6 [--repeats 50] [--exact-queries 1000]
     [--workdir DIR] [--no-exact-tier]
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

import hamming_tier_baseline  # noqa: E402

from app.core import compressed_index  # noqa: E402
from app.core.compressed_index import CompressedIndex  # noqa: E402
from app.core.vector_index import CollectionIndex  # noqa: E402

DIM = 128


def clustered(n: int, rng, path: pathlib.Path | None = None) -> np.ndarray:
    sd = np.float32(1.0 / np.sqrt(2 * DIM))
    people = max(1, n // 10)
    centres = rng.standard_normal((people, DIM), dtype=np.float32) * sd
    out = np.empty((n, DIM), np.float32) if path is None else np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n, DIM)
    )
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
    parser.add_argument("--workdir", default=None, help="where the matrix and the segment files go")
    parser.add_argument("--no-exact-tier", action="store_true", help="skip the exact tier's timing")
    parser.add_argument("--child-open", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_open:
        child_open(*args.child_open)
        return
    rng = np.random.default_rng(0)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="rekurator-tiers-", dir=args.workdir) as tmp:
            x = clustered(n, rng, pathlib.Path(tmp) / "x.npy")
            exact = exact_view(x)
            center, step = compressed_index.quantizer_for(x[:65536], DIM)
            comp = CompressedIndex(DIM, directory=pathlib.Path(tmp), prefix="bench", center=center, step=step)
            old = hamming_tier_baseline.HammingTier(comp, x[:65536].mean(axis=0))
            t0 = time.perf_counter()
            for lo in range(0, n, compressed_index.SEGMENT_ROWS):
                comp.append(
                    np.arange(lo + 1, min(n, lo + compressed_index.SEGMENT_ROWS) + 1),
                    x[lo : lo + compressed_index.SEGMENT_ROWS],
                )
            build_s = time.perf_counter() - t0
            for lo in range(0, n, 1 << 20):
                old.add(x[lo : lo + (1 << 20)])
            queries = rng.integers(0, n, args.repeats)
            comp.search_faces(x[0], 0.6, 10)  # simsimd's import and buffers, once
            old.search_faces(x[0], 0.6, 10)  # faiss's import and threads, once
            # in blocks of 10 queries per method, the blocks alternating: a method timed right after a
            # BLAS mat-vec would share the cores with OpenBLAS's still-spinning threads
            te, tc, to, tf, same, same_old = [], [], [], [], 0, 0
            answers: dict[str, list] = {"exact": [], "new": [], "old": []}
            methods = [
                (tf, None, lambda q, g, x=x: x @ q),
                (tc, "new", lambda q, g, comp=comp: comp.search_faces(q, 0.6, 10, exclude_rowid=int(g) + 1)),
                (to, "old", lambda q, g, old=old: old.search_faces(q, 0.6, 10, exclude_rowid=int(g) + 1)),
            ]
            if not args.no_exact_tier:
                methods.insert(1, (te, "exact", lambda q, g, ix=exact: ix.search_faces(q, 0.6, 10, exclude_rowid=int(g) + 1)))
            for lo in range(0, len(queries), 10):
                block = queries[lo : lo + 10]
                for times, name, fn in methods:
                    for g in block:
                        q = np.array(x[g])
                        t0 = time.perf_counter()
                        got = fn(q, g)
                        times.append(time.perf_counter() - t0)
                        if name:
                            answers[name].append(got)
            for i, b in enumerate(answers["new"]):
                if answers["exact"]:
                    a = answers["exact"][i]
                    same += bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
                c = answers["old"][i]
                same_old += bool(np.array_equal(c[0], b[0]) and np.array_equal(c[1], b[1]))
            row = {
                "bench": "index_tiers",
                "faces": n,
                "repeats": args.repeats,
                "exact_p50_ms": round(1e3 * float(np.median(te)), 3) if te else None,
                "compressed_p50_ms": round(1e3 * float(np.median(tc)), 3),
                "hamming_tier_p50_ms": round(1e3 * float(np.median(to)), 3),
                "floor_matvec_p50_ms": round(1e3 * float(np.median(tf)), 3),
                "compressed_over_floor": round(float(np.median(tc)) / float(np.median(tf)), 3),
                "compressed_over_hamming_tier": round(float(np.median(tc)) / float(np.median(to)), 3),
                "same_answers_as_exact_tier": None if args.no_exact_tier else same,
                "same_answers_as_hamming_tier": same_old,
                "compressed_build_s": round(build_s, 2),
                "compressed_memory_bytes_per_face": DIM + 4 + 4 + 4 + 8 + 8 + 4,  # codes, their two part norms, radius, rowid, owner, sqnorm
                "hamming_tier_memory_bytes_per_face": 16 + 8 + 8 + 4,
            }
            read: list[int] = []  # descriptor rows each search reads from disk or the tail
            rows = comp.rows
            comp.rows = lambda pos, read=read, rows=rows: read.append(len(pos)) or rows(pos)  # type: ignore[method-assign]
            for g in queries:
                comp.search_faces(x[g], 0.6, 10, exclude_rowid=int(g) + 1)
            del comp.rows
            row["compressed_rows_read_p50"] = int(np.median(read))
            row["compressed_rows_read_max"] = int(np.max(read))
            t, tn = [], []
            for g in queries:
                t0 = time.perf_counter()
                code, r_q = comp.encode(x[g : g + 1])
                comp._within(code[0], 0.6 + float(r_q[0]) + comp._round)  # the head-first scan a search runs
                t1 = time.perf_counter()
                old.candidates(x[g], hamming_tier_baseline.CANDIDATES)
                t2 = time.perf_counter()
                t.append(t1 - t0)
                tn.append(t2 - t1)
            row["code_scan_alone_p50_ms"] = round(1e3 * float(np.median(t)), 3)
            row["faiss_hamming_candidates_p50_ms"] = round(1e3 * float(np.median(tn)), 3)
            # exactness: planted same-person faces (10 per person), default threshold and MaxFaces 10
            agree, agree_old, probes = 0, 0, rng.choice(n, size=min(args.exact_queries, n), replace=False)
            for a, g in zip(exhaustive(x, probes, 0.6, 10), probes, strict=False):
                b = comp.search_faces(x[g], 0.6, 10, exclude_rowid=int(g) + 1)
                agree += bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
                c = old.search_faces(x[g], 0.6, 10, exclude_rowid=int(g) + 1)
                agree_old += bool(np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1]))
            row.update(exactness_queries=len(probes), exactness_agreeing=agree, hamming_tier_agreeing=agree_old)
            raw = n * DIM * 4
            row["compressed_memory_ratio"] = round(
                (sum(a[:n].nbytes for a in (comp.head, comp.tail, comp.head_sq, comp.tail_sq, comp.radii))
                 + 20 * n + comp.vectors.nbytes) / raw, 3
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
