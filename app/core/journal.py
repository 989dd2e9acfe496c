"""The operations journal: every write operation with its request and response.

Entries are written inside the operation's own transaction, so the journal never claims a
change the database does not hold. The GUI's undo and the JSON reports read it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

import orjson

_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


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


def encode(value) -> str:
    """JSON text of a journal request or response, keys sorted.

    orjson writes it 4x faster than json (the journal's JSON was the bulk storage path's largest
    Python cost) and reads back the same; what orjson refuses (an int beyond 64 bits, a type it
    does not know) goes through json as before. A non-finite float, which no response holds and
    JSON cannot spell, comes out as null.
    """
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True)


_INSERT = "INSERT INTO journal(time, operation, collection_id, request, response, model_version) VALUES (?,?,?,?,?,?)"


def entry_row(operation: str, collection_id: str | None, request: dict, response: dict,
              model_version: str | None) -> tuple:
    """One journal row, for `record_many`."""
    return (time.time(), operation, collection_id, encode(without_bytes(request)), encode(response), model_version)


def record(conn: sqlite3.Connection, operation: str, collection_id: str | None, request: dict, response: dict,
           model_version: str | None) -> int:
    cur = conn.execute(_INSERT, entry_row(operation, collection_id, request, response, model_version))
    assert cur.lastrowid is not None  # an INSERT into a rowid table
    return cur.lastrowid


def record_many(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    """Write `entry_row` rows in their order (the bulk storage path: one statement a batch)."""
    conn.executemany(_INSERT, rows)


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
