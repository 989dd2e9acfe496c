"""The compressed tier (1-bit codes, exact re-rank from segment files) answers like the exact one."""

import numpy as np
import pytest

from app.core import compressed_index
from app.core import engine as engine_module
from app.core.compressed_index import CompressedIndex
from app.core.engine import Engine
from app.core.index_file import BLOCK, IndexFile
from app.core.vector_index import CollectionIndex

from .fakes import analyzed_face, face_of, identity_centres

PEOPLE, PER_PERSON = 60, 8


@pytest.fixture
def small_tiers(monkeypatch):
    monkeypatch.setattr(engine_module, "SIDECAR_MIN_FACES", 1)
    monkeypatch.setattr(engine_module, "COMPRESSED_MIN_FACES", 100)
    monkeypatch.setattr(compressed_index, "SEGMENT_ROWS", 128)
    monkeypatch.setattr(compressed_index, "CANDIDATES", 64)


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
    assert list((ws / "index").glob("collection-1-*.seg"))
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


def test_candidates_include_ties_and_skip_deleted():
    rng = np.random.default_rng(0)
    index = CompressedIndex(128)
    vectors = rng.standard_normal((500, 128)).astype(np.float32)
    index.append(np.arange(1, 501), vectors)
    index.remove([5, 6])
    cand = index.candidates(vectors[10], 50)
    assert len(cand) >= 50 and 4 not in cand and 5 not in cand and 10 in cand
    ham = index.hamming(index.encode(vectors[10:11])[0])
    assert ham[cand].max() <= np.sort(np.delete(ham, [4, 5]))[49]
    bits = np.unpackbits(index.codes[:500].view(np.uint8), axis=1)
    qbits = np.unpackbits(index.encode(vectors[10:11]).view(np.uint8), axis=1)
    assert np.array_equal(ham, (bits != qbits).sum(axis=1))
