"""Erasing faces: what goes with them, and making sure it is gone from the database file.

A face is its row in `faces` (with its descriptor), its crop (`face_thumbnails`, cascaded) and its
"not this person" marks (`rejections`, cascaded). The photo it came from (`images` and its
downscaled `image_previews`) is kept only while some face of the collection still comes from it:
the transaction that deletes the last such face deletes the photo too.

Deleted rows must not linger in the file: the erasing transaction runs with `secure_delete` on, so
SQLite overwrites the freed space (and freed pages) with zeros instead of leaving the old bytes on
free pages, and after it commits a `TRUNCATE` checkpoint copies the zeroed pages into the database
file and empties the write-ahead log, which would otherwise keep the last copies of those pages
until it is reused. The checkpoint is best effort: while another connection is reading it cannot
finish, and the log is emptied by the next checkpoint instead. VACUUM is not run: it rewrites the
whole file (slow on a large workspace, and it needs every other connection idle), and with
secure_delete there is nothing left in the free pages for it to remove; the file keeps its size
and reuses the freed pages.
"""

from __future__ import annotations

import sqlite3

from . import face_keys

CHECKPOINT_BUSY_MS = 1000  # how long the checkpoint waits for readers before leaving it to the next one


def start_erasing(conn: sqlite3.Connection) -> None:
    """Call inside the erasing transaction, before its DELETEs: freed space is zeroed, not left behind."""
    conn.execute("PRAGMA secure_delete=ON")


def drop_unneeded_images(conn: sqlite3.Connection, image_pks) -> int:
    """Delete the photos among `image_pks` that no face refers to any more (previews cascade); how many."""
    pks = sorted({pk for pk in image_pks if pk is not None})
    dropped: dict[int, list[tuple[str, int]]] = {}  # collection pk -> (ImageId, pk) of the photos deleted
    for start in range(0, len(pks), 500):  # stay under SQLite's bound-parameter limit
        chunk = pks[start : start + 500]
        for collection_pk, pk, image_id in conn.execute(
                f"DELETE FROM images WHERE pk IN ({','.join('?' * len(chunk))}) "
                "AND NOT EXISTS (SELECT 1 FROM faces WHERE faces.image_pk = images.pk) "
                "RETURNING collection_pk, pk, image_id", chunk).fetchall():
            dropped.setdefault(collection_pk, []).append((image_id, pk))
    for collection_pk, images in dropped.items():
        face_keys.remove(conn, collection_pk, images, "image_keys")
    return sum(len(images) for images in dropped.values())


def scrub_log(conn: sqlite3.Connection, busy_timeout_ms: int) -> bool:
    """After the erasing commit: copy the log into the file and empty it; True when it finished."""
    try:
        conn.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return busy == 0
