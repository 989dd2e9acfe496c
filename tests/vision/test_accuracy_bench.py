"""bench/bench_accuracy.py's metric code on hand-made examples whose answers are worked out here."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_accuracy"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_accuracy"]


def test_pairs_split_into_genuine_and_impostor(bench):
    # four photos: a, a, b, and a b photo without a face; descriptors on a line, so distances are differences
    people = ["a", "a", "b", "b"]
    descriptors = [np.array([0.0, 0.0]), np.array([0.3, 0.0]), np.array([1.0, 0.0]), None]
    genuine, impostor = bench.pair_distances(people, descriptors)
    # pairs in order (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    np.testing.assert_allclose(genuine, [0.3, math.inf])
    np.testing.assert_allclose(impostor, [1.0, math.inf, 0.7, math.inf])


def test_pair_distances_needs_one_label_per_photo(bench):
    with pytest.raises(ValueError, match="2 labels for 1"):
        bench.pair_distances(["a", "b"], [np.zeros(2)])


def test_rates_at_the_two_decision_rules(bench):
    genuine = np.array([0.2, 0.55, 0.6, 0.65, math.inf])
    impostor = np.array([0.5, 0.59, 0.61, 0.9, 1.2, math.inf])
    # dlib: distance < 0.6 (0.6 itself is rejected)
    tar, tnr = bench.rates_at_decision(genuine, impostor, bench.accept_dlib)
    assert tar == pytest.approx(2 / 5) and tnr == pytest.approx(4 / 6)
    # ours: similarity >= 80, and the curve puts 80 at distance 0.6 (accepted, up to rounding at the
    # boundary itself, so the boundary pair is checked apart)
    ours = bench.accept_ours(np.array([0.2, 0.55, 0.599, 0.601, 0.65, math.inf]))
    assert ours.tolist() == [True, True, True, False, False, False]


def test_tar_at_far_picks_the_threshold_from_the_impostors(bench):
    impostor = np.arange(1, 1001, dtype=np.float64) / 1000  # 0.001 ... 1.0
    genuine = np.array([0.0005, 0.0015, 0.0025, 0.0095, 0.0105, 0.5, math.inf, 0.01])
    # FAR 1e-3: one impostor (0.001) may be accepted -> accept d < 0.002
    assert bench.tar_at_far(genuine, impostor, 1e-3) == pytest.approx(2 / 8)
    # FAR 1e-2: ten impostors (0.001 ... 0.010) -> accept d < 0.011
    assert bench.tar_at_far(genuine, impostor, 1e-2) == pytest.approx(6 / 8)
    # FAR 0: nothing below the closest impostor
    assert bench.tar_at_far(genuine, impostor, 0.0) == pytest.approx(1 / 8)
    # FAR 1: every finite genuine distance
    assert bench.tar_at_far(genuine, impostor, 1.0) == pytest.approx(7 / 8)


def test_tar_at_far_counts_ties_against_us(bench):
    # two impostors tie at 0.3; with one false accept allowed the threshold is 0.3 and neither is accepted
    impostor = np.array([0.3, 0.3, 0.8, 0.9])
    genuine = np.array([0.1, 0.3, 0.35])
    assert bench.tar_at_far(genuine, impostor, 0.25) == pytest.approx(1 / 3)


def test_tar_at_far_rejects_bad_input(bench):
    with pytest.raises(ValueError):
        bench.tar_at_far(np.array([0.1]), np.array([0.2]), 1.5)
    with pytest.raises(ValueError):
        bench.tar_at_far(np.array([]), np.array([0.2]), 0.1)


def test_roc_point_agrees_with_a_brute_force_sweep(bench):
    rng = np.random.default_rng(7)
    genuine = rng.normal(0.4, 0.1, 300)
    impostor = rng.normal(0.8, 0.1, 3000)
    for far in (1e-3, 1e-2, 0.1):
        # the best TAR over every threshold whose false-accept rate stays within far
        thresholds = np.concatenate([impostor, [0.0]])
        best = max(np.mean(genuine < t) for t in thresholds if np.mean(impostor < t) <= far)
        assert bench.tar_at_far(genuine, impostor, far) == pytest.approx(best)


def test_distance_matrix_is_symmetric_with_inf_for_photos_without_a_face(bench):
    m = bench.distance_matrix([np.array([0.0, 0.0]), None, np.array([3.0, 4.0])])
    np.testing.assert_allclose(m, [[0, math.inf, 5], [math.inf, math.inf, math.inf], [5, math.inf, 0]])


def separated_and_half_accepting(people_count: int = 6):
    """Ours puts each person's four photos together; theirs splits them into two far-apart pairs."""
    people, ours, theirs = [], [], []
    for person in range(people_count):
        for photo in range(4):
            at = np.zeros(people_count + 1)
            at[person] = 10.0
            people.append(f"p{person}")
            ours.append(at + 0.01 * photo)
            theirs.append(at + (5.0 if photo >= 2 else 0.0) * np.eye(people_count + 1)[-1])
    return people, ours, theirs


def test_bootstrap_of_a_pipeline_against_itself_finds_no_difference(bench):
    people, ours, _ = separated_and_half_accepting()
    result = bench.paired_bootstrap(people, ours, ours, bench.accept_dlib, bench.accept_dlib, resamples=200)
    assert result["resamples"] == 200
    for name in ("tar", "tnr", "tar_at_far_0.001", "tar_at_far_0.01"):
        assert result[name] == {"a_minus_b": 0.0, "interval_95": [0.0, 0.0], "a_at_least_b": 1.0}


def test_bootstrap_of_a_better_pipeline_keeps_its_lead_in_every_resample(bench):
    people, ours, theirs = separated_and_half_accepting()
    result = bench.paired_bootstrap(people, ours, theirs, bench.accept_dlib, bench.accept_dlib, resamples=300)
    # theirs accepts 2 of each person's 6 genuine pairs: (0, 1) and (2, 3)
    assert result["tar"]["a_minus_b"] == pytest.approx(round(4 / 6, 4))
    assert result["tar"]["interval_95"][0] > 0.3 and result["tar"]["a_at_least_b"] == 1.0
    assert result["tnr"]["a_minus_b"] == 0.0
    # the same seed draws the same photos
    again = bench.paired_bootstrap(people, ours, theirs, bench.accept_dlib, bench.accept_dlib, resamples=300)
    assert again == result


def test_bootstrap_never_pairs_a_photo_drawn_twice_with_itself(bench):
    # ours gives every photo its own spot, so a zero distance could only be a photo paired with itself
    people, ours, _ = separated_and_half_accepting(3)
    seen = []

    def accept(distances):
        seen.append(np.asarray(distances))
        return bench.accept_dlib(distances)

    result = bench.paired_bootstrap(people, ours, ours, accept, bench.accept_dlib, resamples=50)
    # with 12 photos drawn 12 times, nearly every draw repeats a photo (1 - 12!/12**12)
    assert len(seen) == 2 * (1 + result["resamples"]) and result["resamples"] == 50
    assert all(np.all(d > 0) for d in seen)


def test_bootstrap_rejects_bad_input(bench):
    people, ours, theirs = separated_and_half_accepting(2)
    with pytest.raises(ValueError, match="8 labels for 7 and 8"):
        bench.paired_bootstrap(people, ours[:-1], theirs, bench.accept_dlib, bench.accept_dlib)
    with pytest.raises(ValueError, match="resamples must be >= 1"):
        bench.paired_bootstrap(people, ours, theirs, bench.accept_dlib, bench.accept_dlib, resamples=0)
    with pytest.raises(ValueError, match="genuine and one impostor"):
        bench.paired_bootstrap(["a"] * 3, ours[:3], theirs[:3], bench.accept_dlib, bench.accept_dlib)


def test_largest_face_and_iou(bench):
    assert bench.largest_face([]) is None
    assert bench.largest_face([(0, 0, 10, 10), (5, 5, 20, 4), (0, 0, 11, 10)]) == 2
    assert bench.iou_xyxy((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert bench.iou_xyxy((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert bench.inclusive_to_xyxy((1, 2, 10, 20)) == (1.0, 2.0, 11.0, 21.0)


# The dlib pipeline's (TAR, TNR) at distance < 0.6 and TAR at FAR 1e-3 on the labelled dev photos,
# as bench/bench_accuracy.py measures them; ours must match or beat each (TAR and TNR at
# similarity >= 80).
DLIB_PIPELINE = {"lfw-dev": (0.9889, 0.9963, 0.9889), "web-dev": (0.9474, 1.0, 0.9632)}


@pytest.fixture(scope="module")
def analyzer(session_cache_dir):
    from app.vision.default_analyzer import DlibYuNetAnalyzer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REKURATOR_CACHE_DIR", str(session_cache_dir))
        return DlibYuNetAnalyzer()


@pytest.mark.parametrize("name", sorted(DLIB_PIPELINE))
def test_dev_photos_verify_at_least_as_well_as_dlibs_pipeline(bench, analyzer, name):
    folder = bench.DEFAULT_DATASETS / name
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"labelled photos not found at {folder}")
    labels = bench.read_labels(folder)
    photos = [bench.analyze_ours(analyzer, (folder / file).read_bytes(), person) for file, person in labels]
    assert all(p.boxes for p in photos)
    result = bench.verification([person for _, person in labels], photos, bench.accept_ours)
    tar, tnr, tar_at_far = DLIB_PIPELINE[name]
    assert result["tar"] >= tar and result["tnr"] >= tnr and result["tar_at_far_0.001"] >= tar_at_far, result
