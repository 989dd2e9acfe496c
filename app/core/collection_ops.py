"""CreateCollection, DeleteCollection, DescribeCollection, ListCollections."""

from __future__ import annotations

import json
import sqlite3
import time

from . import erasure, journal
from .errors import ResourceAlreadyExistsException
from .pagination import decode_token, encode_token
from .records import get_collection
from .store import BUSY_TIMEOUT_MS

DEFAULT_PAGE_SIZE = 1000  # ours: MaxResults absent or 0


def create_collection(engine, p: dict) -> dict:
    collection_id = p["CollectionId"]
    model = engine.face_model_version
    with engine.writing() as tx:
        try:
            cur = tx.conn.execute(
                "INSERT INTO collections(collection_id, face_model_version, created_at, tags) VALUES (?,?,?,?)",
                (collection_id, model, time.time(), json.dumps(p.get("Tags") or {}, sort_keys=True)),
            )
        except sqlite3.IntegrityError:
            raise ResourceAlreadyExistsException(f"The collection id: {collection_id} already exists") from None
        row = get_collection(tx.conn, collection_id)
        assert row.pk == cur.lastrowid
        response = {"StatusCode": 200, "CollectionArn": row.arn, "FaceModelVersion": model}
        journal.record(tx.conn, "CreateCollection", collection_id, p, response, model)
    return response


def delete_collection(engine, p: dict) -> dict:
    collection_id = p["CollectionId"]
    with engine.writing() as tx:
        row = get_collection(tx.conn, collection_id)
        erasure.start_erasing(tx.conn)  # freed space zeroed, not left behind (see erasure.py)
        # faces reference users and images; delete children first so no foreign key dangles. Crops,
        # previews, marks, users and tokens go by cascade; the photos are deleted by name, so a
        # collection's photos never outlive it even where foreign keys were off
        tx.conn.execute("DELETE FROM faces WHERE collection_pk = ?", (row.pk,))
        tx.conn.execute("DELETE FROM images WHERE collection_pk = ?", (row.pk,))
        tx.conn.execute("DELETE FROM collections WHERE pk = ?", (row.pk,))
        response = {"StatusCode": 200}
        journal.record(tx.conn, "DeleteCollection", collection_id, p, response, row.model_version)
        tx.on_commit.append(lambda: engine.forget_index(row.pk))
        tx.on_commit.append(lambda: erasure.scrub_log(tx.conn, BUSY_TIMEOUT_MS))
    return response


def describe_collection(engine, p: dict) -> dict:
    with engine.store.read() as conn:
        row = get_collection(conn, p["CollectionId"])
        faces = conn.execute("SELECT face_count FROM collections WHERE pk = ?", (row.pk,)).fetchone()[0]  # schema 7
        users = conn.execute("SELECT COUNT(*) FROM users WHERE collection_pk = ?", (row.pk,)).fetchone()[0]
    return {
        "FaceCount": faces,
        "FaceModelVersion": row.model_version,
        "CollectionARN": row.arn,
        "CreationTimestamp": row.created_at,
        "UserCount": users,
    }


def list_collections(engine, p: dict) -> dict:
    limit = p.get("MaxResults") or DEFAULT_PAGE_SIZE
    secret = engine.store.meta("pagination_secret")
    scope = ["ListCollections"]
    after = decode_token(secret, p["NextToken"], scope) if p.get("NextToken") else ""
    with engine.store.read() as conn:
        rows = conn.execute(
            "SELECT collection_id, face_model_version FROM collections WHERE collection_id > ? ORDER BY collection_id LIMIT ?",
            (after, limit + 1),
        ).fetchall()
    response: dict[str, object] = {"CollectionIds": [r[0] for r in rows[:limit]],
                                   "FaceModelVersions": [r[1] for r in rows[:limit]]}
    if len(rows) > limit:
        response["NextToken"] = encode_token(secret, scope, rows[limit - 1][0])
    return response
