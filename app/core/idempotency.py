"""ClientRequestToken handling: replay of the first response, mismatch detection.

Tokens live in the database per collection and operation, so they survive restarts; they are
kept for TOKEN_TTL_S (at least the 24 hours the semantics require) and purged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time

from . import journal
from .errors import IdempotentParameterMismatchException
from .records import get_collection

TOKEN_TTL_S = 7 * 24 * 3600


def request_digest(params: dict) -> str:
    """Digest of the request without its token (defaults already applied by the caller)."""
    body = {k: v for k, v in params.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def replay(conn: sqlite3.Connection, collection_pk: int, operation: str, token: str | None, digest: str):
    """The stored response for this token, None if the token is new.

    Same token with other parameters raises IdempotentParameterMismatchException.
    """
    if not token:
        return None
    row = conn.execute(
        "SELECT request_digest, response FROM client_tokens WHERE collection_pk=? AND operation=? AND token=?",
        (collection_pk, operation, token),
    ).fetchone()
    if row is None:
        return None
    if row[0] != digest:
        raise IdempotentParameterMismatchException(
            f"ClientRequestToken '{token}' was already used for a {operation} call with different parameters"
        )
    return json.loads(row[1])


def remember(conn: sqlite3.Connection, collection_pk: int, operation: str, token: str | None, digest: str,
             response: dict) -> None:
    if not token:
        return
    now = time.time()
    conn.execute("DELETE FROM client_tokens WHERE created_at < ?", (now - TOKEN_TTL_S,))
    conn.execute(
        "INSERT INTO client_tokens(collection_pk, operation, token, request_digest, response, created_at) VALUES (?,?,?,?,?,?)",
        (collection_pk, operation, token, digest, json.dumps(response), now),
    )


def idempotent_write(engine, operation: str, p: dict, body) -> dict:
    """Run `body(tx, collection) -> (response, journal_response or None)` as one write
    transaction with ClientRequestToken replay, remembering the token and journaling the call.

    `p` is the request with defaults applied: what the digest compares and the journal keeps.
    """
    token = p.get("ClientRequestToken")
    digest = request_digest(p)
    with engine.writing() as tx:
        coll = get_collection(tx.conn, p["CollectionId"])
        replayed = replay(tx.conn, coll.pk, operation, token, digest)
        if replayed is not None:
            return replayed
        response, journaled = body(tx, coll)
        remember(tx.conn, coll.pk, operation, token, digest, response)
        journal.record(tx.conn, operation, coll.collection_id, p, response if journaled is None else journaled,
                       coll.model_version)
    return response
