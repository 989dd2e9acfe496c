"""The capped k-NN graph, its cells and row-wise Chinese whispers (issue 11: clustering at scale)."""

import numpy as np
import pytest

from app.core import clustering, knn_graph, whispers
from app.core.errors import InvalidParameterException
from app.core.similarity import DLIB_RESNET

from .fakes import face_of, identity_centres

RADIUS = DLIB_RESNET.max_distance(88)


def clustered(n: int, people: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = identity_centres(people, seed=seed)
    labels = rng.integers(0, people, n)
    return np.stack([face_of(centres[k], rng) for k in labels]), labels


def brute_force(x: np.ndarray, radius: float, k: int) -> tuple[np.ndarray, list[set[int]]]:
    """Each row's distances to all rows, and the set of its k nearest within the radius."""
    d = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    nearest = []
    for i in range(len(x)):
        order = np.argsort(d[i], kind="stable")
        nearest.append({int(j) for j in order[:k] if d[i, j] <= radius})
    return d, nearest


def rows_of(graph: knn_graph.KnnGraph) -> list[set[int]]:
    return [{int(j) for j in row if j >= 0} for row in graph.neighbours]


def test_knn_graph_equals_brute_force_on_a_small_set():
    x, _ = clustered(600, 20, seed=1)
    graph = knn_graph.knn_graph(x, RADIUS, k=8)
    d, expected = brute_force(x, RADIUS, 8)
    got = rows_of(graph)
    for i in range(len(x)):
        # float32 rounding may swap neighbours within 1e-4 of each other or of the radius
        for j in got[i] ^ expected[i]:
            kth = np.sort(d[i])[min(7, len(x) - 2)]
            assert abs(d[i, j] - RADIUS) < 1e-4 or abs(d[i, j] - kth) < 1e-4, (i, j)
    assert graph.neighbours.shape == (600, 8) and graph.neighbours.dtype == np.int32
    valid = graph.valid
    assert np.allclose(np.sqrt(graph.d2[valid]), d[np.nonzero(valid)[0], graph.neighbours[valid]], atol=1e-4)
    assert (np.diff(np.where(valid, graph.d2, np.inf), axis=1)[valid[:, 1:]] >= 0).all()  # nearest first


def test_rows_are_padded_and_faces_matching_nothing_have_no_neighbour():
    x, _ = clustered(50, 5, seed=2)
    lone = identity_centres(1, seed=99) + 5.0  # far from everyone
    graph = knn_graph.knn_graph(np.vstack([x, lone]), RADIUS)
    assert graph.degree[-1] == 0 and (graph.neighbours[-1] == -1).all()
    assert (graph.neighbours != np.arange(51)[:, None]).all()  # never the face itself
    assert ((graph.neighbours >= 0) | (graph.d2 == 0)).all()


def test_cells_find_the_exact_neighbour_pairs_on_a_synthetic_set():
    x, _ = clustered(12_000, 400, seed=3)
    exact = knn_graph.knn_graph(x, RADIUS)
    cells = knn_graph.knn_graph(x, RADIUS, exact_pairs=0, cell_size=256)
    searches = knn_graph.cell_searches(x, 256)
    assert len(searches) >= 20  # really cells, not one
    searching = np.sort(np.concatenate([s for s, _ in searches]))
    assert np.array_equal(searching, np.arange(len(x)))  # every face searches exactly one cell

    def pairs(g):
        r, c = np.nonzero(g.valid)
        return set(zip(r.tolist(), g.neighbours[r, c].tolist(), strict=True))

    wanted, found = pairs(exact), pairs(cells)
    assert len(wanted) > 100_000
    assert len(found & wanted) >= 0.999 * len(wanted)


def test_the_graph_and_the_groups_are_the_same_for_the_same_data_whatever_the_threads():
    x, _ = clustered(3000, 60, seed=4)
    one = knn_graph.knn_graph(x, RADIUS, exact_pairs=0, cell_size=128, threads=1)
    two = knn_graph.knn_graph(x, RADIUS, exact_pairs=0, cell_size=128, threads=2)
    assert np.array_equal(one.neighbours, two.neighbours) and np.array_equal(one.d2, two.d2)
    images = np.arange(len(x))
    a = clustering.partition(x, images, RADIUS, DLIB_RESNET.similarity, graph=one)
    b = clustering.partition(x.copy(), images, RADIUS, DLIB_RESNET.similarity)
    assert [g.members.tolist() for g in a] == [g.members.tolist() for g in b]
    assert [g.cover for g in a] == [g.cover for g in b]


def test_row_votes_take_the_heaviest_label_and_ties_go_to_the_smaller():
    labels = np.array([5, 5, 7, 7, 9], dtype=np.int64)
    neighbours = np.array([[0, 2, 4, -1], [2, 3, 0, 1], [-1, -1, -1, -1], [4, 2, 1, -1]], dtype=np.int32)
    weights = np.array([[1.0, 1.0, 1.0, 0], [1.0, 1.0, 1.0, 1.0], [0, 0, 0, 0], [3.0, 1.0, 1.0, 0]], dtype=np.float32)
    assert whispers.row_votes(labels, neighbours, weights).tolist() == [5, 5, -1, 9]


def test_chinese_whispers_separates_two_people_and_settles():
    x, truth = clustered(400, 2, seed=5)
    graph = knn_graph.knn_graph(x, RADIUS)
    labels = whispers.chinese_whispers(graph.neighbours, clustering.edge_weights(graph, DLIB_RESNET.similarity))
    for person in (0, 1):
        assert len(set(labels[truth == person].tolist())) == 1
    assert labels[truth == 0][0] != labels[truth == 1][0]


def test_capped_rows_keep_big_identities_together():
    x, truth = clustered(1500, 3, seed=6)  # about 500 faces each, all within the radius: 32 kept of ~500
    groups = clustering.partition(x, np.arange(len(x)), RADIUS, DLIB_RESNET.similarity)
    scores = clustering.pairwise_scores(truth, groups, len(x))
    assert len(groups) == 3 and scores["pairwise_precision"] == 1.0 and scores["pairwise_recall"] >= 0.99


@pytest.mark.parametrize("algorithm", clustering.ALGORITHMS)
def test_cannot_link_on_the_capped_graph(algorithm):
    x, _ = clustered(800, 10, seed=7)
    images = np.arange(len(x)) // 4  # four faces a photo, any person
    groups = clustering.partition(x, images, RADIUS, DLIB_RESNET.similarity, algorithm)
    assert groups
    for g in groups:
        assert len(set(images[g.members].tolist())) == len(g.members)


def test_new_faces_join_through_the_capped_cross_search():
    x, _ = clustered(500, 5, seed=8)
    old, new = x[:450], x[450:]
    r, c, d2 = clustering.cross_neighbours(new, old, RADIUS, k=4)
    assert len(r) and np.bincount(r).max() <= 4 and (d2 <= RADIUS**2 + 1e-5).all()
    d = np.sqrt(((new[r] - old[c]) ** 2).sum(-1))
    assert np.allclose(d * d, d2, atol=1e-4)
    groups = clustering.partition(old, np.arange(450), RADIUS, DLIB_RESNET.similarity)
    old_group = np.full(450, -1)
    for k, g in enumerate(groups):
        old_group[g.members] = k
    weights = DLIB_RESNET.similarity(np.sqrt(d2.astype(np.float64)))
    choice = clustering.join_existing(r, c, d2, old_group, weights, len(new))
    assert (choice >= 0).mean() > 0.9


@pytest.mark.parametrize("bad", [np.zeros((3,)), np.array([["a", "b"]]), np.full((4, 8), np.nan),
                                 np.array([[1.0, np.inf], [0.0, 0.0]])])
def test_bad_descriptors_get_a_typed_error(bad):
    with pytest.raises(InvalidParameterException):
        knn_graph.knn_graph(bad, RADIUS)


@pytest.mark.parametrize("radius", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_radius_gets_a_typed_error(radius):
    with pytest.raises(InvalidParameterException):
        knn_graph.knn_graph(np.zeros((4, 8), np.float32), radius)


def test_partition_checks_its_inputs():
    x, _ = clustered(20, 2, seed=9)
    with pytest.raises(InvalidParameterException, match="algorithm"):
        clustering.partition(x, np.arange(20), RADIUS, DLIB_RESNET.similarity, "KMEANS")
    with pytest.raises(InvalidParameterException, match="image"):
        clustering.partition(x, np.arange(19), RADIUS, DLIB_RESNET.similarity)
    with pytest.raises(InvalidParameterException, match="rows"):
        clustering.partition(x, np.arange(20), RADIUS, DLIB_RESNET.similarity, graph=knn_graph.knn_graph(x[:5], RADIUS))
    with pytest.raises(InvalidParameterException, match="sizes differ"):
        clustering.cross_neighbours(x, x[:, :64], RADIUS)


def test_no_face_and_one_face():
    assert clustering.partition(np.zeros((0, 128), np.float32), np.zeros(0), RADIUS, DLIB_RESNET.similarity) == []
    one = knn_graph.knn_graph(np.zeros((1, 128), np.float32), RADIUS)
    assert one.neighbours.shape == (1, 32) and one.degree.tolist() == [0]
