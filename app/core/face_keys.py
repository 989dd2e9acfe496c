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

Photos are found by ImageId the same way (`image_keys`, `image_pk`): a UNIQUE ImageId index
dirtied a random page per photo.

Workspaces that had faces before schema 6 keep their UNIQUE indexes (meta 'face_lookup' absent) and
are searched through them; every caller goes through `face_pks` / `face_rows` / `image_pk`, which
know which kind of workspace it is.
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

# schema 6: the tables themselves (faces and images are re-created without their UNIQUE text
# indexes by schema.py). image_keys finds photos by ImageId the same way: a UNIQUE ImageId index
# dirtied a random page per photo.
CREATE_SQL = """
CREATE TABLE face_keys (
    collection_pk INTEGER NOT NULL,
    level INTEGER NOT NULL,
    key INTEGER NOT NULL,
    row_pk INTEGER NOT NULL,
    PRIMARY KEY (collection_pk, level, key, row_pk)
) WITHOUT ROWID;
CREATE TABLE image_keys (
    collection_pk INTEGER NOT NULL,
    level INTEGER NOT NULL,
    key INTEGER NOT NULL,
    row_pk INTEGER NOT NULL,
    PRIMARY KEY (collection_pk, level, key, row_pk)
) WITHOUT ROWID;
CREATE TRIGGER collections_deleted_keys AFTER DELETE ON collections
BEGIN
    DELETE FROM face_keys WHERE collection_pk = old.pk;
    DELETE FROM image_keys WHERE collection_pk = old.pk;
END;
"""
# key table -> (the table whose rows it finds, the id column it stands for)
_KINDS = {"face_keys": ("faces", "face_id"), "image_keys": ("images", "image_id")}


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
    return _pks(conn, "face_keys", collection_pk, face_ids)


def image_pk(conn: sqlite3.Connection, collection_pk: int, image_id: str) -> int | None:
    """The pk of the collection's stored photo with this ImageId, or None."""
    return _pks(conn, "image_keys", collection_pk, [image_id]).get(image_id)


def image_pks(conn: sqlite3.Connection, collection_pk: int, image_ids: Iterable[str]) -> dict[str, int]:
    """ImageId -> pk of the collection's stored photos among `image_ids` (ids not found are left out)."""
    return _pks(conn, "image_keys", collection_pk, image_ids)


def _pks(conn: sqlite3.Connection, table: str, collection_pk: int, ids: Iterable[str]) -> dict[str, int]:
    rows_table, id_column = _KINDS[table]
    wanted = list(dict.fromkeys(ids))
    found: dict[str, int] = {}
    if not wanted:
        return found
    if not uses_keys(conn):
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found.update(conn.execute(
                f"SELECT {id_column}, pk FROM {rows_table} WHERE collection_pk = ? "
                f"AND {id_column} IN ({','.join('?' * len(chunk))})", (collection_pk, *chunk)))
        return found
    wanted_set = set(wanted)
    keys = sorted({k for k in map(key_of, wanted) if k is not None})
    for start in range(0, len(keys), _CHUNK):
        key_chunk = keys[start : start + _CHUNK]
        # CROSS JOIN: probe the keys first, then each candidate row by primary key
        for text, pk in conn.execute(
            f"SELECT r.{id_column}, r.pk FROM {table} k CROSS JOIN {rows_table} r ON r.pk = k.row_pk "
            f"WHERE k.collection_pk = ? AND k.level IN ({_LEVEL_LIST}) AND k.key IN ({','.join('?' * len(key_chunk))}) "
            f"AND r.collection_pk = k.collection_pk",
            (collection_pk, *key_chunk),
        ):
            if text in wanted_set:  # the full id confirms the key (two ids may share 64 bits)
                found[text] = pk
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


def add(conn: sqlite3.Connection, collection_pk: int, faces: Iterable[tuple[str, int]], table: str = "face_keys") -> None:
    """Record new faces ((FaceId, pk) pairs; with table="image_keys", photos) in level 0, merging full levels on;
    in the caller's transaction."""
    if table not in _KINDS:
        raise ValueError(f"face_keys.add: no key table {table!r}")
    if not uses_keys(conn):
        return  # a pre-schema-6 workspace: its UNIQUE indexes already hold them
    rows = sorted((collection_pk, key_of(text), pk) for text, pk in faces)
    if not rows:
        return
    if any(r[1] is None for r in rows):
        raise ValueError("face_keys.add: an id that is not a UUID")
    conn.executemany(f"INSERT INTO {table}(collection_pk, level, key, row_pk) VALUES (?, 0, ?, ?)", rows)
    for level in range(LEVELS - 1):
        if level_size(conn, collection_pk, level, table) < LEVEL0_ENTRIES * GROWTH**level:
            break
        merge(conn, collection_pk, level, table)


def level_size(conn: sqlite3.Connection, collection_pk: int, level: int, table: str = "face_keys") -> int:
    return conn.execute(f"SELECT COUNT(*) FROM {_checked(table)} WHERE collection_pk = ? AND level = ?",
                        (collection_pk, level)).fetchone()[0]


def merge(conn: sqlite3.Connection, collection_pk: int, level: int, table: str = "face_keys") -> None:
    """Move every entry of `level` into the next level, in key order (one ordered pass over its pages)."""
    if not 0 <= level < LEVELS - 1:
        raise ValueError(f"face_keys.merge: no level after {level}")
    table = _checked(table)
    conn.execute(f"INSERT INTO {table}(collection_pk, level, key, row_pk) SELECT collection_pk, ?, key, row_pk "
                 f"FROM {table} WHERE collection_pk = ? AND level = ? ORDER BY key, row_pk",
                 (level + 1, collection_pk, level))
    conn.execute(f"DELETE FROM {table} WHERE collection_pk = ? AND level = ?", (collection_pk, level))


def remove(conn: sqlite3.Connection, collection_pk: int, faces: Iterable[tuple[str, int]], table: str = "face_keys") -> None:
    """Forget deleted faces ((FaceId, pk) pairs; or photos). Lookups never match a deleted row anyway; this keeps the space."""
    if not uses_keys(conn):
        return
    conn.executemany(f"DELETE FROM {_checked(table)} WHERE collection_pk = ? AND level IN ({_LEVEL_LIST}) AND key = ? "
                     f"AND row_pk = ?", [(collection_pk, key_of(text), pk) for text, pk in faces])


def _checked(table: str) -> str:
    if table not in _KINDS:
        raise ValueError(f"face_keys: no key table {table!r}")
    return table


def level_sizes(conn: sqlite3.Connection, collection_pk: int, table: str = "face_keys") -> list[int]:
    """Entries per level (for tests and reports)."""
    counts = dict(conn.execute(f"SELECT level, COUNT(*) FROM {_checked(table)} WHERE collection_pk = ? GROUP BY level",
                               (collection_pk,)).fetchall())
    return [counts.get(level, 0) for level in range(LEVELS)]
