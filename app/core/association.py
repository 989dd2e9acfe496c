"""AssociateFaces and DisassociateFaces: the headline curation operations.

Rules (see the README's semantics table): faces are taken in request order, duplicates
collapsed to their first occurrence; a face already on this user is ignored; every other face
is checked for FACE_NOT_FOUND, ASSOCIATED_TO_A_DIFFERENT_USER, LOW_MATCH_CONFIDENCE (only when the
user had faces before the call, scored against those faces) and the 100-face cap, and all
reasons that apply are listed. The whole call is one transaction.
"""

from __future__ import annotations

import numpy as np

from . import idempotency
from .records import bump_generation, get_user, user_face_count, user_status
from .similarity import mean_distance_factor, scale_for

MAX_FACES_PER_USER = 100
DEFAULT_USER_MATCH_THRESHOLD = 75.0
USER_FACE_LIMIT_EXCEEDED = "USER_FACE_LIMIT_EXCEEDED"  # ours: an extension of the Reasons enum


def _unique(face_ids: list[str]) -> list[str]:
    return list(dict.fromkeys(face_ids))


def _faces_by_id(conn, collection_pk: int, face_ids: list[str]) -> dict:
    marks = ",".join("?" * len(face_ids))
    rows = conn.execute(
        f"SELECT f.face_id, f.pk, f.user_pk, u.user_id, f.descriptor FROM faces f LEFT JOIN users u ON u.pk = f.user_pk "
        f"WHERE f.collection_pk = ? AND f.face_id IN ({marks})",
        (collection_pk, *face_ids),
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def user_mean(conn, user_pk: int):
    """(mean descriptor, face count) of the faces a user has now; (None, 0) for none."""
    blobs = [r[0] for r in conn.execute("SELECT descriptor FROM faces WHERE user_pk = ?", (user_pk,))]
    if not blobs:
        return None, 0
    vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    return vectors.astype(np.float64).mean(axis=0), len(blobs)


def score_against_user(scale, descriptors: np.ndarray, mean: np.ndarray, count: int) -> np.ndarray:
    """Similarity (0..100) of each descriptor to a user represented by the mean of `count` faces."""
    d = np.linalg.norm(descriptors.astype(np.float64) - mean[None, :], axis=1)
    return np.atleast_1d(scale.similarity(d * mean_distance_factor(1, count)))


def decide_association(conn, coll, user, face_ids: list[str], threshold: float):
    """What AssociateFaces would do, without writing: (associated, unsuccessful, pks to move, faces before)."""
    found = _faces_by_id(conn, coll.pk, face_ids)
    mean, count = user_mean(conn, user.pk)
    scores = {}
    if count:
        scored = [fid for fid in face_ids if fid in found and found[fid][1] != user.pk]
        if scored:
            vectors = np.stack([np.frombuffer(found[fid][3], dtype=np.float32) for fid in scored])
            scores = dict(zip(scored, score_against_user(scale_for(coll.model_version), vectors, mean, count)))
    associated, unsuccessful, moved_pks = [], [], []
    for fid in face_ids:
        if fid not in found:
            unsuccessful.append({"FaceId": fid, "UserId": user.user_id, "Reasons": ["FACE_NOT_FOUND"]})
            continue
        pk, owner_pk, owner_id, _blob = found[fid]
        if owner_pk == user.pk:
            continue  # already this user's: silently ignored
        reasons, entry = [], {"FaceId": fid, "UserId": user.user_id}
        if owner_pk is not None:
            reasons.append("ASSOCIATED_TO_A_DIFFERENT_USER")
            entry["UserId"] = owner_id
        if fid in scores:
            entry["Confidence"] = round(float(scores[fid]), 4)
            if scores[fid] < threshold:
                reasons.append("LOW_MATCH_CONFIDENCE")
        if count + len(moved_pks) >= MAX_FACES_PER_USER:
            reasons.append(USER_FACE_LIMIT_EXCEEDED)
        if reasons:
            unsuccessful.append({**entry, "Reasons": reasons})
        else:
            associated.append({"FaceId": fid})
            moved_pks.append(pk)
    return associated, unsuccessful, moved_pks, count


def associate_faces(engine, p: dict) -> dict:
    p = {**p, "UserMatchThreshold": float(p.get("UserMatchThreshold", DEFAULT_USER_MATCH_THRESHOLD))}
    face_ids = _unique(p["FaceIds"])

    def body(tx, coll):
        user = get_user(tx.conn, coll, p["UserId"])
        associated, unsuccessful, moved_pks, count = decide_association(tx.conn, coll, user, face_ids,
                                                                        p["UserMatchThreshold"])
        if moved_pks:
            tx.conn.executemany("UPDATE faces SET user_pk = ? WHERE pk = ?", [(user.pk, pk) for pk in moved_pks])
            bump_generation(tx.conn, coll)
            engine.after_write(tx, coll, lambda index: index.set_owner(moved_pks, user.pk))
        return {
            "AssociatedFaces": associated,
            "UnsuccessfulFaceAssociations": unsuccessful,
            "UserStatus": user_status(count + len(moved_pks)),
        }, None

    return idempotency.idempotent_write(engine, "AssociateFaces", p, body)


def disassociate_faces(engine, p: dict) -> dict:
    face_ids = _unique(p["FaceIds"])

    def body(tx, coll):
        conn = tx.conn
        user = get_user(conn, coll, p["UserId"])
        found = _faces_by_id(conn, coll.pk, face_ids)
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
