"""The operations journal: every write operation with its request and response.

Entries are written inside the operation's own transaction, so the journal never claims a
change the database does not hold. The GUI's undo and the JSON reports read it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time


def without_bytes(value):
    """Requests are stored without image bytes: a digest and size stand in for them."""
    if isinstance(value, dict):
        return {k: without_bytes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_bytes(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return {"Sha256": hashlib.sha256(data).hexdigest(), "Size": len(data)}
    return value


def record(conn: sqlite3.Connection, operation: str, collection_id: str | None, request: dict, response: dict,
           model_version: str | None) -> int:
    cur = conn.execute(
        "INSERT INTO journal(time, operation, collection_id, request, response, model_version) VALUES (?,?,?,?,?,?)",
        (time.time(), operation, collection_id, json.dumps(without_bytes(request), sort_keys=True),
         json.dumps(response, sort_keys=True), model_version),
    )
    assert cur.lastrowid is not None  # an INSERT into a rowid table
    return cur.lastrowid


def entries(conn: sqlite3.Connection, after_seq: int = 0, collection_id: str | None = None,
            limit: int | None = None) -> list[dict]:
    sql = "SELECT seq, time, operation, collection_id, request, response, model_version FROM journal WHERE seq > ?"
    args: list = [after_seq]
    if collection_id is not None:
        sql += " AND collection_id = ?"
        args.append(collection_id)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [
        {"Seq": seq, "Time": t, "Operation": op, "CollectionId": cid, "Request": json.loads(req),
         "Response": json.loads(resp), "FaceModelVersion": mv}
        for seq, t, op, cid, req, resp, mv in conn.execute(sql, args)
    ]
