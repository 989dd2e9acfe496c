"""Grouping faces into anonymous people: the algorithm behind ClusterFaces (numpy and faiss, no SQL).

1. A capped neighbour graph (knn_graph.py): each face's k = 32 nearest faces within `max_distance`
   (the calibrated similarity's grouping threshold), as N x k arrays; exact up to about 20,000
   faces, through balanced direction cells above.
2. A partition of the graph: Chinese whispers (whispers.py, dlib's label propagation, the default)
   or a DBSCAN-like pass (core faces with at least `min_points` neighbours, connected; border faces
   join their nearest core face). README "People and groups" has the measured comparison.
3. The cannot-link rule: two faces of one photo (same image) never share a group; the face with
   less support in the group (sum of its edge similarities to the group) leaves it.
4. Groups of fewer than two faces are ungrouped faces. Groups are ordered by size, then
   cohesion, then their first face, so equal input gives equal output.

Everything is deterministic: fixed visiting order, ties broken by the smaller index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidParameterException
from .knn_graph import K, KnnGraph, check_vectors, cross_neighbours, knn_graph
from .whispers import chinese_whispers

CHINESE_WHISPERS = "CHINESE_WHISPERS"
DBSCAN = "DBSCAN"
ALGORITHMS = (CHINESE_WHISPERS, DBSCAN)

__all__ = ["ALGORITHMS", "CHINESE_WHISPERS", "DBSCAN", "K", "FaceGroup", "KnnGraph", "cross_neighbours",
           "describe_group", "edge_weights", "groups_from_labels", "join_existing", "knn_graph",
           "neighbour_graph", "pairwise_scores", "partition"]

neighbour_graph = knn_graph  # the name the callers knew
_ROWS = 8192


def edge_weights(graph: KnnGraph, similarity) -> np.ndarray:
    """The calibrated similarity of every edge (float32, 0 on padding), computed in slices of rows."""
    w = np.zeros(graph.d2.shape, dtype=np.float32)
    for s in range(0, graph.n, _ROWS):
        valid = graph.neighbours[s : s + _ROWS] >= 0
        d = np.sqrt(graph.d2[s : s + _ROWS][valid].astype(np.float64))
        w[s : s + _ROWS][valid] = np.asarray(similarity(d), dtype=np.float64).reshape(-1)
    return w


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected components (label = smallest index in the component) by min-label propagation."""
    labels = np.arange(n, dtype=np.int64)
    if len(src) == 0:
        return labels
    src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])  # the edges both ways
    while True:
        lowest = labels.copy()
        np.minimum.at(lowest, src, labels[dst])
        lowest = lowest[lowest]  # pointer jumping: follow the new label's own label
        if np.array_equal(lowest, labels):
            return labels
        labels = lowest


def dbscan(graph: KnnGraph, min_points: int = 3) -> np.ndarray:
    """DBSCAN over the neighbour graph: a face with at least `min_points` faces within reach
    (itself included; reach capped at k) is core; connected core faces form a cluster; a border
    face joins the cluster of its nearest core neighbour; the rest are noise (label -1)."""
    n = graph.n
    core = graph.degree + 1 >= min_points
    src, slot = np.nonzero(graph.valid)
    dst = graph.neighbours[src, slot].astype(np.int64)
    both = core[src] & core[dst]
    labels = _components(n, src[both], dst[both])
    out = np.where(core, labels, -1)
    border = ~core[src] & core[dst]
    if border.any():  # rows are nearest first: a border face's first core neighbour is its nearest
        b_src, b_dst = src[border], dst[border]
        first = np.r_[True, b_src[1:] != b_src[:-1]]
        out[b_src[first]] = labels[b_dst[first]]
    return out


# -- the rules on top ----------------------------------------------------------------------------
def split_same_image(labels: np.ndarray, images: np.ndarray, graph: KnnGraph, weights: np.ndarray) -> np.ndarray:
    """Cannot-link: within a group, of the faces of one image only the best-supported one stays
    (support: the summed weights of its row's edges into the group; ties: the smaller index); the
    others get label -1."""
    labels = labels.copy()
    idx = np.flatnonzero(labels >= 0)
    if len(idx) == 0:
        return labels
    support = np.zeros(graph.n)
    for s in range(0, graph.n, _ROWS):
        nb = graph.neighbours[s : s + _ROWS]
        inside = (nb >= 0) & (labels[np.maximum(nb, 0)] == labels[s : s + _ROWS, None])
        support[s : s + _ROWS] = np.where(inside, weights[s : s + _ROWS], 0.0).sum(axis=1)
    order = np.lexsort((idx, -support[idx], images[idx], labels[idx]))
    ordered = idx[order]
    lab, img = labels[ordered], images[ordered]
    dup = np.r_[False, (lab[1:] == lab[:-1]) & (img[1:] == img[:-1])]
    labels[ordered[dup]] = -1
    return labels


@dataclass
class FaceGroup:
    members: np.ndarray  # row indices, ascending
    cover: int  # the row nearest the group's mean
    rms_distance: float  # root mean square pairwise distance (exact, from the mean)
    order_by_centrality: np.ndarray  # members nearest the mean first


def describe_group(vectors: np.ndarray, members: np.ndarray) -> FaceGroup:
    x = vectors[members].astype(np.float64)
    mean = x.mean(axis=0)
    d = np.linalg.norm(x - mean, axis=1)
    k = len(members)
    # mean pairwise squared distance = 2k/(k-1) * mean squared distance to the mean
    rms = float(np.sqrt(2.0 * k / (k - 1) * np.mean(d * d))) if k > 1 else 0.0
    central = members[np.lexsort((members, d))]
    return FaceGroup(members, int(central[0]), rms, central)


def partition(vectors: np.ndarray, images: np.ndarray, max_distance: float, similarity,
              algorithm: str = CHINESE_WHISPERS, min_points: int = 3, graph: KnnGraph | None = None) -> list[FaceGroup]:
    """Groups (two faces or more) of the rows of `vectors`, largest first; rows in no group are ungrouped.

    `images`: an integer per row, equal for faces of one photo. `similarity(distances)` is the
    collection's calibrated scale, used as the edge weight.
    """
    if algorithm not in ALGORITHMS:
        raise InvalidParameterException(f"unknown clustering algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}")
    vectors = check_vectors(vectors)
    images = np.asarray(images)
    if images.shape != (len(vectors),):
        raise InvalidParameterException(f"one image number per face: {images.shape} for {len(vectors)} faces")
    if graph is None:
        graph = knn_graph(vectors, max_distance)
    elif graph.n != len(vectors):
        raise InvalidParameterException(f"the graph has {graph.n} rows for {len(vectors)} faces")
    weights = edge_weights(graph, similarity)
    if algorithm == CHINESE_WHISPERS:
        labels = chinese_whispers(graph.neighbours, weights)
    else:
        labels = dbscan(graph, min_points)
    labels = split_same_image(labels, images, graph, weights)
    return groups_from_labels(vectors, labels)


def groups_from_labels(vectors: np.ndarray, labels: np.ndarray) -> list[FaceGroup]:
    idx = np.flatnonzero(labels >= 0)
    if len(idx) == 0:
        return []
    idx = idx[np.argsort(labels[idx], kind="stable")]
    lab = labels[idx]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    ends = np.r_[starts[1:], len(idx)]
    groups = [describe_group(vectors, np.sort(idx[s:e])) for s, e in zip(starts, ends, strict=True) if e - s >= 2]
    groups.sort(key=lambda g: (-len(g.members), g.rms_distance, int(g.members[0])))
    return groups


def join_existing(new_rows: np.ndarray, old_rows: np.ndarray, d2: np.ndarray, old_group: np.ndarray,
                  weights: np.ndarray, n_new: int) -> np.ndarray:
    """For each new face, the existing group (index into the groups, -1 for none) that its
    neighbours vote for with the largest summed weight (ties: the smaller group)."""
    choice = np.full(n_new, -1, dtype=np.int64)
    grouped = old_group[old_rows] >= 0
    if not grouped.any():
        return choice
    r, g, w = new_rows[grouped], old_group[old_rows][grouped], weights[grouped]
    key = r * (int(old_group.max()) + 1) + g
    uniq, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=w)
    ur, ug = np.divmod(uniq, int(old_group.max()) + 1)
    order = np.lexsort((ug, -total, ur))
    first = order[np.r_[True, ur[order][1:] != ur[order][:-1]]]
    choice[ur[first]] = ug[first]
    return choice


def pairwise_scores(labels_true, groups: list[FaceGroup], n: int) -> dict:
    """Pairwise precision and recall of `groups` (ungrouped rows are singletons) against true labels,
    plus BCubed precision and recall. Used by the tests and the bench."""
    predicted = np.full(n, -1, dtype=np.int64)
    for k, g in enumerate(groups):
        predicted[g.members] = k
    singles = np.flatnonzero(predicted < 0)
    predicted[singles] = len(groups) + np.arange(len(singles))
    _, truth = np.unique(np.asarray(labels_true), return_inverse=True)
    pair_counts: dict[tuple[int, int], int] = {}
    for p, t in zip(predicted.tolist(), truth.tolist(), strict=True):
        pair_counts[(p, t)] = pair_counts.get((p, t), 0) + 1
    both = sum(c * (c - 1) // 2 for c in pair_counts.values())
    pred_sizes = np.bincount(predicted)
    true_sizes = np.bincount(truth)
    pred_pairs = int((pred_sizes * (pred_sizes - 1) // 2).sum())
    true_pairs = int((true_sizes * (true_sizes - 1) // 2).sum())
    bp = sum(c * c / pred_sizes[p] for (p, _t), c in pair_counts.items()) / n
    br = sum(c * c / true_sizes[t] for (_p, t), c in pair_counts.items()) / n
    return {"pairwise_precision": both / pred_pairs if pred_pairs else 1.0,
            "pairwise_recall": both / true_pairs if true_pairs else 1.0,
            "bcubed_precision": float(bp), "bcubed_recall": float(br)}
