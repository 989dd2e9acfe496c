"""AssociateFaces and DisassociateFaces: the headline curation operations.

Rules (see the README's semantics table): faces are taken in request order, duplicates
collapsed to their first occurrence; a face already on this user is ignored; every other face
is checked for FACE_NOT_FOUND, ASSOCIATED_TO_A_DIFFERENT_USER, LOW_MATCH_CONFIDENCE (only when the
user had faces before the call, scored against those faces) and the 100-face cap, and all
reasons that apply are listed. The whole call is one transaction.
"""

from __future__ import annotations

from . import idempotency
from .association_plan import DEFAULT_USER_MATCH_THRESHOLD, faces_by_id, plan_association, unique_ids
from .curation_ops import write_plan
from .records import bump_generation, get_user, user_face_count, user_status


def associate_faces(engine, p: dict) -> dict:
    p = {**p, "UserMatchThreshold": float(p.get("UserMatchThreshold", DEFAULT_USER_MATCH_THRESHOLD))}

    def body(tx, coll):
        user = get_user(tx.conn, coll, p["UserId"])
        planned = plan_association(tx.conn, coll, user, p["FaceIds"], p["UserMatchThreshold"])
        write_plan(engine, tx, coll, planned)
        return planned.associate_faces_response(), None

    return idempotency.idempotent_write(engine, "AssociateFaces", p, body)


def disassociate_faces(engine, p: dict) -> dict:
    face_ids = unique_ids(p["FaceIds"])

    def body(tx, coll):
        conn = tx.conn
        user = get_user(conn, coll, p["UserId"])
        found = faces_by_id(conn, coll.pk, face_ids)
        freed, unsuccessful, freed_pks = [], [], []
        for fid in face_ids:
            if fid not in found:
                unsuccessful.append({"FaceId": fid, "UserId": user.user_id, "Reasons": ["FACE_NOT_FOUND"]})
                continue
            pk, owner_pk, owner_id, _blob = found[fid]
            if owner_pk is None:
                continue  # on no user: nothing to undo, ignored
            if owner_pk != user.pk:
                unsuccessful.append({"FaceId": fid, "UserId": owner_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]})
                continue
            freed.append({"FaceId": fid})
            freed_pks.append(pk)
        if freed_pks:
            conn.executemany("UPDATE faces SET user_pk = NULL WHERE pk = ?", [(pk,) for pk in freed_pks])
            bump_generation(conn, coll)
            engine.after_write(tx, coll, lambda index: index.set_owner(freed_pks, 0))
        return {
            "DisassociatedFaces": freed,
            "UnsuccessfulFaceDisassociations": unsuccessful,
            "UserStatus": user_status(user_face_count(conn, user.pk)),
        }, None

    return idempotency.idempotent_write(engine, "DisassociateFaces", p, body)
