"""ClusterFaces' algorithm: time, memory and quality (JSON lines, one per measurement).

    python bench/bench_clustering.py [--sizes 10000,100000] [--versions new,old] [--repeats 3] [--datasets]

Synthetic faces: identities with Zipf-like sizes (1..200 faces), dlib-like geometry (centres
about 1.0 apart, same-person faces about 0.35 apart, like tests/core/fakes.py) plus a share of
"bridge" faces halfway between two identities, the case where density methods chain people
together. Time is wall-clock for the graph plus the partition. Each synthetic measurement runs
in a fresh child process; its memory is the peak resident size above what the child held once
its descriptors were made (the peak is reset through /proc/self/clear_refs, else ru_maxrss is
used), divided by the descriptor bytes. `--versions new,old` measures ClusterFaces' algorithm
and the one before it (bench/clustering_baseline.py) in the same run, `--repeats` times each,
and prints a summary line with the medians.

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
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import clustering_baseline  # noqa: E402

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
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size (Linux 4.0+)
        return True
    except OSError:
        return False


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


def run_synthetic(n: int, threshold: float, algorithm: str, quality: bool, version: str = "new") -> None:
    x, labels, images = synthetic(n)
    radius = DLIB_RESNET.max_distance(threshold)
    module = clustering if version == "new" else clustering_baseline
    before = rss_mb()
    exact_peak = reset_peak()
    base = before if exact_peak else hwm_mb()
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    graph = module.neighbour_graph(x, radius)
    t1 = time.perf_counter()
    groups = module.partition(x, images, radius, DLIB_RESNET.similarity, algorithm, graph=graph)
    t2 = time.perf_counter()
    peak = hwm_mb()
    edges = int(graph.valid.sum()) if version == "new" else int(len(graph.indices))
    out = {"bench": "cluster_synthetic", "version": version, "faces": n, "algorithm": algorithm,
           "threshold": threshold, "graph_s": round(t1 - t0, 2), "partition_s": round(t2 - t1, 2),
           "total_s": round(t2 - t0, 2), "directed_edges": edges, "groups": len(groups),
           "descriptors_mb": round(x.nbytes / 2**20, 1), "rss_before_mb": round(before, 1),
           "peak_rss_mb": round(peak, 1), "growth_mb": round(peak - base, 1),
           "growth_x_descriptors": round((peak - base) / (x.nbytes / 2**20), 2), "peak_reset": exact_peak,
           "load_avg_1min": round(load, 2)}
    if quality:
        out.update({k: round(v, 4) for k, v in clustering.pairwise_scores(labels, groups, n).items()})
    emit(**out)


def run_children(sizes: list[int], versions: list[str], algorithms: list[str], repeats: int, threshold: float) -> None:
    """Each measurement in a fresh process (clean memory); new and old interleaved, then medians."""
    results: dict[tuple, list[dict]] = {}
    for n in sizes:
        for algorithm in algorithms:
            for _ in range(repeats):
                for version in versions:
                    child = subprocess.run([sys.executable, __file__, "--one", f"{version}:{n}:{algorithm}",
                                            "--threshold", str(threshold)], capture_output=True, text=True)
                    if child.returncode != 0:
                        emit(bench="cluster_synthetic", version=version, faces=n, error=child.stderr[-2000:])
                        continue
                    line = child.stdout.strip().splitlines()[-1]
                    print(line, flush=True)
                    results.setdefault((n, algorithm, version), []).append(json.loads(line))
    for (n, algorithm, version), runs in results.items():
        med = {key: statistics.median(r[key] for r in runs)
               for key in ("graph_s", "partition_s", "total_s", "growth_mb", "growth_x_descriptors", "load_avg_1min",
                           "pairwise_precision", "pairwise_recall")}
        emit(bench="cluster_synthetic_median", version=version, faces=n, algorithm=algorithm, runs=len(runs),
             **{f"median_{k}": round(v, 4) for k, v in med.items()},
             total_s_all=[r["total_s"] for r in runs])


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
    parser.add_argument("--versions", default="new", help="new (ClusterFaces now), old (before issue 11), or both")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # version:faces:algorithm, in a child process
    args = parser.parse_args()
    if args.one:
        version, n, algorithm = args.one.split(":")
        run_synthetic(int(n), args.threshold, algorithm, quality=True, version=version)
        return
    algorithms = args.algorithms.split(",")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    run_children(sizes, args.versions.split(","), algorithms, args.repeats, args.threshold)
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
