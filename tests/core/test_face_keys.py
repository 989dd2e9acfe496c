"""face_keys: FaceIds found through the log-structured 64-bit key index (schema 6), and the migration to it."""

from __future__ import annotations

import gc
import gzip
import hashlib
import io
import json
import re
import shutil
import sqlite3
import tokenize
from pathlib import Path

import numpy as np
import pytest

from app.core import face_keys, schema
from app.core.analysis import ImageAnalysis
from app.core.engine import Engine
from app.core.errors import ResourceNotFoundException
from app.core.face_ops import AnalyzedImage, store_analyzed
from app.core.schema import SCHEMA_VERSION, run_migration
from app.core.store import Store
from app.core.workspace import database_path

from .fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres

CORE = Path(__file__).resolve().parents[2] / "app" / "core"
FIXTURE = Path(__file__).with_name("data") / "workspace-schema5.db.gz"
# in the fixture (made by the schema-5 code): ann's faces, her cover, and a face deleted before the upgrade
ANN_FACES = {"e3bb22d0-e9d0-5f86-a43d-33939fe3503f", "12bdf7a1-80cc-5c8a-a280-1c009ab7247b"}
DELETED = "864ed207-d06c-5b2a-b30f-e7af3a299338"
BARE_FACE = ("INSERT INTO faces(collection_pk, face_id, image_id, bbox_width, bbox_height, bbox_left, bbox_top, confidence,"
             " model_version, descriptor, created_at) VALUES (1, ?, 'i', .1, .1, .1, .1, 99, 'm', x'00', 0)")


def index_photos(eng: Engine, analyzer: RegisteredAnalyzer, rng, photos: int, faces_per_photo: int = 3,
                 first: int = 0) -> list[str]:
    centres = identity_centres(faces_per_photo, seed=first + 1)
    items = []
    for i in range(first, first + photos):
        faces = [analyzed_face(face_of(c, rng), left=0.05 + 0.3 * k, size=0.2) for k, c in enumerate(centres)]
        data = analyzer.register(b"p%d" % i, faces)
        items.append(AnalyzedImage(hashlib.sha256(data).hexdigest(), f"photo-{i}", analyzer._images[data]))
    out = store_analyzed(eng, "c", items)
    return [r["Face"]["FaceId"] for resp in out for r in resp["FaceRecords"]]


@pytest.fixture
def small_levels(monkeypatch):
    """Levels of 4, 8, 16, 32 entries and a last one: a few dozen faces reach every level."""
    monkeypatch.setattr(face_keys, "LEVEL0_ENTRIES", 4)
    monkeypatch.setattr(face_keys, "GROWTH", 2)


def test_a_new_workspace_has_no_face_id_text_index(tmp_path):
    store = Store(tmp_path / "ws")
    conn = store.connection()
    assert face_keys.uses_keys(conn)
    indexed = [row[2] for name in [r[1] for r in conn.execute("PRAGMA index_list(faces)")]
               for row in conn.execute(f"PRAGMA index_info({name})")]
    assert "face_id" not in indexed and "pk" not in indexed
    assert not any(row[2] for table in ("faces", "images") for row in conn.execute(f"PRAGMA index_list({table})"))
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    store.close()


def test_every_face_is_found_at_every_level(tmp_path, analyzer, rng, small_levels):
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids: list[str] = []
        first = 0
        for photos in (4, 4, 4, 4, 4, 4, 1, 2, 1, 1, 1):  # calls of 3 to 12 faces: merges all the way down
            ids += index_photos(eng, analyzer, rng, photos, first=first)
            first += photos
        conn = eng.store.connection()
        coll_pk = conn.execute("SELECT pk FROM collections").fetchone()[0]
        sizes = face_keys.level_sizes(conn, coll_pk)
        assert sum(sizes) == len(ids) == 90 and all(sizes), sizes
        found = face_keys.face_pks(conn, coll_pk, ids)
        assert len(found) == 90 and len(set(found.values())) == 90
        for level in range(face_keys.LEVELS):  # every level answers: one face from each
            key, pk = conn.execute("SELECT key, row_pk FROM face_keys WHERE level = ? LIMIT 1", (level,)).fetchone()
            fid = conn.execute("SELECT face_id FROM faces WHERE pk = ?", (pk,)).fetchone()[0]
            assert face_keys.key_of(fid) == key
            assert eng.search_faces(CollectionId="c", FaceId=fid)["SearchedFaceId"] == fid
        listed = eng.list_faces(CollectionId="c", FaceIds=ids[:5] + ["00000000-0000-5000-8000-000000000000"])
        assert [f["FaceId"] for f in listed["Faces"]] == ids[:5]
        # the same photos again: nothing new is stored, the same FaceIds come back
        image_sizes = face_keys.level_sizes(conn, coll_pk, "image_keys")
        assert sum(image_sizes) == 30 and image_sizes[3], image_sizes  # photos found through image_keys too
        assert index_photos(eng, analyzer, rng, 4, first=0) == ids[:12]
        assert index_photos(eng, analyzer, rng, 1, first=29) == ids[-3:]
        assert conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 90
        assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 30


def test_merges_keep_each_level_sorted_and_whole(tmp_path):
    store = Store(tmp_path / "ws")
    with store.write() as conn:
        conn.execute("INSERT INTO collections(collection_id, face_model_version, created_at) VALUES ('c', 'm', 0)")
        keys = np.random.default_rng(3).integers(-(2**63), 2**63 - 1, size=20_000, dtype=np.int64)
        rows = [(1, 0, int(k), i) for i, k in enumerate(keys)]
        conn.executemany("INSERT INTO face_keys(collection_pk, level, key, row_pk) VALUES (?,?,?,?)", rows)
        face_keys.merge(conn, 1, 0)
        face_keys.merge(conn, 1, 1)
        assert face_keys.level_sizes(conn, 1) == [0, 0, 20_000, 0, 0]
        got = conn.execute("SELECT key, row_pk FROM face_keys WHERE collection_pk = 1 AND level = 2").fetchall()
        assert got == sorted((int(k), i) for i, k in enumerate(keys))
        with pytest.raises(ValueError):
            face_keys.merge(conn, 1, face_keys.LEVELS - 1)
    store.close()


def test_two_face_ids_sharing_a_key_are_told_apart(tmp_path):
    store = Store(tmp_path / "ws")
    a, b = "0123abcd-4567-5890-8aaa-000000000001", "0123abcd-4567-5890-8bbb-000000000002"
    absent = "0123abcd-4567-5890-8ccc-000000000003"
    assert face_keys.key_of(a) == face_keys.key_of(b) == face_keys.key_of(absent)
    with store.write() as conn:
        conn.execute("INSERT INTO collections(collection_id, face_model_version, created_at) VALUES ('c', 'm', 0)")
        for fid in (a, b):
            conn.execute(BARE_FACE, (fid,))
        face_keys.add(conn, 1, [(a, 1), (b, 2)])
        assert face_keys.face_pks(conn, 1, [b, a, absent]) == {a: 1, b: 2}
        assert face_keys.face_pks(conn, 1, [a.upper(), "not a face id", ""]) == {}  # text must match exactly
        assert face_keys.face_pks(conn, 2, [a]) == {}  # another collection
        face_keys.remove(conn, 1, [(a, 1)])
        assert face_keys.level_sizes(conn, 1)[0] == 1
        with pytest.raises(ValueError):
            face_keys.add(conn, 1, [("x", 3)])
    assert face_keys.key_of("ffffffff-ffff-ffff-8fff-ffffffffffff") == -1  # signed 64 bits
    store.close()


def test_deleted_faces_are_not_found_and_leave_no_key(tmp_path, analyzer, rng, small_levels):
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = index_photos(eng, analyzer, rng, 6)
        conn = eng.store.connection()
        r = eng.delete_faces(CollectionId="c", FaceIds=ids[:7])
        assert sorted(r["DeletedFaces"]) == sorted(ids[:7])
        assert face_keys.face_pks(conn, 1, ids) == face_keys.face_pks(conn, 1, ids[7:])
        assert sum(face_keys.level_sizes(conn, 1)) == len(ids) - 7
        # photos 0 and 1 lost all three faces, photo 2 one of them: two photos and their keys are gone
        assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 4
        assert sum(face_keys.level_sizes(conn, 1, "image_keys")) == 4
        again = eng.delete_faces(CollectionId="c", FaceIds=ids[:1])
        assert again["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["FACE_NOT_FOUND"]
        eng.delete_collection(CollectionId="c")
        assert conn.execute("SELECT COUNT(*) FROM face_keys").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM image_keys").fetchone()[0] == 0


def test_the_same_photo_twice_in_one_call_is_stored_once(tmp_path, analyzer, rng):
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        faces = [analyzed_face(face_of(identity_centres(1)[0], rng))]
        analysis = analyzer._images[analyzer.register(b"same", faces)]
        item = AnalyzedImage(hashlib.sha256(b"same").hexdigest(), "x", analysis)
        first, second = store_analyzed(eng, "c", [item, item])
        assert first["FaceRecords"][0]["Face"] == second["FaceRecords"][0]["Face"]
        conn = eng.store.connection()
        assert conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 1
        assert face_keys.level_sizes(conn, 1, "image_keys")[0] == 1


def open_fixture(tmp_path) -> Path:
    ws = tmp_path / "old"
    ws.mkdir()
    with gzip.open(FIXTURE, "rb") as src, open(database_path(ws), "wb") as dst:
        shutil.copyfileobj(src, dst)
    return ws


def test_a_schema_5_workspace_is_upgraded_with_everything_kept(tmp_path, rng):
    ws = open_fixture(tmp_path)
    analyzer = RegisteredAnalyzer()
    with Engine(ws, analyzer=analyzer) as eng:
        conn = eng.store.connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
        assert not face_keys.uses_keys(conn)  # its faces keep the UNIQUE index that finds them
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        faces = eng.list_faces(CollectionId="family")["Faces"]
        assert len(faces) == 11 and DELETED not in {f["FaceId"] for f in faces}
        assert {f["FaceId"] for f in eng.list_faces(CollectionId="family", UserId="ann")["Faces"]} == ANN_FACES
        people = {p["UserId"]: p for p in eng.describe_people(CollectionId="family")["People"]}
        assert people["ann"]["DisplayName"] == "Ann Example" and people["ann"]["CoverFaceId"] in ANN_FACES
        assert people["bob"]["FaceCount"] == 0
        assert len(eng.list_faces(CollectionId="other")["Faces"]) == 1
        # schema 7 counted each collection's faces when it came in; the triggers keep the counts from then on
        assert [eng.describe_collection(CollectionId=c)["FaceCount"] for c in ("family", "other")] == [11, 1]
        some = sorted(ANN_FACES)[0]
        assert eng.search_faces(CollectionId="family", FaceId=some)["SearchedFaceId"] == some
        assert eng.delete_faces(CollectionId="family", FaceIds=[DELETED])["UnsuccessfulFaceDeletions"]
        # new photos go in beside the old faces, and are found the same way
        data = analyzer.register(b"new", [analyzed_face(face_of(identity_centres(1)[0], rng))])
        new_id = eng.index_faces(CollectionId="family", Image={"Bytes": data})["FaceRecords"][0]["Face"]["FaceId"]
        eng.associate_faces(CollectionId="family", UserId="bob", FaceIds=[new_id])
        assert [f["FaceId"] for f in eng.list_faces(CollectionId="family", UserId="bob")["Faces"]] == [new_id]
        assert eng.delete_faces(CollectionId="family", FaceIds=sorted(ANN_FACES))["UnsuccessfulFaceDeletions"][0][
            "Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]


def test_an_empty_schema_5_workspace_gets_keys_and_never_reuses_a_pk(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    conn = sqlite3.connect(database_path(ws), isolation_level=None)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    for step in range(5):
        run_migration(conn, step)
    conn.execute(f"PRAGMA application_id={schema.APPLICATION_ID}")
    conn.execute("INSERT INTO meta(key, value) VALUES ('pagination_secret', ?)", ("ab" * 32,))
    conn.execute("INSERT INTO collections(collection_id, face_model_version, created_at) VALUES ('c', 'm', 0)")
    conn.execute(BARE_FACE, ("f",))
    conn.execute("INSERT INTO images(collection_pk, image_id, sha256, width, height, created_at) VALUES (1, 'i', 's', 1, 1, 0)")
    conn.execute("DELETE FROM faces")  # the collection had a face and a photo once: pk 1 of each is spent
    conn.execute("DELETE FROM images")
    conn.execute("PRAGMA user_version=5")
    conn.execute("COMMIT")
    conn.close()
    store = Store(ws)
    db = store.connection()
    assert face_keys.uses_keys(db)
    assert not any(row[2] for t in ("faces", "images") for row in db.execute(f"PRAGMA index_list({t})"))  # no UNIQUE left
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'faces'")} == {
        "faces_owner_changed", "faces_deleted", "faces_counted_out", "faces_counted_moved"}
    with store.write() as tx:
        cur = tx.execute(BARE_FACE, ("g",))
        assert cur.lastrowid == 2
        cur = tx.execute("INSERT INTO images(collection_pk, image_id, sha256, width, height, created_at) "
                         "VALUES (1, 'j', 's', 1, 1, 0)")
        assert cur.lastrowid == 2
        tx.execute("DELETE FROM faces WHERE pk = 2")
        assert tx.execute("SELECT face_pk, user_pk FROM face_changes").fetchall()[-1] == (2, -1)  # triggers came back
    store.close()


def test_a_failed_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    ws = open_fixture(tmp_path)
    before = database_path(ws).read_bytes()

    def broken(conn):
        schema._v6_face_keys(conn)
        conn.execute("DELETE FROM faces WHERE user_pk IS NULL")  # work that must not survive
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS[:5], broken])
    with pytest.raises(RuntimeError, match="disk on fire"):
        Store(ws)
    check = sqlite3.connect(database_path(ws))
    assert check.execute("PRAGMA user_version").fetchone()[0] == 5
    assert check.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 12
    assert check.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'face_keys'").fetchone()[0] == 0
    check.close()
    assert database_path(ws).read_bytes() == before
    monkeypatch.undo()
    store = Store(ws)  # and the real migration still goes through
    assert store.connection().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


_TEXT_LOOKUP = re.compile(r"\b(face_id|image_id)\s*(=|\bin\b)", re.IGNORECASE)


def test_no_sql_outside_face_keys_looks_faces_up_by_face_id_text():
    """A workspace at schema 6 has no index on faces.face_id: such a query would read every face."""
    offenders = []
    for path in sorted(CORE.glob("*.py")):
        if path.name == "face_keys.py":
            continue
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if tok.type == tokenize.STRING and _TEXT_LOOKUP.search(tok.string):
                offenders.append(f"{path.name}:{tok.start[0]}: {tok.string[:80]}")
    assert offenders == [], "look faces up through face_keys.face_pks / face_rows instead:\n" + "\n".join(offenders)
    assert _TEXT_LOOKUP.search('"WHERE f.collection_pk = ? AND f.face_id IN (?)"')  # the check itself works
    assert _TEXT_LOOKUP.search("'face_id = ?'") and not _TEXT_LOOKUP.search("'SELECT face_id, pk FROM faces'")


def test_a_call_mixing_stored_and_new_photos_keeps_the_stored_ones(tmp_path, analyzer, rng, small_levels):
    """The photos stored before a call are found by one lookup at every key level; new ones are added."""
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        before = [fid for first, n in [(0, 11), (11, 6), (17, 3)]  # three calls: image keys at several levels
                  for fid in index_photos(eng, analyzer, rng, photos=n, first=first)]
        conn = eng.store.connection()
        assert sum(1 for n in face_keys.level_sizes(conn, 1, "image_keys") if n) >= 2
        pks_before = dict(conn.execute("SELECT face_id, pk FROM faces"))
        journal_before = conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        again = index_photos(eng, analyzer, rng, photos=25, first=5)  # photos 5..19 stored, 20..29 new
        assert again[: 15 * 3] == before[5 * 3 :]
        assert dict(conn.execute("SELECT face_id, pk FROM faces WHERE face_id IN (%s)" % ",".join("?" * len(before)),
                                 before)) == pks_before
        assert conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 30 * 3
        assert conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 30
        entries = conn.execute("SELECT request FROM journal WHERE seq > ? ORDER BY seq", (journal_before,)).fetchall()
        assert [json.loads(r[0])["ExternalImageId"] for r in entries] == [f"photo-{i}" for i in range(5, 30)]


def test_the_collector_runs_again_after_a_call_even_a_failed_one(tmp_path, analyzer, rng):
    with Engine(tmp_path / "ws", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        assert gc.isenabled()
        index_photos(eng, analyzer, rng, photos=2)
        assert gc.isenabled()
        item = AnalyzedImage("ab" * 32, "x", ImageAnalysis(640, 480, [analyzed_face(face_of(identity_centres(1)[0], rng))]))
        with pytest.raises(ResourceNotFoundException):
            store_analyzed(eng, "no-such-collection", [item])
        assert gc.isenabled()
        gc.disable()  # off before the call: stays off
        try:
            index_photos(eng, analyzer, rng, photos=1, first=10)
            assert not gc.isenabled()
        finally:
            gc.enable()
