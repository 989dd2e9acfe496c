"""ClusterFaces' algorithm: time, memory and quality (JSON lines, one per measurement).

    python bench/bench_clustering.py [--sizes 10000,100000] [--datasets] [--effort]

Synthetic faces: identities with Zipf-like sizes (1..200 faces), dlib-like geometry (centres
about 1.0 apart, same-person faces about 0.35 apart, like tests/core/fakes.py) plus a share of
"bridge" faces halfway between two identities, the case where density methods chain people
together. Time is wall-clock for the graph plus the partition; memory is the peak resident size
of this process above what it held before (descriptors included), from /proc/self/status.

Real photos: the labelled sets under ../shared/datasets/ (skipped when absent), indexed through
a real engine with app.vision's default analyzer, then ClusterFaces; pairwise and BCubed
precision/recall against the labels (each photo's largest face carries the label; other faces
in a photo are strangers, singletons in the truth), and the operator actions to name everyone:
face by face (one drag per face, one "create person" per person) against by groups (one
"name group" per group, one drag per ungrouped face of a known person, one merge per extra
group of a person, one eject per wrong face in a group).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import clustering  # noqa: E402
from app.core.similarity import DLIB_RESNET  # noqa: E402

DIM = 128
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hwm_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n: int, seed: int = 0, bridges: float = 0.01):
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(min(200, max(1, rng.zipf(1.6)))))
    sizes[-1] -= sum(sizes) - n
    sizes = [s for s in sizes if s > 0]
    centres = rng.normal(0.0, 1.0 / np.sqrt(2 * DIM), size=(len(sizes), DIM)).astype(np.float32)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    x = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 65536):
        lab = labels[start : start + 65536]
        x[start : start + len(lab)] = centres[lab] + rng.normal(0.0, 0.35 / np.sqrt(2 * DIM), size=(len(lab), DIM))
    k = int(n * bridges)  # faces halfway between two people (a blur, a child, a look-alike)
    if k and len(sizes) > 1:
        a, b = rng.integers(0, len(sizes), k), rng.integers(0, len(sizes), k)
        x[:k] = (0.5 * (centres[a] + centres[b])).astype(np.float32)
        labels[:k] = len(sizes) + np.arange(k)  # each a stranger: a singleton in the truth
    images = np.arange(n)  # one face per photo
    return x, labels, images


def run_synthetic(n: int, threshold: float, algorithm: str, quality: bool) -> None:
    x, labels, images = synthetic(n)
    before = rss_mb()
    t0 = time.perf_counter()
    graph = clustering.neighbour_graph(x, DLIB_RESNET.max_distance(threshold))
    t1 = time.perf_counter()
    groups = clustering.partition(x, images, DLIB_RESNET.max_distance(threshold), DLIB_RESNET.similarity,
                                  algorithm, graph=graph)
    t2 = time.perf_counter()
    out = {"bench": "cluster_synthetic", "faces": n, "algorithm": algorithm, "threshold": threshold,
           "graph_s": round(t1 - t0, 2), "partition_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
           "edges": int(len(graph.indices) // 2), "groups": len(groups),
           "descriptors_mb": round(x.nbytes / 2**20, 1), "rss_before_mb": round(before, 1),
           "peak_rss_mb": round(hwm_mb(), 1)}
    if quality:
        out.update({k: round(v, 4) for k, v in clustering.pairwise_scores(labels, groups, n).items()})
    emit(**out)


def effort(labels: np.ndarray, groups, n: int) -> dict:
    """Operator actions to give every labelled face its person (strangers are left alone)."""
    known = np.array([not str(label).startswith("other:") for label in labels])
    people = set(labels[known].tolist())
    face_by_face = int(known.sum()) + len(people)  # a drag per face, a "new person" per person
    actions, named = 0, set()
    grouped = np.zeros(n, bool)
    for g in groups:
        members = g.members
        grouped[members] = True
        values, counts = np.unique(labels[members], return_counts=True)
        major = values[np.argmax(counts)]
        if str(major).startswith("other:"):
            continue
        actions += 1  # name the group (or merge it into the person named already)
        named.add(major)
        actions += int(len(members) - counts.max())  # eject each wrong face
    for i in np.flatnonzero(known & ~grouped):
        actions += 1  # drag the face onto its person
        if labels[i] not in named:
            actions += 1  # create the person first
            named.add(labels[i])
    return {"actions_face_by_face": face_by_face, "actions_by_groups": actions}


def run_dataset(folder: Path, analyzer, thresholds, algorithms) -> None:
    from app.core.engine import Engine

    rows = list(csv.DictReader(open(folder / "labels.csv", newline="")))
    with tempfile.TemporaryDirectory() as tmp, Engine(Path(tmp) / "ws", analyzer=analyzer) as engine:
        engine.create_collection(CollectionId="c")
        faces = []  # (face id, label)
        for row in rows:
            response = engine.index_faces(CollectionId="c", Image={"Bytes": (folder / row["file"]).read_bytes()},
                                          ExternalImageId=Path(row["file"]).name, QualityFilter="NONE")
            records = response["FaceRecords"]
            areas = [r["Face"]["BoundingBox"]["Width"] * r["Face"]["BoundingBox"]["Height"] for r in records]
            for i, record in enumerate(records):
                label = row["person"] if i == int(np.argmax(areas)) else f"other:{row['file']}:{i}"
                faces.append((record["Face"]["FaceId"], label))
        index = {fid: i for i, (fid, _) in enumerate(faces)}
        labels = np.array([label for _, label in faces])
        for algorithm in algorithms:
            for threshold in thresholds:
                t0 = time.perf_counter()
                result = engine.cluster_faces(CollectionId="c", GroupThreshold=threshold, Algorithm=algorithm,
                                              Recompute=True)
                seconds = time.perf_counter() - t0
                groups = [clustering.FaceGroup(np.array(sorted(index[f] for f in g["FaceIds"])), 0, 0.0, np.zeros(0))
                          for g in result["Groups"]]
                scores = clustering.pairwise_scores(labels, groups, len(labels))
                emit(bench="cluster_dataset", dataset=folder.name, photos=len(rows), faces=len(faces),
                     algorithm=algorithm, threshold=threshold, groups=len(groups),
                     ungrouped=len(result["UngroupedFaceIds"]), seconds=round(seconds, 3),
                     **{k: round(v, 4) for k, v in scores.items()}, **effort(labels, groups, len(labels)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--threshold", type=float, default=88.0)
    parser.add_argument("--algorithms", default="CHINESE_WHISPERS,DBSCAN")
    parser.add_argument("--datasets", action="store_true", help="also the labelled photo sets")
    parser.add_argument("--dataset-thresholds", default="80,84,88,92")
    args = parser.parse_args()
    algorithms = args.algorithms.split(",")
    for n in [int(s) for s in args.sizes.split(",") if s]:
        for algorithm in algorithms:
            run_synthetic(n, args.threshold, algorithm, quality=True)
    if args.datasets:
        sets = [d for d in (DATASETS / "lfw-dev", DATASETS / "web-dev") if (d / "labels.csv").is_file()]
        if not sets:
            emit(bench="cluster_dataset", skipped=f"no labelled sets under {DATASETS}")
            return
        from app.vision.default_analyzer import create_default_analyzer

        analyzer = create_default_analyzer()
        for folder in sets:
            run_dataset(folder, analyzer, [float(t) for t in args.dataset_thresholds.split(",")], algorithms)


if __name__ == "__main__":
    main()
