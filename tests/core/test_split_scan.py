"""The head-first scan of split codes finds exactly the faces a scan of whole codes finds."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from app.core import int8_scan, split_scan
from app.core.compressed_index import CompressedIndex
from app.core.index_file import MEMORY_CRC_BLOCK, IndexFile, write_index_file


def whole(codes: np.ndarray, code: np.ndarray) -> np.ndarray:
    return ((codes.astype(np.int64) - code.astype(np.int64)) ** 2).sum(axis=1)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 64 faces and two threads from 200 faces on: every path of the scan runs on small data."""
    monkeypatch.setattr(split_scan, "CHUNK", 64)
    monkeypatch.setattr(split_scan, "PARALLEL_MIN_FACES", 200)


def test_the_embedded_model_is_what_onnx_builds():
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "code_dots",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, ["rows", "width"]),
         helper.make_tensor_value_info("B", TensorProto.INT8, ["width", "group"])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, ["rows", "group"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="rekurator")
    model.ir_version = 8
    assert model.SerializeToString() == split_scan.CODE_DOTS_MODEL


def test_the_tail_kernel_leaves_none_s_reference_count_alone():
    """simsimd 6.5's cdist with `out=` returned None without a reference of its own: each call took
    one of None's, and Python 3.11 aborted ("deallocating None") after a few thousand calls."""
    import sys

    codes = np.ones((5, 64), np.int8)
    out = np.empty(5, np.float32)
    for _ in range(10):  # first calls may fill caches that hold None
        int8_scan.squared_code_distances(codes, codes[0], out, threads=1)
    before = sys.getrefcount(None)
    for _ in range(2000):
        int8_scan.squared_code_distances(codes, codes[0], out, threads=1)
    assert abs(sys.getrefcount(None) - before) < 100  # the bug: 2,000 fewer
    assert np.array_equal(out, np.zeros(5))


def test_unsigned_codes_round_trip_and_keep_their_order():
    codes = np.arange(-128, 128, dtype=np.int16).astype(np.int8).reshape(2, 128)
    u = split_scan.unsigned(codes)
    assert u.dtype == np.uint8 and np.array_equal(u.astype(np.int16) - 128, codes.astype(np.int16))
    assert np.array_equal(split_scan.signed(u), codes)


@pytest.mark.parametrize("group", [None, *split_scan.GROUPS])
@pytest.mark.parametrize("use_simsimd", [True, False])
@pytest.mark.parametrize(("n", "dim"), [(1, 128), (7, 128), (5, 3), (9, 1), (1003, 128), (777, 512), (650, 301)])
def test_within_and_all_distances_equal_a_scan_of_whole_codes(monkeypatch, small_chunks, use_simsimd, n, dim, group):
    if not use_simsimd:
        monkeypatch.setattr(int8_scan, "_simsimd", False)
    rng = np.random.default_rng(n + dim)
    codes = rng.integers(-127, 128, (n, dim), dtype=np.int8)
    codes[: n // 3] = rng.integers(-3, 4, (n // 3, dim), dtype=np.int8)  # a cluster near the query
    codes[-1] = 127  # the extremes the codes can take
    query = codes[0].copy()
    query[: dim // 2] = -127
    parts = split_scan.split_codes(codes)
    want = whole(codes, query)
    got = split_scan.all_distances(*parts, query, np.empty(n, np.int64), group=group)
    assert np.array_equal(got, want)
    for reach_sq in (0.0, float(np.quantile(want, 0.05)), float(np.quantile(want, 0.5)),
                     float(want.max()), float(want.max()) + 0.5, np.inf):
        pos, sq = split_scan.within(*parts, query, reach_sq, group=group)
        expected = np.flatnonzero(want <= reach_sq)
        assert np.array_equal(pos, expected), reach_sq
        assert np.array_equal(sq, want[expected])


def test_the_group_is_the_fastest_measured_once_per_width(monkeypatch):
    """Each of GROUPS is timed on random codes; the fastest is kept per width, not measured again."""
    monkeypatch.setattr(split_scan, "_groups", {})
    monkeypatch.setattr(split_scan, "CALIBRATION_FACES", 64)
    gemm, timed = split_scan._Part.gemm, []

    def slow_but_four(self, rows):
        timed.append(self.group)
        if self.group != 4:
            time.sleep(0.002)
        return gemm(self, rows)

    monkeypatch.setattr(split_scan._Part, "gemm", slow_but_four)
    assert split_scan.group_for(64) == 4
    assert sorted(set(timed)) == sorted(split_scan.GROUPS) and len(timed) == 4 * len(split_scan.GROUPS)
    assert split_scan.group_for(64) == 4 and len(timed) == 4 * len(split_scan.GROUPS)  # kept
    assert split_scan.group_for(0) == 1  # nothing to time: an empty part
    assert split_scan.chosen_groups() == {64: 4, 0: 1}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_scans_with_threads_of_its_own(small_chunks):
    """The parent's pool has no threads in a forked child: without the reset the child's scan waits forever."""
    rng = np.random.default_rng(3)
    codes = rng.integers(-127, 128, (1000, 128), dtype=np.int8)
    parts, query = split_scan.split_codes(codes), codes[7]
    want = whole(codes, query)
    reach_sq = float(np.quantile(want, 0.2))
    expected = np.flatnonzero(want <= reach_sq)
    assert np.array_equal(split_scan.within(*parts, query, reach_sq)[0], expected)  # the parent's pool runs
    pid = os.fork()
    if pid == 0:  # the child: report by exit status only
        try:
            os._exit(0 if np.array_equal(split_scan.within(*parts, query, reach_sq)[0], expected) else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child's scan did not finish in 60 s")


def test_near_chunks_scan_their_tails_whole_and_far_ones_gather_them(monkeypatch, small_chunks):
    rng = np.random.default_rng(5)
    codes = rng.integers(-100, 100, (640, 128), dtype=np.int8)
    codes[:64] = 0  # the first chunk: every head near the query
    codes[300:303] = rng.integers(-2, 3, (3, 128), dtype=np.int8)  # a few near ones in a later chunk
    query = np.zeros(128, np.int8)
    gathered, scanned = [], []
    tails, distances = split_scan._tail_distances, split_scan._Part.distances
    monkeypatch.setattr(split_scan, "_tail_distances",
                        lambda tail, rows, code: gathered.append(len(rows)) or tails(tail, rows, code))
    monkeypatch.setattr(split_scan._Part, "distances",
                        lambda self, rows, norms: scanned.append(len(rows)) or distances(self, rows, norms))
    want = whole(codes, query)
    reach_sq = float(want[300:303].max())
    pos, sq = split_scan.within(*split_scan.split_codes(codes), query, reach_sq)
    assert np.array_equal(pos, np.flatnonzero(want <= reach_sq)) and np.array_equal(sq, want[pos])
    assert 64 in scanned  # the first chunk's tails, scanned by GEMM
    assert gathered == [3]  # the later chunk gathered its three near rows


def test_the_tier_keeps_its_codes_split_and_answers_from_them():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3000, 128)).astype(np.float32) * 0.09
    comp = CompressedIndex(128, center=x.mean(axis=0), step=int8_scan.choose_step(x, x.mean(axis=0)))
    comp.append(np.arange(1, 3001), x)
    codes, _ = comp.encode(x)
    assert comp.head.dtype == np.uint8 and comp.head.shape[1] == 64 and comp.tail.shape[1] == 64
    assert np.array_equal(comp.codes, codes)
    assert np.array_equal(comp.head_sq[:3000], split_scan.squared_norms(codes[:, :64]))
    assert np.array_equal(comp.code_distances(codes[9]), whole(codes, codes[9]))


def rewrite_index_file(path, change) -> None:
    """Read a saved index file's header and sections, let `change(header, sections)` edit them, write it back."""
    with IndexFile.open(path) as file:
        header = {k: v for k, v in file.header.items()
                  if k not in ("sections", "data_bytes", "crc_table_crc", "crc_block")}
        sections = {name: file.read(name) for name in file.header["sections"]}
    change(header, sections)
    write_index_file(path, header, list(sections.items()), crc_block=MEMORY_CRC_BLOCK)


def as_whole_codes_file(path) -> None:
    """Rewrite a saved compressed-tier file as format 4 wrote it: whole int8 codes, not split."""

    def whole_codes(header, sections):
        codes = np.concatenate([split_scan.signed(sections.pop("code_head")),
                                split_scan.signed(sections.pop("code_tail"))], axis=1)
        del sections["code_head_sq"], sections["code_tail_sq"]
        header["format"] = 4
        sections["codes"] = codes

    rewrite_index_file(path, whole_codes)


def saved_index(tmp_path, n: int, seed: int):
    """(descriptors, index, path): n random faces in a compressed index saved as collection 1's file."""
    x = np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32) * 0.09
    comp = CompressedIndex(128, directory=tmp_path, prefix="collection-1", center=x.mean(axis=0),
                           step=int8_scan.choose_step(x, x.mean(axis=0)))
    comp.append(np.arange(1, n + 1), x)
    comp.save(tmp_path / "collection-1.index", 1)
    return x, comp, tmp_path / "collection-1.index"


def test_an_index_file_of_whole_codes_is_split_on_load(tmp_path):
    x, comp, path = saved_index(tmp_path, 2000, seed=12)
    as_whole_codes_file(path)
    again = CompressedIndex.load_file(path, 1, 128)
    assert again is not None and again.upgraded and not comp.upgraded
    assert np.array_equal(again.codes, comp.codes)
    for name in ("head", "tail", "head_sq", "tail_sq"):
        assert np.array_equal(getattr(again, name)[:2000], getattr(comp, name)[:2000])
    for qi in (3, 1500):
        want, got = comp.search_faces(x[qi], 0.6, 10), again.search_faces(x[qi], 0.6, 10)
        assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


def test_a_whole_codes_file_of_the_wrong_shape_is_refused(tmp_path):
    _x, _comp, path = saved_index(tmp_path, 300, seed=13)
    as_whole_codes_file(path)
    rewrite_index_file(path, lambda header, sections: sections.update(codes=sections["codes"][:-1]))  # a face short
    assert CompressedIndex.load_file(path, 1, 128) is None
