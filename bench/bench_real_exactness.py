"""Are the compressed tier's answers exact on REAL descriptors? Today's tier against the previous one.

The labelled photos under ../shared/datasets/*/ are indexed with the default analyzer (each
photo's largest face carries its label) and planted among synthetic strangers drawn from a
Gaussian fitted to those real descriptors (their mean and a shrunk covariance, its spread scaled
by each of --spreads: 1.0 puts strangers nearer to real faces than different real people are, a
pessimistic model; 1.3 about as near as different real people), at each size. Every real face
that has same-person faces within the search distance (0.6 = similarity 80, the default
threshold) is a query: SearchFaces with MaxFaces 10 through today's compressed tier (int8 codes,
bounds, exact re-rank) and through the previous one (`hamming_tier_baseline.py`: 1-bit codes,
1,024 Hamming candidates re-ranked), each compared with exhaustive float64 search (the issue's
criterion: the same FaceMatches, ids and similarities). Also: how many of the exhaustive answers
are same-person faces, and each search's p50 in the same run. The previous tier widens its
candidates by 16 per match found, so where strangers match by the hundred thousand it reads
millions of rows a query: it is asked until its searches have taken --hamming-budget-s.

Run: .venv/bin/python bench/bench_real_exactness.py [--sizes 1e6,1e7] [--spreads 1.0,1.3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hamming_tier_baseline  # noqa: E402

from app.core import compressed_index  # noqa: E402
from app.core.compressed_index import CompressedIndex  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DIM = 128
MAX_DISTANCE = 0.6  # similarity 80 with dlib's ResNet: SearchFaces' default threshold
LIMIT = 10  # MaxFaces
KEEP = 64  # nearest kept per query while scanning (float32), re-measured in float64 at the end
CHUNK = 1 << 18


def real_faces() -> tuple[np.ndarray, np.ndarray]:
    """Descriptors and labels of the labelled photos' faces (other faces: their own label)."""
    from app.vision.default_analyzer import create_default_analyzer

    analyzer = create_default_analyzer()
    vectors, labels = [], []
    for folder in sorted(DATASETS.glob("*/")):
        if not (folder / "labels.csv").is_file():
            continue
        for row in csv.DictReader(open(folder / "labels.csv", newline="")):
            faces = analyzer.analyze((folder / row["file"]).read_bytes()).faces
            if not faces:
                continue
            areas = [f.bounding_box["Width"] * f.bounding_box["Height"] for f in faces]
            for i, face in enumerate(faces):
                vectors.append(np.asarray(face.descriptor, np.float32))
                labels.append(f"{folder.name}:{row['person']}" if i == int(np.argmax(areas)) else f"x:{row['file']}:{i}")
    return np.stack(vectors), np.asarray(labels)


def run(real, labels, truth, queries, n, spread, chol, mu, workdir, rng, hamming_budget_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="rekurator-real-", dir=workdir) as tmp:
        first = np.concatenate([real, mu + spread * (rng.standard_normal((CHUNK, DIM), dtype=np.float32) @ chol.T)])
        center, step = compressed_index.quantizer_for(first[:65536], DIM)
        comp = CompressedIndex(DIM, directory=Path(tmp), prefix="real", center=center, step=step)
        old = hamming_tier_baseline.HammingTier(comp, first[:65536].mean(axis=0))
        q = real[queries]
        qq = np.einsum("ij,ij->i", q, q)[:, None]
        best_d = np.full((len(queries), 0), np.inf, np.float32)
        best_i = np.zeros((len(queries), 0), np.int64)
        pos = 0
        while pos < n:
            x = first[: n] if pos == 0 else mu + spread * (
                rng.standard_normal((min(CHUNK, n - pos), DIM), dtype=np.float32) @ chol.T)
            comp.append(np.arange(pos + 1, pos + len(x) + 1), x)
            old.add(x)
            d2 = np.einsum("ij,ij->i", x, x)[None, :] - 2.0 * (q @ x.T) + qq
            if pos == 0:
                d2[np.arange(len(queries)), queries] = np.inf  # a query is not its own match
            d2 = np.concatenate([best_d, d2], axis=1)
            ids = np.concatenate([best_i, np.broadcast_to(np.arange(pos, pos + len(x)), (len(queries), len(x)))], axis=1)
            top = np.argpartition(d2, min(KEEP, d2.shape[1] - 1), axis=1)[:, :KEEP]
            best_d, best_i = np.take_along_axis(d2, top, 1), np.take_along_axis(ids, top, 1)
            pos += len(x)
        exact = new_ok = old_ok = old_asked = same_person = 0
        t_new, t_old = [], []
        for j, qi in enumerate(queries):
            cand = best_i[j]
            diff = comp.rows(cand).astype(np.float64) - real[qi].astype(np.float64)
            d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            keep = d <= MAX_DISTANCE
            order = np.lexsort((cand[keep], d[keep]))[:LIMIT]
            want = (cand[keep][order] + 1, d[keep][order])
            assert len(want[0]) < LIMIT or d[keep][order][-1] < np.sort(d)[-1]  # KEEP was enough
            t0 = time.perf_counter()
            got = comp.search_faces(real[qi], MAX_DISTANCE, LIMIT, exclude_rowid=int(qi) + 1)
            t_new.append(time.perf_counter() - t0)
            new_ok += bool(np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1]))
            if sum(t_old) < hamming_budget_s:  # its widening can read millions of rows a query
                t0 = time.perf_counter()
                got_old = old.search_faces(real[qi], MAX_DISTANCE, LIMIT, exclude_rowid=int(qi) + 1)
                t_old.append(time.perf_counter() - t0)
                old_ok += bool(np.array_equal(want[0], got_old[0]) and np.array_equal(want[1], got_old[1]))
                old_asked += 1
            same_person += int(np.isin(want[0] - 1, np.flatnonzero(truth[qi])).sum())
            exact += 1
        comp.close()
    return {
        "queries": exact, "compressed_exact": new_ok, "hamming_tier_queries": old_asked, "hamming_tier_exact": old_ok,
        "same_person_answers_per_query": round(same_person / max(exact, 1), 2),
        "compressed_p50_ms": round(1e3 * float(np.median(t_new)), 2),
        "hamming_tier_p50_ms": round(1e3 * float(np.median(t_old)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--spreads", default="1.0,1.3")
    parser.add_argument("--workdir", default=None, help="where the segment files go (~5 GB at 1e7)")
    parser.add_argument("--hamming-budget-s", type=float, default=240,
                        help="per size: stop asking the previous tier once its searches took this long")
    args = parser.parse_args()
    if not DATASETS.is_dir():
        print(json.dumps({"bench": "real_exactness", "skipped": f"no labelled sets under {DATASETS}"}))
        return
    real, labels = real_faces()
    diff = real[:, None, :] - real[None, :, :]
    dist = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(real), dtype=bool)
    truth = same & (dist <= MAX_DISTANCE)
    queries = np.flatnonzero(truth.any(axis=1))
    mu = real.mean(axis=0)
    cov = np.cov(real, rowvar=False)
    cov = 0.9 * cov + 0.1 * np.diag(np.diag(cov))  # shrunk: full rank from ~150 faces
    chol = np.linalg.cholesky(cov).astype(np.float32)
    others = dist[~same & ~np.eye(len(real), dtype=bool)]
    print(json.dumps({
        "bench": "real_exactness_data", "real_faces": len(real),
        "labelled_people": len({x for x in labels if not x.startswith("x:")}),
        "queries_with_matches": len(queries), "true_matches": int(truth.sum()),
        "same_person_distance_p50": round(float(np.median(dist[same])), 3),
        "other_person_distance_p50": round(float(np.median(others)), 3),
        "other_person_within_0.6_share": round(float((others <= MAX_DISTANCE).mean()), 5),
    }), flush=True)
    for spread in [float(s) for s in args.spreads.split(",")]:
        rng = np.random.default_rng(0)
        sample = mu + spread * (rng.standard_normal((2000, DIM), dtype=np.float32) @ chol.T)
        d_sample = np.sqrt(((sample[:, None, :] - real[None, :, :]) ** 2).sum(-1)).ravel()
        for n in [int(float(s)) for s in args.sizes.split(",")]:
            t0 = time.perf_counter()
            row = run(real, labels, truth, queries, n, spread, chol, mu, args.workdir, rng, args.hamming_budget_s)
            print(json.dumps({
                "bench": "real_exactness", "faces": n, "stranger_spread": spread,
                "stranger_within_0.6_of_real_share": round(float((d_sample <= MAX_DISTANCE).mean()), 5),
                **row, "seconds": round(time.perf_counter() - t0, 1), "loadavg": os.getloadavg(),
            }), flush=True)


if __name__ == "__main__":
    main()
