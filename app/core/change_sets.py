"""Change sets: what a curation write changed, so a view can update in place and undo can invert it.

A change set is a dict with AWS-style member names:

    {"CollectionId": "c",
     "FaceChanges": [{"FaceId": "...", "FromUserId": "alice", "ToUserId": "bob"}, ...],
     "UserChanges": [{"UserId": "bob", "Change": "UPDATE", "FaceCount": 12, "UserStatus": "ACTIVE"}, ...]}

FromUserId / ToUserId are absent for "no user". A user's Change is CREATE, DELETE or UPDATE
(its faces changed); FaceCount and UserStatus are the values after the write (absent for DELETE).

`inverse` turns a change set into the ApplyChangeSet request that takes it back, and
`apply_change_set` applies such a request in one transaction, checking first that every face is
still where the change set says it is; nothing is written unless all of it can be.
"""

from __future__ import annotations

import sqlite3
import time

from . import face_keys, idempotency, people
from .association_plan import MAX_FACES_PER_USER
from .errors import ConflictException, InvalidParameterException, ResourceNotFoundException
from .records import CollectionRow, bump_generation, user_status

CREATE, DELETE, UPDATE = "CREATE", "DELETE", "UPDATE"
PURPOSES = ("UNDO", "REDO")


def face_change(face_id: str, from_user: str | None, to_user: str | None) -> dict:
    change: dict = {"FaceId": face_id}
    if from_user is not None:
        change["FromUserId"] = from_user
    if to_user is not None:
        change["ToUserId"] = to_user
    return change


def build(conn: sqlite3.Connection, coll: CollectionRow, face_changes: list[dict], created: tuple[str, ...] | list[str] = (),
          deleted: tuple[str, ...] | list[str] = (), metadata: dict[str, dict] | None = None) -> dict:
    """The change set of a write, with each touched user's face count read after the write. `metadata`:
    the DisplayName and CoverFaceId of the users the write deleted (people.saved_metadata, read before),
    kept on their DELETE entries so that the inverse re-creates the person whole."""
    touched = list(dict.fromkeys([*created,
                                  *(u for c in face_changes for u in (c.get("FromUserId"), c.get("ToUserId")) if u),
                                  *deleted]))
    users = []
    for user_id in touched:
        if user_id in deleted:
            users.append({"UserId": user_id, "Change": DELETE, **(metadata or {}).get(user_id, {})})
            continue
        row = conn.execute("SELECT pk FROM users WHERE collection_pk = ? AND user_id = ?", (coll.pk, user_id)).fetchone()
        if row is None:  # deleted by this write without being listed: report it as such
            users.append({"UserId": user_id, "Change": DELETE})
            continue
        count = conn.execute("SELECT COUNT(*) FROM faces WHERE user_pk = ?", (row[0],)).fetchone()[0]
        users.append({"UserId": user_id, "Change": CREATE if user_id in created else UPDATE, "FaceCount": count,
                      "UserStatus": user_status(count)})
    return {"CollectionId": coll.collection_id, "FaceChanges": face_changes, "UserChanges": users}


def inverse(change_set: dict, purpose: str = "UNDO") -> dict:
    """The ApplyChangeSet request that takes `change_set` back (purpose UNDO), or re-applies the
    inverse of an undo (purpose REDO, given the undo's own change set)."""
    faces = [face_change(c["FaceId"], c.get("ToUserId"), c.get("FromUserId")) for c in change_set["FaceChanges"]]
    flip = {CREATE: DELETE, DELETE: CREATE}
    users = []
    for u in change_set["UserChanges"]:
        if u["Change"] in flip:
            # a deleted person comes back with its name and cover
            kept = {k: u[k] for k in ("DisplayName", "CoverFaceId") if k in u and u["Change"] == DELETE}
            users.append({"UserId": u["UserId"], "Change": flip[u["Change"]], **kept})
    request: dict = {"CollectionId": change_set["CollectionId"], "FaceChanges": faces, "Purpose": purpose}
    if users:
        request["UserChanges"] = users
    return request


def _user_pks(conn: sqlite3.Connection, coll: CollectionRow, user_ids) -> dict[str, int]:
    out = {}
    for uid in set(user_ids):
        row = conn.execute("SELECT pk FROM users WHERE collection_pk = ? AND user_id = ?", (coll.pk, uid)).fetchone()
        if row is not None:
            out[uid] = row[0]
    return out


def apply_change_set(engine, p: dict) -> dict:
    """ApplyChangeSet (ours): create users, move faces between users, delete users, all in one transaction.

    Every face must exist and be on FromUserId (no user when absent) right now, every ToUserId
    must exist (or be created by this request), no user may end above 100 faces, and a user to
    delete must end with no face; otherwise ConflictException (the workspace changed since the
    change set was made) or InvalidParameterException, and nothing is written.
    """
    changes = p.get("FaceChanges", [])
    user_changes = p.get("UserChanges", [])
    ids = [c["FaceId"] for c in changes]
    if len(set(ids)) != len(ids):
        raise InvalidParameterException("ApplyChangeSet: FaceChanges lists a FaceId more than once")
    to_create = [u["UserId"] for u in user_changes if u["Change"] == CREATE]
    saved = {u["UserId"]: {k: u[k] for k in ("DisplayName", "CoverFaceId") if k in u}
             for u in user_changes if u["Change"] == CREATE}
    for kept in saved.values():
        if "DisplayName" in kept:
            people.check_display_name(kept["DisplayName"])
    to_delete = [u["UserId"] for u in user_changes if u["Change"] == DELETE]
    if set(to_create) & set(to_delete) or len(set(to_create)) != len(to_create) or len(set(to_delete)) != len(to_delete):
        raise InvalidParameterException("ApplyChangeSet: a UserId is listed twice in UserChanges")

    def body(tx, coll):
        conn = tx.conn
        existing = _user_pks(conn, coll, [*to_create, *to_delete,
                                          *(u for c in changes for u in (c.get("FromUserId"), c.get("ToUserId")) if u)])
        clash = [u for u in to_create if u in existing]
        if clash:
            raise ConflictException(f"Cannot create user {', '.join(clash)}: it already exists in {coll.collection_id}")
        gone = [u for u in to_delete if u not in existing]
        if gone:
            raise ResourceNotFoundException(f"The user id: {gone[0]} does not exist in the collection: {coll.collection_id}")
        now = time.time()
        for uid in to_create:
            cur = conn.execute("INSERT INTO users(collection_pk, user_id, created_at) VALUES (?,?,?)", (coll.pk, uid, now))
            existing[uid] = cur.lastrowid
        missing_users = [u for c in changes for u in (c.get("FromUserId"), c.get("ToUserId")) if u and u not in existing]
        if missing_users:
            raise ResourceNotFoundException(
                f"The user id: {missing_users[0]} does not exist in the collection: {coll.collection_id}")
        rows = face_keys.face_rows(conn, coll.pk, ids, "f.pk, f.user_pk")
        not_found = [fid for fid in ids if fid not in rows]
        if not_found:
            raise ConflictException(f"{len(not_found)} of the faces no longer exist in {coll.collection_id}: "
                                    f"{', '.join(not_found[:5])}")
        moved = [c for c in changes if rows[c["FaceId"]][1] != existing.get(c.get("FromUserId"))]
        if moved:
            raise ConflictException(f"{len(moved)} of the faces are no longer where this change expects them "
                                    f"(changed meanwhile): {', '.join(c['FaceId'] for c in moved[:5])}")
        updates = [(existing[c["ToUserId"]] if c.get("ToUserId") else None, rows[c["FaceId"]][0]) for c in changes]
        conn.executemany("UPDATE faces SET user_pk = ? WHERE pk = ?", updates)
        for uid in {c["ToUserId"] for c in changes if c.get("ToUserId")}:
            n = conn.execute("SELECT COUNT(*) FROM faces WHERE user_pk = ?", (existing[uid],)).fetchone()[0]
            if n > MAX_FACES_PER_USER:
                raise ConflictException(f"User {uid} would hold {n} faces, more than {MAX_FACES_PER_USER}")
        for uid in to_create:
            people.restore_metadata(conn, coll.pk, existing[uid], saved[uid])
        deleted_metadata = people.saved_metadata(conn, coll.pk, {uid: existing[uid] for uid in to_delete})
        for uid in to_delete:
            n = conn.execute("SELECT COUNT(*) FROM faces WHERE user_pk = ?", (existing[uid],)).fetchone()[0]
            if n:
                raise ConflictException(f"User {uid} cannot be deleted: it still has {n} faces")
            conn.execute("DELETE FROM users WHERE pk = ?", (existing[uid],))
        if changes or to_create or to_delete:
            bump_generation(conn, coll)
            by_owner: dict[int, list[int]] = {}
            for owner_pk, face_pk in updates:
                by_owner.setdefault(owner_pk or 0, []).append(face_pk)
            dropped = [existing[u] for u in to_delete]

            def update_index(index):
                for owner_pk, pks in by_owner.items():
                    index.set_owner(pks, owner_pk)
                for user_pk in dropped:
                    index.drop_user(user_pk)

            engine.after_write(tx, coll, update_index)
        return {"ChangeSet": build(conn, coll, changes, to_create, to_delete, deleted_metadata)}, None

    return idempotency.idempotent_write(engine, "ApplyChangeSet", p, body)
