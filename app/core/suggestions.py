"""SuggestFaces (ours): unassigned faces a user most likely owns, best first.

The score is AssociateFaces' own (association_plan.score_against_user: the face against the mean
of the user's faces), so a suggestion shown at 91 is admitted by an association at threshold 91.
Faces marked "not this person" for the user are never suggested. A first pass over the search
index keeps only faces within the distance the floor allows; the survivors are scored exactly.
"""

from __future__ import annotations

import numpy as np

from .association_plan import score_against_user, user_mean
from .records import get_collection, get_user
from .similarity import mean_distance_factor, scale_for

DEFAULT_MAX_SUGGESTIONS = 20
DEFAULT_SUGGESTION_FLOOR = 50.0


def suggest_faces(engine, p: dict) -> dict:
    limit = int(p.get("MaxFaces", DEFAULT_MAX_SUGGESTIONS))
    floor = float(p.get("UserMatchThreshold", DEFAULT_SUGGESTION_FLOOR))
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        user = get_user(conn, coll, p["UserId"])
        index = engine.index_for(conn, coll)
        mean, count = user_mean(conn, user.pk)  # as PlanAssociation reads it
        if mean is None or index is None:
            return {"UserId": user.user_id, "UserFaceCount": 0, "Suggestions": []}
        scale = scale_for(coll.model_version)
        d2 = index.face_distances(mean.astype(np.float32))
        bound = scale.max_distance(floor) / float(mean_distance_factor(1, count))
        free = index.owners[: index.n] == 0
        candidates = np.flatnonzero(free & (d2 <= np.float32(bound * bound) * np.float32(1.0001)))
        rejected = {r[0] for r in conn.execute("SELECT face_pk FROM rejections WHERE user_pk = ?", (user.pk,))}
        if rejected:
            candidates = candidates[~np.isin(index.rowids[candidates], np.fromiter(rejected, np.int64))]
        # exact scores, as PlanAssociation computes them (float64, the mean of the stored faces)
        scores = score_against_user(scale, index.vectors[candidates], mean, count)
        keep = np.flatnonzero(scores >= floor)
        keep = keep[np.lexsort((index.rowids[candidates[keep]], -scores[keep]))][:limit]
        rowids = [int(index.rowids[candidates[k]]) for k in keep]
        marks = ",".join("?" * len(rowids))
        found = {r[0]: r[1] for r in conn.execute(
            f"SELECT f.pk, f.face_id FROM faces f WHERE f.pk IN ({marks}) AND f.user_pk IS NULL", rowids)} if rowids else {}
        groups = {r[0]: r[1] for r in conn.execute(
            f"SELECT m.face_pk, g.group_id FROM face_group_members m JOIN face_groups g ON g.pk = m.group_pk "
            f"WHERE m.face_pk IN ({marks})", rowids)} if rowids else {}
    suggestions = []
    for k, rowid in zip(keep, rowids, strict=True):
        if rowid in found:
            entry = {"FaceId": found[rowid], "Confidence": round(float(scores[k]), 4)}
            if rowid in groups:
                entry["GroupId"] = groups[rowid]
            suggestions.append(entry)
    return {"UserId": user.user_id, "UserFaceCount": count, "Suggestions": suggestions}
