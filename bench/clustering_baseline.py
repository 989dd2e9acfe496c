"""The grouping algorithm ClusterFaces used before the capped k-NN graph (issue 11), kept verbatim
for bench_clustering.py (`--versions new,old`) only: app code never imports it.

It was: grouping faces into anonymous people (numpy only, no SQL).

1. A threshold graph: an edge between every two faces whose descriptors are within `max_distance`
   (the calibrated similarity's grouping threshold). Built from blocked matrix products over the
   upper triangle only, never an N x N matrix: each face is augmented to a = [x, |x|^2, 1] and
   b = [2x, -1, -|x|^2], so one product a.b = -|x - y|^2 gives the squared distances directly
   and a block needs one comparison with a scalar.
2. A partition of the graph: Chinese whispers (dlib's label propagation, the default) or a
   DBSCAN-like pass (core faces with at least `min_points` neighbours, connected; border faces
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

CHINESE_WHISPERS = "CHINESE_WHISPERS"
DBSCAN = "DBSCAN"
ALGORITHMS = (CHINESE_WHISPERS, DBSCAN)

_BLOCK = 2048


@dataclass
class Graph:
    """A symmetric neighbour graph in CSR form: the neighbours of i are indices[indptr[i]:indptr[i+1]]
    (ascending), with their squared distances in d2."""

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    d2: np.ndarray

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def sources(self) -> np.ndarray:
        return np.repeat(np.arange(self.n, dtype=np.int64), self.degree)


def _augment(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b.T): rows a_i and columns b_j with a_i . b_j = -|x_i - x_j|^2 (b transposed and contiguous,
    so a block product reads it without a copy)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    sq = np.einsum("ij,ij->i", x, x)[:, None]
    one = np.ones_like(sq)
    return np.hstack([x, sq, one]), np.ascontiguousarray(np.hstack([2.0 * x, -one, -sq]).T)


def _csr(n: int, rows: np.ndarray, cols: np.ndarray, d2: np.ndarray) -> Graph:
    order = np.argsort(rows, kind="stable")  # neighbours keep the order they were found in: deterministic
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Graph(n, indptr, cols[order].astype(np.int32), d2[order].astype(np.float32))


# Up to this many faces the graph is exact (every pair is compared); above it, pairs are only
# compared within the coarse cells each face probes (see _cell_graph).
EXACT_LIMIT = 20_000
PROBES = 8


def neighbour_graph(vectors: np.ndarray, max_distance: float, block: int = _BLOCK,
                    exact_limit: int = EXACT_LIMIT, probes: int = PROBES) -> Graph:
    """Every pair of rows within `max_distance` (Euclidean), without an N x N matrix: exact up to
    `exact_limit` rows, else from the coarse cells each row probes (a pair is found when either face
    probes the other's cell; measured recall in the README)."""
    n = len(vectors)
    if n > exact_limit:
        return _cell_graph(vectors, max_distance, probes, block)
    a, bt = _augment(vectors)
    limit = np.float32(-(max_distance**2))
    upper = np.triu(np.ones((block, block), dtype=bool), 1)  # the upper triangle only, no self pairs
    rows, cols, dists = [], [], []
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        for j0 in range(i0, n, block):
            j1 = min(n, j0 + block)
            neg = a[i0:i1] @ bt[:, j0:j1]  # -|xi - xj|^2
            close = neg >= limit
            if i0 == j0:
                close &= upper[: i1 - i0, : j1 - j0]
            hits = np.flatnonzero(close)
            if len(hits):
                r, c = np.divmod(hits, j1 - j0)
                rows.append(r + i0)
                cols.append(c + j0)
                dists.append(np.maximum(-neg.ravel()[hits], 0.0))
    return _symmetric(n, rows, cols, dists)


def _nearest_centroids(x: np.ndarray, centroids: np.ndarray, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest centroids of each row (nearest first) and their squared distances, blocked."""
    c = np.ascontiguousarray(centroids.T)
    csq = np.einsum("ij,ij->i", centroids, centroids)
    k = min(k, len(centroids))
    out = np.empty((len(x), k), dtype=np.int32)
    dist = np.empty((len(x), k), dtype=np.float32)
    for i0 in range(0, len(x), block):
        xb = x[i0 : i0 + block]
        d = csq - 2.0 * (xb @ c)
        top = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.tile(np.arange(k), (len(d), 1))
        near = np.take_along_axis(d, top, axis=1)
        order = np.argsort(near, axis=1, kind="stable")
        out[i0 : i0 + block] = np.take_along_axis(top, order, axis=1)
        dist[i0 : i0 + block] = np.take_along_axis(near, order, axis=1) + np.einsum("ij,ij->i", xb, xb)[:, None]
    return out, dist


def coarse_cells(x: np.ndarray, n_cells: int, iterations: int = 3, block: int = _BLOCK) -> np.ndarray:
    """Centroids of a few k-means steps on an evenly spaced sample (deterministic: seeds evenly spaced too)."""
    n = len(x)
    sample = x[np.linspace(0, n - 1, min(n, 16 * n_cells)).astype(np.int64)]
    centroids = sample[np.linspace(0, len(sample) - 1, n_cells).astype(np.int64)].astype(np.float32)
    for _ in range(iterations):
        home = _nearest_centroids(sample, centroids, 1, block)[0][:, 0]
        order = np.argsort(home, kind="stable")
        filled, starts, counts = np.unique(home[order], return_index=True, return_counts=True)
        sums = np.add.reduceat(sample[order].astype(np.float64), starts, axis=0)
        centroids[filled] = (sums / counts[:, None]).astype(np.float32)
    return centroids


def _cell_graph(vectors: np.ndarray, max_distance: float, probes: int, block: int) -> Graph:
    """The threshold graph from coarse cells: each face is compared with the faces whose nearest
    cell is one of its `probes` nearest cells, of those no farther (squared) than its own cell plus
    max_distance^2 (so the "hub" cells near the middle of everything, which every face's nearest
    few would include in 128 dimensions, are only probed by the faces that are close to them).
    About sqrt(probes * N) cells balance the cost of finding the cells against the comparisons."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    n_cells = max(2, int(np.sqrt(probes * n)))
    centroids = coarse_cells(x, n_cells, block=block)
    probed, d2 = _nearest_centroids(x, centroids, probes, block)
    home = probed[:, 0]
    members = np.argsort(home, kind="stable")
    starts = np.searchsorted(home[members], np.arange(n_cells + 1))
    probes_ok = d2 <= d2[:, :1] + np.float32(max_distance**2)
    face, slot = np.nonzero(probes_ok)
    cells = probed[face, slot]
    order = np.argsort(cells, kind="stable")
    queries = face[order].astype(np.int64)  # faces by probed cell
    qstarts = np.searchsorted(cells[order], np.arange(n_cells + 1))
    probed = np.where(probes_ok, probed, -1)  # the cells each face does probe
    del face, slot, cells, order, d2, probes_ok
    a, bt = _augment(x)
    limit = np.float32(-(max_distance**2))
    rows, cols, dists = [], [], []
    for cell in range(n_cells):
        m = members[starts[cell] : starts[cell + 1]]
        if len(m) == 0:
            continue
        bm = np.ascontiguousarray(bt[:, m])
        for q0 in range(qstarts[cell], qstarts[cell + 1], block):  # a crowded cell in slices: bounded memory
            q = queries[q0 : min(q0 + block, qstarts[cell + 1])]
            neg = a[q] @ bm
            hits = np.flatnonzero(neg >= limit)
            r, c = np.divmod(hits, len(m))
            qi, mi = q[r], m[c]
            # a pair is found here (query qi, member mi, in mi's cell) and again in qi's cell when mi
            # probes it; keep exactly one of the two findings, and no self pair
            hq = home[qi]
            twice = (probed[mi] == hq[:, None]).any(axis=1)
            keep = ~twice | (hq > cell) | ((hq == cell) & (qi < mi))
            rows.append(qi[keep].astype(np.int32))
            cols.append(mi[keep].astype(np.int32))
            dists.append(np.maximum(-neg.ravel()[hits[keep]], 0.0))
    return _symmetric(n, rows, cols, dists)


def _symmetric(n: int, rows: list, cols: list, dists: list) -> Graph:
    """The CSR graph of undirected pairs (each given once)."""
    if not rows:
        return Graph(n, np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32))
    r = np.concatenate([np.asarray(x, dtype=np.int32) for x in rows])
    c = np.concatenate([np.asarray(x, dtype=np.int32) for x in cols])
    d = np.concatenate(dists).astype(np.float32)
    for parts in (rows, cols, dists):
        parts.clear()  # the pieces are copied: let them go before the CSR is built
    return _csr(n, np.concatenate([r, c]), np.concatenate([c, r]), np.concatenate([d, d]))


def cross_neighbours(new: np.ndarray, old: np.ndarray, max_distance: float,
                     block: int = _BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(new row, old row, squared distance) of every pair within `max_distance`, new x old."""
    if len(new) == 0 or len(old) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    a, _ = _augment(new)
    _, bt = _augment(old)
    limit = np.float32(-(max_distance**2))
    rows, cols, dists = [], [], []
    for i0 in range(0, len(new), block):
        for j0 in range(0, len(old), block):
            neg = a[i0 : i0 + block] @ bt[:, j0 : j0 + block]
            hits = np.flatnonzero(neg >= limit)
            r, c = np.divmod(hits, neg.shape[1])
            rows.append(r + i0)
            cols.append(c + j0)
            dists.append(np.maximum(-neg.ravel()[hits], 0.0))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dists).astype(np.float32)


# -- partitions ----------------------------------------------------------------------------------
def chinese_whispers(graph: Graph, weights: np.ndarray, iterations: int = 20, chunks: int = 16) -> np.ndarray:
    """Label propagation: each face takes the label with the largest summed edge weight among its
    neighbours (ties: the smaller label). Faces are visited in index order in `chunks` slices, each
    slice updated at once from the labels so far (dlib updates one face at a time; slices keep it
    vectorised). Stops when a pass changes at most one face in 10,000 (a few faces between two
    groups can flip back and forth for ever), or after `iterations` passes."""
    n = graph.n
    labels = np.arange(n, dtype=np.int64)
    if len(graph.indices) == 0:
        return labels
    src_all = graph.sources()
    bounds = np.linspace(0, n, min(chunks, n) + 1).astype(np.int64)
    for _ in range(iterations):
        changed = 0
        for s, e in zip(bounds[:-1], bounds[1:], strict=True):
            lo, hi = graph.indptr[s], graph.indptr[e]
            if lo == hi:
                continue
            faces, best = _heaviest_labels(src_all[lo:hi], labels[graph.indices[lo:hi]], weights[lo:hi], n)
            changed += int(np.count_nonzero(labels[faces] != best))
            labels[faces] = best
        if changed <= n // 10_000:
            break
    return labels


def _heaviest_labels(src: np.ndarray, lab: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For each face in `src` (ascending), the label of largest summed weight (ties: the smaller label)."""
    key = src * n + lab
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    total = np.add.reduceat(w[order], starts)
    usrc, ulab = np.divmod(key[starts], n)
    seg = np.flatnonzero(np.r_[True, usrc[1:] != usrc[:-1]])
    peak = np.repeat(np.maximum.reduceat(total, seg), np.diff(np.r_[seg, len(total)]))
    top = np.flatnonzero(total >= peak)  # labels ascend within a face: its first top is the smallest
    top = top[np.r_[True, usrc[top][1:] != usrc[top][:-1]]]
    return usrc[top], ulab[top]


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected components (label = smallest index in the component) by min-label propagation."""
    labels = np.arange(n, dtype=np.int64)
    if len(src) == 0:
        return labels
    while True:
        lowest = labels.copy()
        np.minimum.at(lowest, src, labels[dst])
        lowest = lowest[lowest]  # pointer jumping: follow the new label's own label
        if np.array_equal(lowest, labels):
            return labels
        labels = lowest


def dbscan(graph: Graph, min_points: int = 3) -> np.ndarray:
    """DBSCAN over the threshold graph: a face with at least `min_points` faces within reach
    (itself included) is core; connected core faces form a cluster; a border face joins the
    cluster of its nearest core neighbour; the rest are noise (label -1)."""
    n = graph.n
    core = graph.degree + 1 >= min_points
    src = graph.sources()
    dst = graph.indices.astype(np.int64)
    both = core[src] & core[dst]
    labels = _components(n, src[both], dst[both])
    out = np.where(core, labels, -1)
    border = ~core[src] & core[dst]
    if border.any():
        b_src, b_dst, b_d2 = src[border], dst[border], graph.d2[border]
        order = np.lexsort((b_dst, b_d2, b_src))
        first = order[np.r_[True, b_src[order][1:] != b_src[order][:-1]]]
        out[b_src[first]] = labels[b_dst[first]]
    return out


# -- the rules on top ----------------------------------------------------------------------------
def split_same_image(labels: np.ndarray, images: np.ndarray, graph: Graph, weights: np.ndarray) -> np.ndarray:
    """Cannot-link: within a group, of the faces of one image only the best-supported one stays
    (support: the summed weights of its edges into the group; ties: the smaller index); the
    others get label -1."""
    labels = labels.copy()
    src = graph.sources()
    inside = (labels[src] == labels[graph.indices]) & (labels[src] >= 0)
    support = np.bincount(src[inside], weights=weights[inside], minlength=graph.n)
    idx = np.flatnonzero(labels >= 0)
    if len(idx) == 0:
        return labels
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
              algorithm: str = CHINESE_WHISPERS, min_points: int = 3, graph: Graph | None = None) -> list[FaceGroup]:
    """Groups (two faces or more) of the rows of `vectors`, largest first; rows in no group are ungrouped.

    `images`: an integer per row, equal for faces of one photo. `similarity(distances)` is the
    collection's calibrated scale, used as the edge weight.
    """
    if graph is None:
        graph = neighbour_graph(vectors, max_distance)
    weights = np.asarray(similarity(np.sqrt(graph.d2.astype(np.float64))), dtype=np.float64).reshape(-1)
    if algorithm == CHINESE_WHISPERS:
        labels = chinese_whispers(graph, weights)
    elif algorithm == DBSCAN:
        labels = dbscan(graph, min_points)
    else:
        raise ValueError(f"unknown clustering algorithm {algorithm!r}")
    labels = split_same_image(labels, np.asarray(images), graph, weights)
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
