"""The search index's sidecar file: fast reopen, catch-up after other writers, damage tolerance."""

import pytest

from app.core import engine as engine_module
from app.core.engine import Engine
from app.core.index_file import MEMORY_CRC_BLOCK, IndexFile
from app.core.vector_index import CollectionIndex

from .fakes import analyzed_face, face_of, identity_centres


@pytest.fixture(autouse=True)
def small_sidecar_threshold(monkeypatch):
    monkeypatch.setattr(engine_module, "SIDECAR_MIN_FACES", 1)


@pytest.fixture
def loads_from_db(monkeypatch):
    calls = []
    original = CollectionIndex.load.__func__

    def spy(cls, *args, **kwargs):
        calls.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(CollectionIndex, "load", classmethod(spy))
    return calls


def fill(engine, analyzer, rng, name, n=5, seed=0):
    centre = identity_centres(1, seed=seed)[0]
    analyzer.register(name.encode(), [analyzed_face(face_of(centre, rng), left=0.1 * i, size=0.05) for i in range(n)])
    out = engine.index_faces(CollectionId="c", Image={"Bytes": name.encode()})
    return [r["Face"]["FaceId"] for r in out["FaceRecords"]]


def matches(engine, face_id):
    return sorted(m["Face"]["FaceId"] for m in engine.search_faces(CollectionId="c", FaceId=face_id, FaceMatchThreshold=0)["FaceMatches"])


def test_reopen_reads_the_sidecar_not_the_database(tmp_path, analyzer, rng, loads_from_db):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = fill(eng, analyzer, rng, "a")
        expected = matches(eng, ids[0])
    assert len(loads_from_db) == 1
    [sidecar] = (ws / "index").glob("collection-*.index")
    with IndexFile.open(sidecar) as f:
        assert f.crc_block == MEMORY_CRC_BLOCK  # read whole: 1 MiB checksum blocks, checked on several threads
    with Engine(ws, analyzer=analyzer) as eng:
        assert matches(eng, ids[0]) == expected
    assert len(loads_from_db) == 1  # the second open never read descriptors from SQLite


def test_stale_sidecar_catches_up_with_later_writes(tmp_path, analyzer, rng, loads_from_db):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = fill(eng, analyzer, rng, "a")
        eng.search_faces(CollectionId="c", FaceId=ids[0])  # loads, and writes the sidecar
    with Engine(ws, analyzer=analyzer) as other:  # another process adds, deletes and associates
        more = fill(other, analyzer, rng, "b", seed=0)
        other.delete_faces(CollectionId="c", FaceIds=[ids[1]])
        other.create_user(CollectionId="c", UserId="u")
        other.associate_faces(CollectionId="c", UserId="u", FaceIds=more[:2])
        assert not other._indexes  # it never searched, so it leaves the sidecar as it was
    with Engine(ws, analyzer=analyzer) as eng:
        assert matches(eng, ids[0]) == sorted(set(ids[2:] + more))
        assert [m["User"]["UserId"] for m in eng.search_users(CollectionId="c", FaceId=ids[0], UserMatchThreshold=0)["UserMatches"]] == ["u"]
    assert len(loads_from_db) == 1  # caught up incrementally from the stale sidecar


def test_damaged_or_foreign_sidecar_falls_back_to_the_database(tmp_path, analyzer, rng, loads_from_db):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = fill(eng, analyzer, rng, "a")
        expected = matches(eng, ids[0])
    [sidecar] = (ws / "index").glob("collection-*.index")
    sidecar.write_bytes(sidecar.read_bytes()[:200])
    with Engine(ws, analyzer=analyzer) as eng:
        assert matches(eng, ids[0]) == expected
    assert len(loads_from_db) == 2


def test_sidecar_missing_rows_is_reloaded(tmp_path, analyzer, rng, loads_from_db):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = fill(eng, analyzer, rng, "a")
        expected = matches(eng, ids[0])
        pk = eng.store.connection().execute("SELECT pk FROM collections").fetchone()[0]
        generation = eng.store.connection().execute("SELECT generation FROM collections").fetchone()[0]
    [sidecar] = (ws / "index").glob("collection-*.index")
    full = CollectionIndex.load_file(sidecar, pk, 128)
    assert full is not None and full.n == 5
    # a stale sidecar that lacks a row the database has: catching up is impossible, reload
    partial = CollectionIndex(128, generation - 1)
    keep = [0, 1, 3, 4]
    partial.append(full.rowids[keep], full.vectors[keep], full.owners[keep])
    partial.save(sidecar, pk)
    with Engine(ws, analyzer=analyzer) as eng:
        assert matches(eng, ids[0]) == expected
    assert len(loads_from_db) == 2


def test_deleting_a_collection_removes_its_sidecar(tmp_path, analyzer, rng):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = fill(eng, analyzer, rng, "a")
        eng.search_faces(CollectionId="c", FaceId=ids[0])
        assert list((ws / "index").glob("*.index"))
        eng.delete_collection(CollectionId="c")
        assert not list((ws / "index").glob("*.index"))


def test_descriptor_load_walks_rowid_order(engine):
    plan = engine.store.connection().execute(
        "EXPLAIN QUERY PLAN SELECT pk, COALESCE(user_pk, 0), descriptor FROM faces WHERE collection_pk = ? ORDER BY pk", (1,)
    ).fetchall()
    text = " ".join(str(r[-1]) for r in plan)
    assert "faces_by_collection" in text and "TEMP B-TREE" not in text
