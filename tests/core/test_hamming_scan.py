"""The faiss Hamming scan of the compressed tier: same candidates as numpy, same answers as exhaustive."""

import subprocess
import sys

import numpy as np
import pytest

from app.core import compressed_index, hamming_scan
from app.core.compressed_index import CompressedIndex
from app.core.index_file import BLOCK, DamagedIndexError, IndexFile, write_index_file
from app.core.vector_index import CollectionIndex

pytest.importorskip("faiss")


def numpy_candidates(codes: np.ndarray, code: np.ndarray, wanted: int, dead=None) -> np.ndarray:
    ham = hamming_scan.numpy_distances(codes, code, np.uint8)
    if dead is not None:
        ham[dead] = 255
    return hamming_scan.numpy_nearest(ham, wanted)


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("wanted", [1, 7, 64, 300])
def test_faiss_scan_equals_numpy_candidates_ties_included(parts, wanted):
    rng = np.random.default_rng(wanted + parts)
    # few distinct bits so that many faces tie at the cut-off distance
    codes = np.zeros((5000, 2), np.uint64)
    codes[:, 0] = rng.integers(0, 1 << 12, 5000, dtype=np.uint64)
    codes[:, 1] = rng.integers(0, 1 << 62, 5000, dtype=np.uint64) if parts == 3 else 0
    sqnorms = np.ones(5000, np.float32)
    sqnorms[rng.choice(5000, 400, replace=False)] = np.inf  # deleted faces
    dead = ~np.isfinite(sqnorms)
    for q in codes[rng.choice(5000, 5)]:
        expected = numpy_candidates(codes, q, wanted, dead)
        ham = hamming_scan.numpy_distances(codes, q, np.uint8)
        assert len(expected) >= wanted and not dead[expected].any()
        got = hamming_scan.nearest(codes.view(np.uint8), q.view(np.uint8), wanted, sqnorms, parts=parts)
        if got is None:  # the lists could not prove every tie was seen: allowed, never wrong
            assert np.count_nonzero(ham[~dead] <= ham[expected].max()) > wanted
            continue
        assert np.array_equal(got, expected)


def test_faiss_scan_gives_up_rather_than_drop_ties(monkeypatch):
    codes = np.zeros((1000, 2), np.uint64)  # every face at distance 0: all tie with the nearest
    monkeypatch.setattr(hamming_scan, "SLACK", 1)
    assert hamming_scan.nearest(codes.view(np.uint8), codes[0].view(np.uint8), 10, parts=2) is None
    index = CompressedIndex(128)
    index.append(np.arange(1, 1001), np.ones((1000, 128), np.float32))
    assert len(index.candidates(np.ones(128, np.float32), 10)) == 1000  # numpy's answer, ties included


def clustered(rng, people: int, per: int, dim: int = 128) -> np.ndarray:
    sd = 1.0 / np.sqrt(2 * dim)
    centres = rng.standard_normal((people, dim)) * sd
    x = centres[np.arange(people * per) % people] + rng.standard_normal((people * per, dim)) * sd * 0.35
    return x.astype(np.float32)


@pytest.mark.parametrize("parallel_from", [1 << 21, 1000])
def test_tier_answers_equal_exhaustive_search_on_planted_matches(tmp_path, monkeypatch, parallel_from):
    monkeypatch.setattr(hamming_scan, "PARALLEL_MIN_FACES", parallel_from)
    monkeypatch.setattr(compressed_index, "SEGMENT_ROWS", 2048)
    monkeypatch.setattr(compressed_index, "CANDIDATES", 128)
    rng = np.random.default_rng(3)
    x = clustered(rng, 1200, 10)
    exact = CollectionIndex(128)
    exact.append(np.arange(1, len(x) + 1), x)
    comp = CompressedIndex(128, directory=tmp_path, prefix="t", center=x[:4096].mean(axis=0))
    comp.append(np.arange(1, len(x) + 1), x)
    assert comp.segments and comp.n - comp.base < comp.n  # most rows are on disk
    calls = []
    real = hamming_scan.nearest
    monkeypatch.setattr(hamming_scan, "nearest", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    for g in rng.choice(len(x), 60, replace=False):
        for limit, dist in ((10, 0.6), (3, 0.4), (100, 0.6)):
            a = exact.search_faces(x[g], dist, limit, exclude_rowid=int(g) + 1)
            b = comp.search_faces(x[g], dist, limit, exclude_rowid=int(g) + 1)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), (g, limit, dist, len(a[0]), a[1][:3])
    assert sum(c is not None for c in calls) >= 0.9 * len(calls)  # faiss answered (not the fallback)
    comp.close()


def test_disk_rows_read_in_runs_and_every_block_checked(tmp_path):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((300, 100)).astype(np.float32)  # 400-byte rows: some span two blocks
    write_index_file(tmp_path / "s.seg", {}, [("v", data)])
    with IndexFile.open(tmp_path / "s.seg") as f:
        sec = f.on_disk("v")
    rows = np.r_[rng.choice(300, 40), np.arange(100, 140), [299, 0, 0]]
    assert np.array_equal(sec.rows(rows), data[rows])
    sec.close()
    raw = bytearray((tmp_path / "s.seg").read_bytes())
    raw[BLOCK + 5 * BLOCK + 17] ^= 0x40  # a byte of the sixth data block (rows 51-61)
    (tmp_path / "s.seg").write_bytes(bytes(raw))
    f = IndexFile.open(tmp_path / "s.seg")  # header and checksum table are intact
    assert f is not None
    sec = f.on_disk("v")
    f.close()
    assert np.array_equal(sec.rows(np.arange(0, 40)), data[:40])
    with pytest.raises(DamagedIndexError):
        sec.rows(np.arange(45, 70))  # a run of adjacent blocks with the damaged one inside
    with pytest.raises(DamagedIndexError):
        sec.rows(np.array([55]))
    sec.close()


def test_exact_tier_and_startup_do_not_load_faiss():
    code = (
        "import sys, numpy as np\n"
        "from app.core.engine import Engine\n"
        "from app.core.vector_index import CollectionIndex\n"
        "i = CollectionIndex(128); i.append(np.arange(1, 11), np.ones((10, 128), np.float32))\n"
        "i.search_faces(np.ones(128, np.float32), 1.0, 5)\n"
        "assert 'faiss' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_candidates_widen_by_16_per_match_found(tmp_path, monkeypatch):
    monkeypatch.setattr(compressed_index, "SEGMENT_ROWS", 1024)
    monkeypatch.setattr(compressed_index, "CANDIDATES", 64)
    rng = np.random.default_rng(8)
    x = clustered(rng, 400, 10)
    crowd = x[:1] + rng.standard_normal((300, 128)).astype(np.float32) * 0.01  # one person, 301 faces
    x = np.concatenate([x, crowd])
    exact = CollectionIndex(128)
    exact.append(np.arange(1, len(x) + 1), x)
    comp = CompressedIndex(128, directory=tmp_path, prefix="t", center=x[:4096].mean(axis=0))
    comp.append(np.arange(1, len(x) + 1), x)
    asked = []
    real = comp.candidates
    monkeypatch.setattr(comp, "candidates", lambda q, wanted: asked.append(wanted) or real(q, wanted))
    for limit in (10, 400):
        asked.clear()
        a = exact.search_faces(x[0], 0.6, limit, exclude_rowid=1)
        b = comp.search_faces(x[0], 0.6, limit, exclude_rowid=1)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert len(b[0]) == min(limit, 300 + 9)
        assert asked[0] == max(64, 16 * limit) and asked[-1] >= 16 * 300  # widened: 16 per match found
    asked.clear()
    comp.search_faces(x[1], 0.6, 10)  # an ordinary face: one look
    assert asked == [160]
    comp.close()


def test_without_faiss_the_numpy_scan_gives_the_same_candidates(monkeypatch):
    rng = np.random.default_rng(9)
    index = CompressedIndex(128)
    vectors = rng.standard_normal((3000, 128)).astype(np.float32)
    index.append(np.arange(1, 3001), vectors)
    index.remove([7, 8, 9])
    with_faiss = index.candidates(vectors[3], 100)
    assert hamming_scan.faiss_module() is not None
    monkeypatch.setattr(hamming_scan, "_faiss", False)  # as if faiss-cpu were not installed
    assert hamming_scan.nearest(index.codes[:3000].view(np.uint8), index.codes[3].view(np.uint8), 100) is None
    assert np.array_equal(index.candidates(vectors[3], 100), with_faiss)
