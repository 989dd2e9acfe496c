"""Do real same-person matches stay among the compressed tier's Hamming candidates?

The compressed tier re-ranks only the CANDIDATES (1,024) faces nearest in Hamming distance of
1-bit codes; its answers equal exhaustive search exactly when every true match is among them.
On synthetic clustered descriptors they always are (bench_index_tiers.py); this bench asks the
same of REAL descriptors: the labelled photos under ../shared/datasets/*/ are indexed with the
default analyzer (each photo's largest face carries its label), and planted among synthetic
strangers drawn from a Gaussian fitted to those real descriptors (their mean and a shrunk
covariance), at each size. Scaling that Gaussian would not change a single code (the codes are
signs around the same mean), so the ranks depend only on its shape; the bench reports how near
these strangers come to the real faces next to how near different real people come to each
other (the fitted strangers are nearer: a pessimistic model). For every real face that has same-person faces within the search
distance (0.6 = similarity 80, the default threshold), it reports whether all of them are among
the candidates (ties at the cut-off included, as the tier does), and the worst Hamming rank a
true match had, i.e. how many candidates that query would have needed.

Only codes are held (16 bytes a face), so 1e7 faces take ~160 MB.

Run: .venv/bin/python bench/bench_hamming_ranks.py [--sizes 1e6,1e7]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import compressed_index, hamming_scan  # noqa: E402
from app.core.compressed_index import CompressedIndex  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DIM = 128
MAX_DISTANCE = 0.6  # similarity 80 with dlib's ResNet: SearchFaces' default threshold


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,2e6,5e6,1e7")
    parser.add_argument("--candidates", type=int, default=compressed_index.CANDIDATES)
    args = parser.parse_args()
    if not DATASETS.is_dir():
        print(json.dumps({"bench": "hamming_ranks", "skipped": f"no labelled sets under {DATASETS}"}))
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
        "bench": "hamming_ranks_data", "real_faces": len(real),
        "labelled_people": len({x for x in labels if not x.startswith("x:")}),
        "queries_with_matches": len(queries), "true_matches": int(truth.sum()),
        "same_person_distance_p50": round(float(np.median(dist[same])), 3),
        "other_person_distance_p50": round(float(np.median(others)), 3),
        "other_person_within_0.6_share": round(float((others <= MAX_DISTANCE).mean()), 5),
    }), flush=True)
    rng = np.random.default_rng(0)
    for n in [int(float(s)) for s in args.sizes.split(",")]:
        strangers = n - len(real)
        index = CompressedIndex(DIM, center=mu)
        codes = np.empty((n, index.words), np.uint64)
        codes[:len(real)] = index.encode(real)
        for lo in range(0, strangers, 1 << 18):
            k = min(1 << 18, strangers - lo)
            x = mu + rng.standard_normal((k, DIM), dtype=np.float32) @ chol.T
            codes[len(real) + lo : len(real) + lo + k] = index.encode(x)
        # a sample of the strangers' distances to the real faces: are they as far as real strangers?
        sample = mu + rng.standard_normal((2000, DIM), dtype=np.float32) @ chol.T
        d_sample = np.sqrt(((sample[:, None, :] - real[None, :, :]) ** 2).sum(-1)).ravel()
        kept, worst = 0, []
        for qi in queries:
            found = hamming_scan.nearest(codes.view(np.uint8), codes[qi].view(np.uint8), args.candidates + 1)
            if found is None:  # too many ties to prove: the exhaustive numpy rule
                found = hamming_scan.numpy_nearest(hamming_scan.numpy_distances(codes, codes[qi], np.uint8),
                                                   args.candidates + 1)  # +1: the query itself
            matches = np.flatnonzero(truth[qi])
            kept += bool(np.isin(matches, found).all())
            ham = hamming_scan.numpy_distances(codes, codes[qi], np.uint8)
            ham[qi] = 255
            # worst rank: faces strictly nearer than the farthest true match, plus its tie group
            worst.append(int(np.count_nonzero(ham <= ham[matches].max())))
        worst_arr = np.asarray(worst)
        print(json.dumps({
            "bench": "hamming_ranks", "faces": n, "candidates": args.candidates, "queries": len(queries),
            "queries_keeping_all_matches": kept,
            "candidates_needed_p50": int(np.median(worst_arr)), "candidates_needed_p90": int(np.percentile(worst_arr, 90)),
            "candidates_needed_max": int(worst_arr.max()),
            "synthetic_stranger_to_real_distance_p50": round(float(np.median(d_sample)), 3),
            "synthetic_stranger_within_0.6_of_real_share": round(float((d_sample <= MAX_DISTANCE).mean()), 5),
            "loadavg": os.getloadavg(),
        }), flush=True)
        del codes


if __name__ == "__main__":
    main()
