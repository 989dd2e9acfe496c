"""Finding faces by FaceId: a log-structured index of 64-bit keys (schema 6).

A UNIQUE index on the 36-character FaceId text puts every new face on a random page of a large
B-tree; once that index outgrows a transaction, each face dirties one 16 KiB page of it, and the
storage path slows down as the collection grows. Workspaces created at schema 6 have no index on
`faces.face_id`. Instead `face_keys` holds (collection, level, key, face pk), where the key is the
first 64 bits of the FaceId (a UUID) as a signed integer. New faces go into level 0, which stays
small (LEVEL0_ENTRIES); a full level is merged, in key order, into the next one, which may hold
GROWTH times as many before it moves on in turn; the last level takes whatever comes. Each insert
touches a few pages of level 0, and each merge walks its target level once, in order, so the pages
written per face stay about flat from thousands to tens of millions of faces.

A lookup probes every level for the key and confirms the full FaceId on the faces row, so a
key shared by two FaceIds (unlikely, n^2 / 2^65 for n faces, but possible) is told apart, and an
entry whose face was deleted never matches. FaceIds are unique because they are derived from
their image's identity and place, and the storage path only inserts faces it did not find here.

Workspaces that had faces before schema 6 keep their UNIQUE index (meta 'face_lookup' absent) and
are searched through it; every caller goes through `face_pks`, which knows which kind it has.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

LEVEL0_ENTRIES = 8192  # level 0 merges on when it holds this many entries
GROWTH = 16  # level n may hold LEVEL0_ENTRIES * GROWTH**n entries before it merges on
LEVELS = 5  # levels 0..4; the last one is never merged on
_LEVEL_LIST = ",".join(str(level) for level in range(LEVELS))
_CHUNK = 400  # FaceIds per statement: stays under SQLite's bound-parameter limit

META_KEY = "face_lookup"
KEYS = "keys"  # meta('face_lookup') of a workspace looked up through face_keys

# schema 6: the table itself (the faces table is rebuilt without its UNIQUE index by schema.py)
CREATE_SQL = """
CREATE TABLE face_keys (
    collection_pk INTEGER NOT NULL,
    level INTEGER NOT NULL,
    key INTEGER NOT NULL,
    face_pk INTEGER NOT NULL,
    PRIMARY KEY (collection_pk, level, key, face_pk)
) WITHOUT ROWID;
CREATE TRIGGER collections_deleted_face_keys AFTER DELETE ON collections
BEGIN
    DELETE FROM face_keys WHERE collection_pk = old.pk;
END;
"""


def key_of(face_id: str) -> int | None:
    """The FaceId's first 64 bits as a signed integer; None for text that cannot be a FaceId.

    Only the key is read here: a lookup confirms the whole text on the faces row, so text that
    merely parses (other case, stray characters) finds nothing, as with a text index.
    """
    if not isinstance(face_id, str) or len(face_id) != 36:
        return None
    try:
        value = int(face_id[:8] + face_id[9:13] + face_id[14:18], 16)
    except ValueError:
        return None
    if not 0 <= value < 1 << 64:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def uses_keys(conn: sqlite3.Connection) -> bool:
    """Whether this workspace finds faces through face_keys (created at schema 6 or later)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    return row is not None and row[0] == KEYS


def face_pks(conn: sqlite3.Connection, collection_pk: int, face_ids: Iterable[str]) -> dict[str, int]:
    """FaceId -> pk of the collection's faces among `face_ids` (ids not found are left out)."""
    wanted = list(dict.fromkeys(face_ids))
    found: dict[str, int] = {}
    if not wanted:
        return found
    if not uses_keys(conn):
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found.update(conn.execute(
                f"SELECT face_id, pk FROM faces WHERE collection_pk = ? AND face_id IN ({','.join('?' * len(chunk))})",
                (collection_pk, *chunk)))
        return found
    wanted_set = set(wanted)
    keys = sorted({k for k in map(key_of, wanted) if k is not None})
    for start in range(0, len(keys), _CHUNK):
        key_chunk = keys[start : start + _CHUNK]
        # CROSS JOIN: probe face_keys first, then each candidate face by primary key
        for fid, pk in conn.execute(
            f"SELECT f.face_id, f.pk FROM face_keys k CROSS JOIN faces f ON f.pk = k.face_pk "
            f"WHERE k.collection_pk = ? AND k.level IN ({_LEVEL_LIST}) AND k.key IN ({','.join('?' * len(key_chunk))}) "
            f"AND f.collection_pk = k.collection_pk",
            (collection_pk, *key_chunk),
        ):
            if fid in wanted_set:  # the full FaceId confirms the key (two FaceIds may share 64 bits)
                found[fid] = pk
    return found


def face_rows(conn: sqlite3.Connection, collection_pk: int, face_ids: Iterable[str], columns: str,
              joins: str = "") -> dict[str, tuple]:
    """FaceId -> the row of `columns` (SQL over `faces f` and `joins`) for the collection's faces among `face_ids`."""
    by_pk = {pk: fid for fid, pk in face_pks(conn, collection_pk, face_ids).items()}
    pks, out = list(by_pk), {}
    for start in range(0, len(pks), _CHUNK):
        chunk = pks[start : start + _CHUNK]
        for pk, *row in conn.execute(f"SELECT f.pk, {columns} FROM faces f {joins} "
                                     f"WHERE f.pk IN ({','.join('?' * len(chunk))})", chunk):
            out[by_pk[pk]] = tuple(row)
    return out


def add(conn: sqlite3.Connection, collection_pk: int, faces: Iterable[tuple[str, int]]) -> None:
    """Record new faces ((FaceId, pk) pairs) in level 0, merging full levels on; in the caller's transaction."""
    if not uses_keys(conn):
        return  # a pre-schema-6 workspace: its UNIQUE index already holds them
    rows = sorted((collection_pk, key_of(fid), pk) for fid, pk in faces)
    if not rows:
        return
    if any(r[1] is None for r in rows):
        raise ValueError("face_keys.add: a FaceId that is not a UUID")
    conn.executemany("INSERT INTO face_keys(collection_pk, level, key, face_pk) VALUES (?, 0, ?, ?)", rows)
    for level in range(LEVELS - 1):
        if level_size(conn, collection_pk, level) < LEVEL0_ENTRIES * GROWTH**level:
            break
        merge(conn, collection_pk, level)


def level_size(conn: sqlite3.Connection, collection_pk: int, level: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM face_keys WHERE collection_pk = ? AND level = ?",
                        (collection_pk, level)).fetchone()[0]


def merge(conn: sqlite3.Connection, collection_pk: int, level: int) -> None:
    """Move every entry of `level` into the next level, in key order (one ordered pass over its pages)."""
    if not 0 <= level < LEVELS - 1:
        raise ValueError(f"face_keys.merge: no level after {level}")
    conn.execute("INSERT INTO face_keys(collection_pk, level, key, face_pk) SELECT collection_pk, ?, key, face_pk "
                 "FROM face_keys WHERE collection_pk = ? AND level = ? ORDER BY key, face_pk",
                 (level + 1, collection_pk, level))
    conn.execute("DELETE FROM face_keys WHERE collection_pk = ? AND level = ?", (collection_pk, level))


def remove(conn: sqlite3.Connection, collection_pk: int, faces: Iterable[tuple[str, int]]) -> None:
    """Forget deleted faces ((FaceId, pk) pairs). Lookups never match a deleted face anyway; this keeps the space."""
    if not uses_keys(conn):
        return
    conn.executemany(f"DELETE FROM face_keys WHERE collection_pk = ? AND level IN ({_LEVEL_LIST}) AND key = ? "
                     f"AND face_pk = ?", [(collection_pk, key_of(fid), pk) for fid, pk in faces])


def level_sizes(conn: sqlite3.Connection, collection_pk: int) -> list[int]:
    """Entries per level (for tests and reports)."""
    counts = dict(conn.execute("SELECT level, COUNT(*) FROM face_keys WHERE collection_pk = ? GROUP BY level",
                               (collection_pk,)).fetchall())
    return [counts.get(level, 0) for level in range(LEVELS)]
