"""CreateUser, DeleteUser, ListUsers."""

from __future__ import annotations

import time

from . import idempotency
from .errors import ConflictException, InvalidPaginationTokenException
from .pagination import decode_token, encode_token
from .records import bump_generation, get_collection, get_user, user_status

DEFAULT_USER_PAGE_SIZE = 100  # ours: MaxResults absent


def create_user(engine, p: dict) -> dict:
    def body(tx, coll):
        exists = tx.conn.execute(
            "SELECT 1 FROM users WHERE collection_pk = ? AND user_id = ?", (coll.pk, p["UserId"])
        ).fetchone()
        if exists:
            raise ConflictException(f"The user id: {p['UserId']} already exists in the collection: {coll.collection_id}")
        tx.conn.execute(
            "INSERT INTO users(collection_pk, user_id, created_at) VALUES (?,?,?)", (coll.pk, p["UserId"], time.time())
        )
        return {}, None

    return idempotency.idempotent_write(engine, "CreateUser", p, body)


def delete_user(engine, p: dict) -> dict:
    """Disassociates the user's faces (they stay in the collection), then deletes the user."""

    def body(tx, coll):
        user = get_user(tx.conn, coll, p["UserId"])
        freed = [r[0] for r in tx.conn.execute("SELECT face_id FROM faces WHERE user_pk = ? ORDER BY pk", (user.pk,))]
        tx.conn.execute("UPDATE faces SET user_pk = NULL WHERE user_pk = ?", (user.pk,))
        tx.conn.execute("DELETE FROM users WHERE pk = ?", (user.pk,))
        bump_generation(tx.conn, coll)
        engine.after_write(tx, coll, lambda index: index.drop_user(user.pk))
        # the journal keeps which faces were freed, so an undo can put them back
        return {}, ({"DisassociatedFaceIds": freed} if freed else None)

    return idempotency.idempotent_write(engine, "DeleteUser", p, body)


def list_users(engine, p: dict) -> dict:
    """Users in creation order (ours: AWS leaves the order open)."""
    limit = p.get("MaxResults") or DEFAULT_USER_PAGE_SIZE
    secret = engine.store.meta("pagination_secret")
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        scope = ["ListUsers", coll.pk]
        after = decode_token(secret, p["NextToken"], scope) if p.get("NextToken") else 0
        if not isinstance(after, int):
            raise InvalidPaginationTokenException("Invalid pagination token")
        rows = conn.execute(
            "SELECT u.pk, u.user_id, (SELECT COUNT(*) FROM faces f WHERE f.user_pk = u.pk) "
            "FROM users u WHERE u.collection_pk = ? AND u.pk > ? ORDER BY u.pk LIMIT ?",
            (coll.pk, after, limit + 1),
        ).fetchall()
    response: dict[str, object] = {"Users": [{"UserId": uid, "UserStatus": user_status(n)} for _pk, uid, n in rows[:limit]]}
    if len(rows) > limit:
        response["NextToken"] = encode_token(secret, scope, rows[limit - 1][0])
    return response
