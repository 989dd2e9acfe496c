"""The curation operations beyond the AWS API (ours): PlanAssociation, PlanMerge, MoveFaces, MergeUsers, SplitUser.

Each write is one SQLite transaction with ClientRequestToken replay and a journal entry, like
the AWS write operations, and returns a ChangeSet (change_sets.py) besides its per-face results.
The per-face results have the AssociateFaces shape; the admission rules are PlanAssociation's.
"""

from __future__ import annotations

import time

from . import change_sets, face_keys, idempotency, people
from .association_plan import (
    MOVE,
    AssociationPlan,
    plan_association,
    requested_threshold,
    unique_ids,
)
from .errors import ConflictException, InvalidParameterException
from .records import bump_generation, get_collection, get_user


def plan(engine, p: dict) -> dict:
    """PlanAssociation: what AssociateFaces (or MoveFaces, with MoveFromOwners) would do now."""
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        user = get_user(conn, coll, p["UserId"])
        planned = plan_association(conn, coll, user, p["FaceIds"], requested_threshold(p), bool(p.get("MoveFromOwners")))
        return planned.as_response()


def write_plan(engine, tx, coll, planned: AssociationPlan, dropped_users: list[int] | None = None) -> list[dict]:
    """Put the plan's admitted faces on its user; the face changes made.

    `dropped_users`: users the same transaction deletes; the index forgets them in the same update
    (one generation step per transaction, so the index never has to catch up on its own write).
    """
    admitted, dropped = planned.admitted, list(dropped_users or [])
    if not admitted and not dropped:
        return []
    user = planned.user
    if admitted:
        tx.conn.executemany("UPDATE faces SET user_pk = ? WHERE pk = ?", [(user.pk, f.pk) for f in admitted])
    bump_generation(tx.conn, coll)
    pks = [f.pk for f in admitted]

    def update(index) -> None:
        if pks:
            index.set_owner(pks, user.pk)
        for user_pk in dropped:
            index.drop_user(user_pk)

    engine.after_write(tx, coll, update)
    return [change_sets.face_change(f.face_id, f.owner_id, user.user_id) for f in admitted]


def _moved(planned: AssociationPlan) -> list[dict]:
    return [{"FaceId": f.face_id, "FromUserId": f.owner_id} for f in planned.faces if f.outcome == MOVE]


def move_faces(engine, p: dict) -> dict:
    """MoveFaces: AssociateFaces that may take faces from their current owners (MoveFromOwners, default true)."""
    p = {**p, "UserMatchThreshold": requested_threshold(p), "MoveFromOwners": bool(p.get("MoveFromOwners", True))}

    def body(tx, coll):
        user = get_user(tx.conn, coll, p["UserId"])
        planned = plan_association(tx.conn, coll, user, p["FaceIds"], p["UserMatchThreshold"], p["MoveFromOwners"])
        changes = write_plan(engine, tx, coll, planned)
        return {**planned.associate_faces_response(), "MovedFaces": _moved(planned),
                "ChangeSet": change_sets.build(tx.conn, coll, changes)}, None

    return idempotency.idempotent_write(engine, "MoveFaces", p, body)


def _check_sources(operation: str, p: dict) -> list[str]:
    sources = list(p["SourceUserIds"])
    if p["UserId"] in sources:
        raise InvalidParameterException(f"{operation}: SourceUserIds must not include the target UserId")
    if len(set(sources)) != len(sources):
        raise InvalidParameterException(f"{operation}: SourceUserIds lists a user more than once")
    return sources


def _merge_plan(conn, coll, p: dict, sources: list[str]):
    """The one decision of a merge: the target, the sources, each source's faces, the plan, the emptied sources."""
    target = get_user(conn, coll, p["UserId"])
    source_rows = [get_user(conn, coll, uid) for uid in sources]
    faces_of = {s.user_id: [r[0] for r in conn.execute("SELECT face_id FROM faces WHERE user_pk = ? ORDER BY pk",
                                                        (s.pk,))] for s in source_rows}
    face_ids = [fid for s in source_rows for fid in faces_of[s.user_id]]
    planned = plan_association(conn, coll, target, face_ids, requested_threshold(p, None), move_from_owners=True)
    admitted = {f.face_id for f in planned.admitted}
    # a source all of whose faces move is emptied, and deleted in the same transaction
    emptied = [s for s in source_rows if all(fid in admitted for fid in faces_of[s.user_id])]
    return target, planned, emptied


def plan_merge(engine, p: dict) -> dict:
    """PlanMerge: what MergeUsers would do now, writing nothing (PlanAssociation's answer for the sources'
    faces, in the order MergeUsers takes them, plus the sources it would delete)."""
    sources = _check_sources("PlanMerge", p)
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        _target, planned, emptied = _merge_plan(conn, coll, p, sources)
        return {**planned.as_response(), "DeletedUserIds": [s.user_id for s in emptied]}


def merge_users(engine, p: dict) -> dict:
    """MergeUsers: every face of the source users onto the target, within its 100-face cap.

    Sources are taken in the order given, each one's faces in index order. No match threshold
    unless UserMatchThreshold is given (merging is the curator's decision). A source left with
    no face is deleted; its "not this person" marks carry over to the target. Faces the cap
    keeps out stay on their source, which then stays too. PlanMerge is the same decision, unwritten.
    """
    sources = _check_sources("MergeUsers", p)

    def body(tx, coll):
        conn = tx.conn
        target, planned, emptied = _merge_plan(conn, coll, p, sources)
        kept = people.saved_metadata(conn, coll.pk, {s.user_id: s.pk for s in emptied})  # for the undo
        changes = write_plan(engine, tx, coll, planned, [s.pk for s in emptied])
        for s in emptied:
            conn.execute("INSERT OR IGNORE INTO rejections(user_pk, face_pk, created_at) "
                         "SELECT ?, face_pk, created_at FROM rejections WHERE user_pk = ?", (target.pk, s.pk))
            conn.execute("DELETE FROM users WHERE pk = ?", (s.pk,))
        deleted = [s.user_id for s in emptied]
        response = {**planned.associate_faces_response(), "MovedFaces": _moved(planned), "DeletedUserIds": deleted,
                    "ChangeSet": change_sets.build(conn, coll, changes, deleted=deleted, metadata=kept)}
        return response, None

    return idempotency.idempotent_write(engine, "MergeUsers", p, body)


def split_user(engine, p: dict) -> dict:
    """SplitUser: chosen faces of a user onto a new user (NewUserId, created here).

    Every face must be on UserId now (InvalidParameterException otherwise, nothing written); the
    new user must not exist (ConflictException). No match threshold: the curator chose the faces.
    """
    face_ids = unique_ids(p["FaceIds"])
    if p["NewUserId"] == p["UserId"]:
        raise InvalidParameterException("SplitUser: NewUserId must differ from UserId")

    def body(tx, coll):
        conn = tx.conn
        source = get_user(conn, coll, p["UserId"])
        if conn.execute("SELECT 1 FROM users WHERE collection_pk = ? AND user_id = ?",
                        (coll.pk, p["NewUserId"])).fetchone():
            raise ConflictException(f"The user id: {p['NewUserId']} already exists in the collection: {coll.collection_id}")
        owned = {fid for fid, (owner,) in face_keys.face_rows(conn, coll.pk, face_ids, "f.user_pk").items()
                 if owner == source.pk}
        stray = [fid for fid in face_ids if fid not in owned]
        if stray:
            raise InvalidParameterException(f"SplitUser: {len(stray)} of the FaceIds are not faces of {source.user_id}: "
                                            f"{', '.join(stray[:5])}")
        cur = conn.execute("INSERT INTO users(collection_pk, user_id, created_at) VALUES (?,?,?)",
                           (coll.pk, p["NewUserId"], time.time()))
        new_user = get_user(conn, coll, p["NewUserId"])
        assert new_user.pk == cur.lastrowid
        planned = plan_association(conn, coll, new_user, face_ids, None, move_from_owners=True)
        changes = write_plan(engine, tx, coll, planned)
        response = {**planned.associate_faces_response(), "MovedFaces": _moved(planned),
                    "ChangeSet": change_sets.build(conn, coll, changes, created=[new_user.user_id])}
        return response, None

    return idempotency.idempotent_write(engine, "SplitUser", p, body)

