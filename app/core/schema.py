"""The workspace database schema and its migrations.

`MIGRATIONS[n]` takes a database at schema version n to n + 1; a new database runs them all.
Each migration runs inside the transaction that also bumps PRAGMA user_version, so a crash
mid-migration leaves the previous version intact. A migration is an SQL script or, where it must
look at the data first, a function of the open transaction's connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from . import face_keys

# PRAGMA application_id marks a database as ours ("REKU"); anything else is refused.
APPLICATION_ID = 0x52454B55
# Larger pages store the 512-byte descriptor BLOBs with far less waste (see design notes).
PAGE_SIZE = 16384

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE collections (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id TEXT NOT NULL UNIQUE,
    face_model_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    -- bumped by every write that changes faces or user membership: in-memory search
    -- indexes compare it to notice writes made by other processes
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE users (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (collection_pk, user_id)
);
CREATE TABLE images (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    sha256 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (collection_pk, image_id)
);
CREATE TABLE faces (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    face_id TEXT NOT NULL,
    image_pk INTEGER REFERENCES images(pk) ON DELETE SET NULL,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    bbox_width REAL NOT NULL,
    bbox_height REAL NOT NULL,
    bbox_left REAL NOT NULL,
    bbox_top REAL NOT NULL,
    confidence REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    model_version TEXT NOT NULL,
    descriptor BLOB NOT NULL,
    user_pk INTEGER REFERENCES users(pk),
    created_at REAL NOT NULL,
    UNIQUE (collection_pk, face_id)
);
CREATE INDEX faces_by_user ON faces (user_pk) WHERE user_pk IS NOT NULL;
CREATE TABLE client_tokens (
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    operation TEXT NOT NULL,
    token TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (collection_pk, operation, token)
);
CREATE INDEX client_tokens_by_age ON client_tokens (created_at);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    operation TEXT NOT NULL,
    collection_id TEXT,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    model_version TEXT
);
"""

# v2: what the curation window shows besides the API data: a JPEG crop per face, a downscaled
# preview per source photo, and "not this person" marks that keep a face out of a user's suggestions.
_V2 = """
CREATE TABLE face_thumbnails (
    face_pk INTEGER PRIMARY KEY REFERENCES faces(pk) ON DELETE CASCADE,
    jpeg BLOB NOT NULL
);
CREATE TABLE image_previews (
    image_pk INTEGER PRIMARY KEY REFERENCES images(pk) ON DELETE CASCADE,
    jpeg BLOB NOT NULL
);
CREATE TABLE rejections (
    user_pk INTEGER NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    face_pk INTEGER NOT NULL REFERENCES faces(pk) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    PRIMARY KEY (user_pk, face_pk)
);
"""

# v3: loading a collection's descriptors walks faces in rowid order instead of sorting them
# (the unique (collection_pk, face_id) index visits rows in random FaceId order).
_V3 = """
CREATE INDEX faces_by_collection ON faces (collection_pk);
"""

# v4: a log of what happened to existing faces (owner changes, deletions), written by triggers so
# that every write path records it. A process whose in-memory index is behind reads only the
# entries after the last one it saw (new faces are the rows above its largest rowid) instead of
# re-reading every face's owner. The log keeps its last FACE_CHANGES_KEPT entries; how far it was
# pruned is in meta('face_changes_floor'), and an index older than that reloads.
FACE_CHANGES_KEPT = 1_000_000
_V4 = f"""
CREATE TABLE face_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL,
    face_pk INTEGER NOT NULL,
    user_pk INTEGER NOT NULL  -- the face's owner after the change (0: none); -1: the face was deleted
);
CREATE INDEX face_changes_by_collection ON face_changes (collection_pk, seq);
CREATE TRIGGER faces_owner_changed AFTER UPDATE OF user_pk ON faces
WHEN old.user_pk IS NOT new.user_pk
BEGIN
    INSERT INTO face_changes(collection_pk, face_pk, user_pk)
    VALUES (new.collection_pk, new.pk, COALESCE(new.user_pk, 0));
END;
CREATE TRIGGER faces_deleted AFTER DELETE ON faces
BEGIN
    INSERT INTO face_changes(collection_pk, face_pk, user_pk) VALUES (old.collection_pk, old.pk, -1);
END;
CREATE TRIGGER collections_deleted AFTER DELETE ON collections
BEGIN
    DELETE FROM face_changes WHERE collection_pk = old.pk;
END;
CREATE TRIGGER face_changes_pruned AFTER INSERT ON face_changes
WHEN new.seq % 4096 = 0 AND new.seq > {FACE_CHANGES_KEPT}
BEGIN
    DELETE FROM face_changes WHERE seq <= new.seq - {FACE_CHANGES_KEPT};
    INSERT OR REPLACE INTO meta(key, value)
    VALUES ('face_changes_floor', CAST(new.seq - {FACE_CHANGES_KEPT} AS TEXT));
END;
"""

# v5 (people and groups): a display name and a cover face per user, and the anonymous
# groups of unassigned faces that ClusterFaces keeps (face_group_members.group_pk NULL: the face was
# looked at and left ungrouped; a face that gets a user keeps its row, so an undo puts it back).
_V5_PEOPLE_AND_GROUPS = """
CREATE TABLE people (
    user_pk INTEGER PRIMARY KEY REFERENCES users(pk) ON DELETE CASCADE,
    display_name TEXT,
    cover_face_pk INTEGER REFERENCES faces(pk) ON DELETE SET NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE face_groupings (
    collection_pk INTEGER PRIMARY KEY REFERENCES collections(pk) ON DELETE CASCADE,
    threshold REAL NOT NULL,
    algorithm TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE face_groups (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    user_pk INTEGER REFERENCES users(pk) ON DELETE SET NULL,
    created_at REAL NOT NULL,
    UNIQUE (collection_pk, group_id)
);
CREATE TABLE face_group_members (
    face_pk INTEGER PRIMARY KEY REFERENCES faces(pk) ON DELETE CASCADE,
    group_pk INTEGER REFERENCES face_groups(pk) ON DELETE CASCADE
);
CREATE INDEX face_group_members_by_group ON face_group_members (group_pk);
"""

# v6: FaceIds (and ImageIds) are found through face_keys (image_keys), log-structured indexes of
# 64-bit keys (face_keys.py), instead of the UNIQUE (collection_pk, face_id) and (collection_pk,
# image_id) indexes whose random pages slowed bulk indexing down as a collection grew. A workspace
# that holds no face and no photo yet gets both tables re-created without those indexes (same
# columns, other indexes and triggers; images gain an index by collection, which the UNIQUE index
# used to serve; sqlite_sequence keeps the last pks handed out, so pks are never reused); one that
# holds faces keeps its UNIQUE indexes and is searched through them.
_FACES_V6 = """
CREATE TABLE images (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    sha256 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX images_by_collection ON images (collection_pk);
CREATE TABLE faces (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES collections(pk) ON DELETE CASCADE,
    face_id TEXT NOT NULL,
    image_pk INTEGER REFERENCES images(pk) ON DELETE SET NULL,
    image_id TEXT NOT NULL,
    external_image_id TEXT,
    bbox_width REAL NOT NULL,
    bbox_height REAL NOT NULL,
    bbox_left REAL NOT NULL,
    bbox_top REAL NOT NULL,
    confidence REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    model_version TEXT NOT NULL,
    descriptor BLOB NOT NULL,
    user_pk INTEGER REFERENCES users(pk),
    created_at REAL NOT NULL
);
CREATE INDEX faces_by_user ON faces (user_pk) WHERE user_pk IS NOT NULL;
CREATE INDEX faces_by_collection ON faces (collection_pk);
"""
_FACES_TRIGGERS = _V4[_V4.index("CREATE TRIGGER faces_owner_changed"):_V4.index("CREATE TRIGGER collections_deleted")]


def _v6_face_keys(conn: sqlite3.Connection) -> None:
    for statement in script_statements(face_keys.CREATE_SQL):
        conn.execute(statement)
    if any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() for table in ("faces", "images")):
        return  # faces and photos stored before schema 6 keep the UNIQUE indexes that find them
    sequences = conn.execute("SELECT name, seq FROM sqlite_sequence WHERE name IN ('faces', 'images')").fetchall()
    conn.execute("DROP TABLE faces")  # both empty: no row of another table refers to them
    conn.execute("DROP TABLE images")
    for statement in script_statements(_FACES_V6 + _FACES_TRIGGERS):
        conn.execute(statement)
    conn.executemany("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)", sequences)
    conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (face_keys.META_KEY, face_keys.KEYS))


# v7: each collection's face count, so that opening a large collection checks its index file
# against the database without counting the faces (at 1e7 faces, cold, loading the index file took
# 2.13 s with a COUNT(*) beside it and 1.56 s without: bench_open_cold.py --count-ab). Deleting or moving a face is
# counted by triggers, on every write path; inserting is counted by the one statement that inserts
# faces (face_ops.store_analyzed), once per call: an AFTER INSERT trigger cost 7 µs a face, a fifth
# of the storage path (bench_engine.py --store-only, A/B).
_V7_FACE_COUNTS = """
ALTER TABLE collections ADD COLUMN face_count INTEGER NOT NULL DEFAULT 0;
UPDATE collections SET face_count = (SELECT COUNT(*) FROM faces WHERE faces.collection_pk = collections.pk);
CREATE TRIGGER faces_counted_out AFTER DELETE ON faces
BEGIN
    UPDATE collections SET face_count = face_count - 1 WHERE pk = old.collection_pk;
END;
CREATE TRIGGER faces_counted_moved AFTER UPDATE OF collection_pk ON faces
WHEN old.collection_pk IS NOT new.collection_pk
BEGIN
    UPDATE collections SET face_count = face_count - 1 WHERE pk = old.collection_pk;
    UPDATE collections SET face_count = face_count + 1 WHERE pk = new.collection_pk;
END;
"""


def script_statements(script: str) -> list[str]:
    """The SQL statements of a migration script (a trigger's body holds semicolons of its own)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in a migration: {pending.strip()[:80]}")
    return statements


def run_migration(conn: sqlite3.Connection, step: int) -> None:
    """Take the database from schema `step` to `step + 1`, in the caller's transaction."""
    migration = MIGRATIONS[step]
    if callable(migration):
        migration(conn)
        return
    for statement in script_statements(migration):
        conn.execute(statement)


MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    _V1, _V2, _V3, _V4, _V5_PEOPLE_AND_GROUPS, _v6_face_keys, _V7_FACE_COUNTS]
SCHEMA_VERSION = len(MIGRATIONS)
