"""The compressed tier on disk: answers equal exhaustive search, rows are read checked, startup stays light."""

import subprocess
import sys

import numpy as np
import pytest

from app.core import compressed_index, int8_scan
from app.core.compressed_index import CompressedIndex
from app.core.index_file import BLOCK, DamagedIndexError, IndexFile, write_index_file
from app.core.vector_index import CollectionIndex


def clustered(rng, people: int, per: int, dim: int = 128) -> np.ndarray:
    sd = 1.0 / np.sqrt(2 * dim)
    centres = rng.standard_normal((people, dim)) * sd
    x = centres[np.arange(people * per) % people] + rng.standard_normal((people * per, dim)) * sd * 0.35
    return x.astype(np.float32)


@pytest.mark.parametrize("parallel_from", [1 << 18, 1000])
def test_tier_answers_equal_exhaustive_search_on_planted_matches(tmp_path, monkeypatch, parallel_from):
    monkeypatch.setattr(int8_scan, "PARALLEL_MIN_FACES", parallel_from)
    monkeypatch.setattr(compressed_index, "SEGMENT_ROWS", 2048)
    rng = np.random.default_rng(3)
    x = clustered(rng, 1200, 10)
    exact = CollectionIndex(128)
    exact.append(np.arange(1, len(x) + 1), x)
    center, step = compressed_index.quantizer_for(x[:4096], 128)
    comp = CompressedIndex(128, directory=tmp_path, prefix="t", center=center, step=step)
    comp.append(np.arange(1, len(x) + 1), x)
    assert comp.segments and comp.n - comp.base < comp.n  # most rows are on disk
    read = []
    rows = comp.rows
    monkeypatch.setattr(comp, "rows", lambda pos: read.append(len(pos)) or rows(pos))
    for g in rng.choice(len(x), 60, replace=False):
        for limit, dist in ((10, 0.6), (3, 0.4), (100, 0.6)):
            a = exact.search_faces(x[g], dist, limit, exclude_rowid=int(g) + 1)
            b = comp.search_faces(x[g], dist, limit, exclude_rowid=int(g) + 1)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), (g, limit, dist, len(a[0]), a[1][:3])
    assert max(read) < 200  # only the faces that could answer are read from disk, not all 12,000
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


def test_exact_tier_and_startup_do_not_load_the_scan_libraries():
    code = (
        "import sys, numpy as np\n"
        "from app.core.engine import Engine\n"
        "from app.core.vector_index import CollectionIndex\n"
        "i = CollectionIndex(128); i.append(np.arange(1, 11), np.ones((10, 128), np.float32))\n"
        "i.search_faces(np.ones(128, np.float32), 1.0, 5)\n"
        "assert 'faiss' not in sys.modules and 'simsimd' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
