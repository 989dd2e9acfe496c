"""The curation operations beyond the AWS API (ours): PlanAssociation, MoveFaces, MergeUsers, SplitUser.

Each write is one SQLite transaction with ClientRequestToken replay and a journal entry, like
the AWS write operations, and returns a ChangeSet (change_sets.py) besides its per-face results.
The per-face results have the AssociateFaces shape; the admission rules are PlanAssociation's.
"""

from __future__ import annotations

import time

from . import change_sets, idempotency
from .association_plan import DEFAULT_USER_MATCH_THRESHOLD, MOVE, AssociationPlan, plan_association, unique_ids
from .errors import ConflictException, InvalidParameterException
from .records import bump_generation, get_collection, get_user


def _threshold(p: dict, default: float | None = DEFAULT_USER_MATCH_THRESHOLD) -> float | None:
    value = p.get("UserMatchThreshold", default)
    return None if value is None else float(value)


def plan(engine, p: dict) -> dict:
    """PlanAssociation: what AssociateFaces (or MoveFaces, with MoveFromOwners) would do now."""
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        user = get_user(conn, coll, p["UserId"])
        return plan_association(conn, coll, user, p["FaceIds"], _threshold(p), bool(p.get("MoveFromOwners"))).as_response()


def write_plan(engine, tx, coll, planned: AssociationPlan) -> list[dict]:
    """Put the plan's admitted faces on its user; the face changes made."""
    admitted = planned.admitted
    if not admitted:
        return []
    user = planned.user
    tx.conn.executemany("UPDATE faces SET user_pk = ? WHERE pk = ?", [(user.pk, f.pk) for f in admitted])
    bump_generation(tx.conn, coll)
    pks = [f.pk for f in admitted]
    engine.after_write(tx, coll, lambda index: index.set_owner(pks, user.pk))
    return [change_sets.face_change(f.face_id, f.owner_id, user.user_id) for f in admitted]


def _moved(planned: AssociationPlan) -> list[dict]:
    return [{"FaceId": f.face_id, "FromUserId": f.owner_id} for f in planned.faces if f.outcome == MOVE]


def move_faces(engine, p: dict) -> dict:
    """MoveFaces: AssociateFaces that may take faces from their current owners (MoveFromOwners, default true)."""
    p = {**p, "UserMatchThreshold": _threshold(p), "MoveFromOwners": bool(p.get("MoveFromOwners", True))}

    def body(tx, coll):
        user = get_user(tx.conn, coll, p["UserId"])
        planned = plan_association(tx.conn, coll, user, p["FaceIds"], p["UserMatchThreshold"], p["MoveFromOwners"])
        changes = write_plan(engine, tx, coll, planned)
        return {**planned.associate_faces_response(), "MovedFaces": _moved(planned),
                "ChangeSet": change_sets.build(tx.conn, coll, changes)}, None

    return idempotency.idempotent_write(engine, "MoveFaces", p, body)


def merge_users(engine, p: dict) -> dict:
    """MergeUsers: every face of the source users onto the target, within its 100-face cap.

    Sources are taken in the order given, each one's faces in index order. No match threshold
    unless UserMatchThreshold is given (merging is the curator's decision). A source left with
    no face is deleted; its "not this person" marks carry over to the target. Faces the cap
    keeps out stay on their source, which then stays too.
    """
    sources = list(p["SourceUserIds"])
    if p["UserId"] in sources:
        raise InvalidParameterException("MergeUsers: SourceUserIds must not include the target UserId")
    if len(set(sources)) != len(sources):
        raise InvalidParameterException("MergeUsers: SourceUserIds lists a user more than once")

    def body(tx, coll):
        conn = tx.conn
        target = get_user(conn, coll, p["UserId"])
        source_rows = [get_user(conn, coll, uid) for uid in sources]
        face_ids = [r[0] for s in source_rows
                    for r in conn.execute("SELECT face_id FROM faces WHERE user_pk = ? ORDER BY pk", (s.pk,))]
        planned = plan_association(conn, coll, target, face_ids, _threshold(p, None), move_from_owners=True)
        changes = write_plan(engine, tx, coll, planned)
        deleted = []
        for s in source_rows:
            if conn.execute("SELECT 1 FROM faces WHERE user_pk = ? LIMIT 1", (s.pk,)).fetchone() is None:
                conn.execute("INSERT OR IGNORE INTO rejections(user_pk, face_pk, created_at) "
                             "SELECT ?, face_pk, created_at FROM rejections WHERE user_pk = ?", (target.pk, s.pk))
                conn.execute("DELETE FROM users WHERE pk = ?", (s.pk,))
                deleted.append(s.user_id)
        if deleted:
            bump_generation(conn, coll)
            dropped = [s.pk for s in source_rows if s.user_id in deleted]
            engine.after_write(tx, coll, lambda index: [index.drop_user(pk) for pk in dropped])
        response = {**planned.associate_faces_response(), "MovedFaces": _moved(planned), "DeletedUserIds": deleted,
                    "ChangeSet": change_sets.build(conn, coll, changes, deleted=deleted)}
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
        marks = ",".join("?" * len(face_ids))
        owned = {r[0] for r in conn.execute(
            f"SELECT face_id FROM faces WHERE collection_pk = ? AND user_pk = ? AND face_id IN ({marks})",
            (coll.pk, source.pk, *face_ids))}
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

