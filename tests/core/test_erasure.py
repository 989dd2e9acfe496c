"""Erased means erased: deleting faces takes their photo, crops and descriptors out of the database file.

Checked on the file itself: no image row or preview without a face that needs it, and the bytes of
the deleted photo, crop and descriptor are found neither in the database file nor in its
write-ahead log once the call returns.
"""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from app.core.workspace import database_path

from .fakes import analyzed_face, face_of, identity_centres


def marker(name: str) -> bytes:
    """Bytes that occur nowhere else: a photo preview or a crop we can look for in the file."""
    return (f"<{name}>" * 2000).encode()  # 20-40 KB: stored on overflow pages, as real JPEGs are


class DiskBytes(bytes):
    """The database file and its log; `x in it` looks for the first 60 bytes of x: a long value spans
    several pages, so it is not stored in one piece, and any trace of a marker counts."""

    def __contains__(self, value) -> bool:
        return bytes.__contains__(self, bytes(value)[:60])


def disk_bytes(workspace) -> DiskBytes:
    path = database_path(workspace)
    wal = path.with_name(path.name + "-wal")
    return DiskBytes(path.read_bytes() + (wal.read_bytes() if wal.exists() else b""))


def rows(workspace, sql: str):
    conn = sqlite3.connect(database_path(workspace))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def orphans(workspace) -> dict:
    return {
        "images without a face": rows(workspace, "SELECT pk FROM images i WHERE NOT EXISTS "
                                                  "(SELECT 1 FROM faces f WHERE f.image_pk = i.pk)"),
        "previews without an image": rows(workspace, "SELECT image_pk FROM image_previews p WHERE NOT EXISTS "
                                                     "(SELECT 1 FROM images i WHERE i.pk = p.image_pk)"),
        "crops without a face": rows(workspace, "SELECT face_pk FROM face_thumbnails t WHERE NOT EXISTS "
                                                "(SELECT 1 FROM faces f WHERE f.pk = t.face_pk)"),
    }


def no_orphans(workspace) -> bool:
    return not any(orphans(workspace).values())


def index_photo(engine, analyzer, rng, name: str, faces: int = 1) -> tuple[list[str], list[bytes]]:
    """Index a photo with `faces` faces, each with its own crop; its FaceIds and the markers stored."""
    centres = identity_centres(faces, seed=hash(name) % 1000)
    crops = [marker(f"crop {name} {k}") for k in range(faces)]
    found = [dataclasses.replace(analyzed_face(face_of(c, rng), left=0.05 + 0.3 * k, size=0.25), thumbnail=crop)
             for k, (c, crop) in enumerate(zip(centres, crops, strict=True))]
    preview = marker(f"photo {name}")
    data = analyzer.register(name.encode(), found, preview=preview)
    out = engine.index_faces(CollectionId="c", Image={"Bytes": data}, ExternalImageId=name)
    return [r["Face"]["FaceId"] for r in out["FaceRecords"]], [preview, *crops]


@pytest.fixture
def coll(engine):
    engine.create_collection(CollectionId="c")
    return engine


def test_deleting_a_photos_faces_deletes_the_photo_crops_and_descriptors(coll, analyzer, rng):
    engine, ws = coll, coll.workspace
    keep_ids, keep_bytes = index_photo(engine, analyzer, rng, "kept.jpg")
    gone_ids, gone_bytes = index_photo(engine, analyzer, rng, "gone.jpg", faces=2)
    descriptors = {r[0]: r[1] for r in rows(ws, "SELECT face_id, descriptor FROM faces")}
    assert all(m in disk_bytes(ws) for m in keep_bytes + gone_bytes)

    # one face of the photo goes: the photo stays for the other, the crop of the deleted one goes
    engine.delete_faces(CollectionId="c", FaceIds=gone_ids[:1])
    assert len(rows(ws, "SELECT pk FROM images")) == 2 and no_orphans(ws)
    on_disk = disk_bytes(ws)
    assert gone_bytes[0] in on_disk and gone_bytes[2] in on_disk  # the photo and the remaining crop
    assert gone_bytes[1] not in on_disk and descriptors[gone_ids[0]] not in on_disk

    # the last face goes: so do the photo and its preview, in the same call
    engine.delete_faces(CollectionId="c", FaceIds=gone_ids[1:])
    assert rows(ws, "SELECT external_image_id FROM images") == [("kept.jpg",)]
    assert len(rows(ws, "SELECT image_pk FROM image_previews")) == 1 and no_orphans(ws)
    on_disk = disk_bytes(ws)
    for gone in gone_bytes + [descriptors[f] for f in gone_ids]:
        assert gone not in on_disk
    for kept in keep_bytes + [descriptors[keep_ids[0]]]:
        assert kept in on_disk
    assert rows(ws, "PRAGMA integrity_check") == [("ok",)] and rows(ws, "PRAGMA foreign_key_check") == []


def test_a_face_on_a_user_is_not_deleted_and_keeps_its_photo(coll, analyzer, rng):
    engine, ws = coll, coll.workspace
    ids, stored = index_photo(engine, analyzer, rng, "owned.jpg")
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids)
    r = engine.delete_faces(CollectionId="c", FaceIds=ids)
    assert r["DeletedFaces"] == [] and len(rows(ws, "SELECT pk FROM images")) == 1
    assert all(m in disk_bytes(ws) for m in stored)


def test_a_photo_without_an_indexed_face_is_not_kept(coll, analyzer, rng):
    ws = coll.workspace
    tiny = analyzed_face(face_of(identity_centres(1)[0], rng), size=0.01)  # too small for QualityFilter AUTO
    data = analyzer.register(b"nobody.jpg", [tiny], preview=marker("photo nobody"))
    out = coll.index_faces(CollectionId="c", Image={"Bytes": data}, ExternalImageId="nobody.jpg")
    assert out["FaceRecords"] == [] and out["UnindexedFaces"]
    assert rows(ws, "SELECT pk FROM images") == [] and marker("photo nobody") not in disk_bytes(ws)


def test_deleting_a_collection_leaves_nothing_of_its_faces(coll, analyzer, rng):
    engine, ws = coll, coll.workspace
    engine.create_collection(CollectionId="other")
    other = analyzer.register(b"other.jpg", [dataclasses.replace(analyzed_face(identity_centres(1, 9)[0]),
                                                                  thumbnail=marker("crop other"))],
                              preview=marker("photo other"))
    engine.index_faces(CollectionId="other", Image={"Bytes": other}, ExternalImageId="other.jpg")
    ids, stored = index_photo(engine, analyzer, rng, "group.jpg", faces=3)
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[:1])
    descriptors = [r[0] for r in rows(ws, "SELECT descriptor FROM faces f JOIN collections c ON c.pk = f.collection_pk "
                                          "WHERE c.collection_id = 'c'")]
    engine.delete_collection(CollectionId="c")
    for table in ("faces", "images", "image_previews", "face_thumbnails", "users"):
        assert len(rows(ws, f"SELECT * FROM {table}")) == (0 if table == "users" else 1), table
    on_disk = disk_bytes(ws)
    assert not any(m in on_disk for m in stored + descriptors)
    assert marker("photo other") in on_disk and marker("crop other") in on_disk and no_orphans(ws)


def test_erasing_while_another_connection_reads_still_erases_the_rows(coll, analyzer, rng):
    # the log cannot be emptied while a reader holds a snapshot: the rows are gone all the same, and
    # the next checkpoint (here: the next erasing call once the reader is done) empties it
    engine, ws = coll, coll.workspace
    ids, stored = index_photo(engine, analyzer, rng, "busy.jpg")
    later, _ = index_photo(engine, analyzer, rng, "later.jpg")
    reader = sqlite3.connect(database_path(ws))
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM faces").fetchone()
    try:
        engine.delete_faces(CollectionId="c", FaceIds=ids)
        assert rows(ws, "SELECT external_image_id FROM images") == [("later.jpg",)] and no_orphans(ws)
    finally:
        reader.rollback()
        reader.close()
    engine.delete_faces(CollectionId="c", FaceIds=later)
    assert not any(m in disk_bytes(ws) for m in stored)
