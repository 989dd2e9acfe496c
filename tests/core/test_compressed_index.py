"""The compressed tier (int8 codes with error bounds, exact re-rank from segment files) answers like the exact one."""

import numpy as np
import pytest

from app.core import compressed_index, int8_scan
from app.core import engine as engine_module
from app.core.compressed_index import CompressedIndex
from app.core.engine import Engine
from app.core.index_file import BLOCK, MEMORY_CRC_BLOCK, IndexFile
from app.core.vector_index import CollectionIndex

from .fakes import analyzed_face, face_of, identity_centres

PEOPLE, PER_PERSON = 60, 8


@pytest.fixture
def small_tiers(monkeypatch):
    monkeypatch.setattr(engine_module, "SIDECAR_MIN_FACES", 1)
    monkeypatch.setattr(engine_module, "COMPRESSED_MIN_FACES", 100)
    monkeypatch.setattr(compressed_index, "SEGMENT_ROWS", 128)


def populate(eng, analyzer, rng, people=PEOPLE, tag="p"):
    ids = []
    for p, centre in enumerate(identity_centres(people, seed=11)):
        data = f"{tag}{p}".encode()
        analyzer.register(
            data, [analyzed_face(face_of(centre, rng), left=0.1 * i, size=0.05) for i in range(PER_PERSON)]
        )
        ids += [
            r["Face"]["FaceId"]
            for r in eng.index_faces(CollectionId="c", Image={"Bytes": data})["FaceRecords"]
        ]
    return ids


def answers(eng, probes):
    out = []
    for fid in probes:
        out.append(eng.search_faces(CollectionId="c", FaceId=fid))
        out.append(eng.search_faces(CollectionId="c", FaceId=fid, FaceMatchThreshold=50, MaxFaces=3))
        out.append(eng.search_users(CollectionId="c", FaceId=fid, UserMatchThreshold=0))
    return out


def make_users(eng, ids):
    for u in range(5):
        eng.create_user(CollectionId="c", UserId=f"u{u}")
        eng.associate_faces(
            CollectionId="c", UserId=f"u{u}", FaceIds=ids[u * PER_PERSON : u * PER_PERSON + 4]
        )


def test_compressed_tier_answers_exactly_like_the_exact_tier(
    tmp_path, analyzer, rng, small_tiers, monkeypatch
):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = populate(eng, analyzer, rng)
        make_users(eng, ids)
        probes = ids[::13]
        compressed = answers(eng, probes)
        index = eng._indexes[1]
        assert isinstance(index, CompressedIndex) and len(index.segments) >= 2  # mapped segments and a tail
    monkeypatch.setattr(engine_module, "COMPRESSED_MIN_FACES", 10**9)
    for f in (ws / "index").iterdir():
        f.unlink()
    with Engine(ws, analyzer=analyzer) as eng:
        exact = answers(eng, probes)
        assert type(eng._indexes[1]) is CollectionIndex
    assert compressed == exact


def test_compressed_sidecar_reopens_and_catches_up(tmp_path, analyzer, rng, small_tiers, monkeypatch):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = populate(eng, analyzer, rng)
        eng.search_faces(CollectionId="c", FaceId=ids[0])
    segments = list((ws / "index").glob("collection-1-*.seg"))
    assert segments
    # the file read whole on open checks 1 MiB blocks (on several threads); segments, read row by row, 4 KiB
    with IndexFile.open(ws / "index" / "collection-1.index") as main:
        assert main.crc_block == MEMORY_CRC_BLOCK
    for segment in segments:
        with IndexFile.open(segment) as seg:
            assert seg.crc_block == BLOCK
    loads = []
    original = CompressedIndex.build.__func__
    monkeypatch.setattr(
        CompressedIndex, "build", classmethod(lambda cls, *a: loads.append(a) or original(cls, *a))
    )
    with Engine(ws, analyzer=analyzer) as other:  # another process writes
        make_users(other, ids)
        other.delete_faces(CollectionId="c", FaceIds=ids[-3:])
        more = populate(other, analyzer, rng, people=2, tag="late")
    with Engine(ws, analyzer=analyzer) as eng:
        probes = ids[:40:9] + more[:2]
        got = answers(eng, probes)
        assert isinstance(eng._indexes[1], CompressedIndex)
    assert not loads  # from the sidecar and its segments, caught up from the change log
    monkeypatch.setattr(engine_module, "COMPRESSED_MIN_FACES", 10**9)
    for f in (ws / "index").iterdir():
        f.unlink()
    with Engine(ws, analyzer=analyzer) as eng:
        assert answers(eng, probes) == got


def test_damaged_segment_is_found_while_searching_and_rebuilt(tmp_path, analyzer, rng, small_tiers):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = populate(eng, analyzer, rng)
        expected = answers(eng, ids[:16:5])
    segments = sorted((ws / "index").glob("collection-1-*.seg"))
    for seg in segments:  # zero 4 KB inside each segment's descriptors, length unchanged
        with IndexFile.open(seg) as f:
            start = f._data_start + f.section("vectors")["offset"]
        data = bytearray(seg.read_bytes())
        data[start : start + BLOCK] = bytes(BLOCK)
        seg.write_bytes(bytes(data))
    builds = []
    with Engine(ws, analyzer=analyzer) as eng:
        original = eng.index_for

        def spy(conn, coll):
            index = original(conn, coll)
            builds.append(id(index))
            return index

        eng.index_for = spy
        assert answers(eng, ids[:16:5]) == expected
    assert len(set(builds)) == 2  # the sidecar's index, then one rebuilt from SQLite after the mismatch


def test_index_grows_past_the_switch_over_in_process(tmp_path, analyzer, rng, small_tiers):
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = populate(eng, analyzer, rng, people=10)
        eng.search_faces(CollectionId="c", FaceId=ids[0])
        assert type(eng._indexes[1]) is CollectionIndex  # 80 faces: exact
        ids += populate(eng, analyzer, rng, people=10, tag="q")
        assert isinstance(eng._indexes[1], CompressedIndex)
        assert (
            len(eng.search_faces(CollectionId="c", FaceId=ids[85])["FaceMatches"]) == 2 * PER_PERSON - 1
        )  # the same 10 people twice


def hard_collection(rng, n=6000, dim=128):
    """Anisotropic descriptors, a person with 400 near-copies, near-ties at the threshold and faces
    far outside the range the quantization step was chosen from (clipped when coded)."""
    scales = np.linspace(0.02, 0.2, dim).astype(np.float32)
    x = rng.standard_normal((n, dim)).astype(np.float32) * scales
    x[:400] = x[0] + 0.004 * rng.standard_normal((400, dim)).astype(np.float32)  # one person, many photos
    direction = rng.standard_normal(dim).astype(np.float32)
    direction /= np.linalg.norm(direction)
    x[400:440] = x[1000] + direction * np.linspace(0.59, 0.61, 40)[:, None].astype(np.float32)  # at 0.6
    x[500:505] *= 40  # never seen when the step was chosen
    return x


def both_tiers(x):
    exact = CollectionIndex(x.shape[1])
    exact.append(np.arange(1, len(x) + 1), x)
    comp = CompressedIndex(x.shape[1], center=x[1000:2000].mean(axis=0),
                           step=int8_scan.choose_step(x[1000:2000], x[1000:2000].mean(axis=0)))
    comp.append(np.arange(1, len(x) + 1), x)
    return exact, comp


def test_codes_bound_every_true_distance_from_both_sides():
    rng = np.random.default_rng(3)
    x = hard_collection(rng)
    _exact, comp = both_tiers(x)
    assert set(range(500, 505)) <= set(comp._clipped.tolist())  # clipped faces are known
    for qi in (0, 1000, 502, 4321):
        code, r_q = comp.encode(x[qi : qi + 1])
        decoded = comp.step * np.sqrt(comp.code_distances(code[0]).astype(np.float64))
        true = np.linalg.norm(x.astype(np.float64) - x[qi].astype(np.float64), axis=1)
        slack = r_q[0] + comp.radii[: comp.n].astype(np.float64)
        assert np.all(true <= decoded + slack) and np.all(true >= decoded - slack)
        assert np.all(comp.radii[np.setdiff1d(np.arange(len(x)), comp._clipped)] <= comp._round)


def test_numpy_fallback_scans_the_same_integers(monkeypatch):
    rng = np.random.default_rng(4)
    codes = rng.integers(-127, 128, (3000, 128), dtype=np.int8)
    fast = int8_scan.squared_code_distances(codes, codes[7], np.empty(3000, np.float32)).copy()
    monkeypatch.setattr(int8_scan, "_simsimd", False)
    slow = int8_scan.squared_code_distances(codes, codes[7], np.empty(3000, np.float32))
    assert int8_scan.simsimd_module() is None
    assert np.array_equal(fast, slow)
    assert np.array_equal(slow, ((codes.astype(np.int64) - codes[7]) ** 2).sum(axis=1))


@pytest.mark.parametrize(("use_simsimd", "narrow_from"), [(True, 4096), (False, 4096), (True, 8)])
def test_search_equals_the_exact_tier_on_hard_data(monkeypatch, use_simsimd, narrow_from):
    # narrow_from 8: the histogram narrowing runs on nearly every search, not only past 4,096 candidates
    monkeypatch.setattr(compressed_index, "_NARROW_FROM", narrow_from)
    if not use_simsimd:
        monkeypatch.setattr(int8_scan, "_simsimd", False)
    rng = np.random.default_rng(5)
    x = hard_collection(rng)
    exact, comp = both_tiers(x)
    for index in (exact, comp):
        index.remove([3, 401, 4000])  # deleted faces never answer
    cases = [(qi, dist, limit) for qi in (0, 1000, 502, 77, 3, 4321)
             for dist, limit in ((0.6, 10), (0.6, 1000), (0.2, 3), (np.inf, 5), (0.6, 1))]
    for qi, dist, limit in cases:
        for exclude in (None, qi + 1):
            want = exact.search_faces(x[qi], dist, limit, exclude)
            got = comp.search_faces(x[qi], dist, limit, exclude)
            assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1]), (qi, dist, limit)
    near = comp.search_faces(x[1000], 0.6, 100)
    assert near[0][0] == 1001 and len(near[0]) == 20  # itself and the ties up to 0.6 (20 of 40, one deleted)


def test_a_saved_index_keeps_its_quantization(tmp_path):
    rng = np.random.default_rng(6)
    x = hard_collection(rng, n=3000)
    _exact, comp = both_tiers(x)
    comp.directory, comp.prefix = tmp_path, "collection-1"
    comp.save(tmp_path / "collection-1.index", 1)
    again = CompressedIndex.load_file(tmp_path / "collection-1.index", 1, 128)
    assert again is not None and again.step == comp.step
    assert np.array_equal(again._clipped, comp._clipped) and np.array_equal(again.radii[:3000], comp.radii[:3000])
    assert all(np.array_equal(a, b) for a, b in zip(again.search_faces(x[9], 0.6, 10), comp.search_faces(x[9], 0.6, 10),
                                                       strict=True))


def test_wide_descriptors_sum_exactly_and_still_answer_exactly():
    rng = np.random.default_rng(7)
    x = hard_collection(rng, n=1500, dim=300)  # 300 * 254^2 > 2^24: float32 could not hold every sum
    exact, comp = both_tiers(x)
    code = comp.encode(x[:1])[0][0]
    scan = comp.code_distances(code)
    assert scan.dtype == np.int64
    assert np.array_equal(scan, ((comp.codes.astype(np.int64) - code) ** 2).sum(axis=1))
    for qi in (0, 502, 900):
        for dist, limit in ((np.inf, 7), (2.0, 50)):
            want, got = exact.search_faces(x[qi], dist, limit), comp.search_faces(x[qi], dist, limit)
            assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])


def test_thousands_within_the_threshold_are_narrowed_to_the_nearest_possible(monkeypatch):
    rng = np.random.default_rng(8)
    x = hard_collection(rng, n=12000)
    ways = rng.standard_normal((6000, 128)).astype(np.float32)
    ways /= np.linalg.norm(ways, axis=1, keepdims=True)
    x[5000:11000] = x[5000] + ways * np.linspace(0.01, 0.55, 6000, dtype=np.float32)[:, None]  # 6,000 within 0.6
    x[11000:11003] = x[5000] + 5.0  # clipped, far
    exact, comp = both_tiers(x)
    sizes = []
    narrow = comp._nearest_possible
    monkeypatch.setattr(comp, "_nearest_possible", lambda pos, sq, *a: sizes.append(len(pos)) or narrow(pos, sq, *a))
    for qi in (5000, 7777, 10999):
        for limit in (1, 10, 100):
            want, got = exact.search_faces(x[qi], 0.6, limit, qi + 1), comp.search_faces(x[qi], 0.6, limit, qi + 1)
            assert np.array_equal(want[0], got[0]) and np.array_equal(want[1], got[1])
    assert len(sizes) == 9 and min(sizes) > 4096
    pos, sq = comp._within(comp.encode(x[5000:5001])[0][0], 0.7)
    assert len(comp._nearest_possible(pos, sq, 0.01, 10)[0]) < len(pos) // 2


def test_searches_from_several_threads_share_the_scan_buffer_safely():
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(9)
    x = hard_collection(rng, n=4000)
    exact, comp = both_tiers(x)
    queries = list(range(0, 4000, 37))
    want = [exact.search_faces(x[qi], 0.6, 10, qi + 1) for qi in queries]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda qi: comp.search_faces(x[qi], 0.6, 10, qi + 1), queries * 3))
    for i, (ids, dist) in enumerate(got):
        assert np.array_equal(ids, want[i % len(queries)][0]) and np.array_equal(dist, want[i % len(queries)][1])


def test_a_workspace_saved_with_whole_codes_opens_without_a_rebuild_and_is_saved_split(
    tmp_path, analyzer, rng, small_tiers, monkeypatch
):
    from .test_split_scan import as_whole_codes_file

    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = populate(eng, analyzer, rng)
        before = answers(eng, ids[::17])
    path = ws / "index" / "collection-1.index"
    as_whole_codes_file(path)
    built = []
    monkeypatch.setattr(CompressedIndex, "build", classmethod(lambda cls, *a: built.append(a) or None))
    with Engine(ws, analyzer=analyzer) as eng:
        assert answers(eng, ids[::17]) == before
        assert eng._indexes[1].upgraded
    assert not built  # converted, not rebuilt from the database
    with IndexFile.open(path) as file:
        assert file.header["format"] == compressed_index._FORMAT and "code_head" in file.header["sections"]
