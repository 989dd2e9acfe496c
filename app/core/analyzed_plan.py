"""PlanAssociation for faces not stored yet: what IndexFaces of analysed images followed by
AssociateFaces of the faces they would index would do, writing nothing.

Camera enrollment asks this before it stores a frame, so that frames which would not be
associated with the chosen user are never stored without the operator's yes. The decision is the
plan's own (association_plan.py): the faces the images would index are found as IndexFaces would
find them (the same QualityFilter/MaxFaces selection, the same FaceIds), scored against the user
with the plan's `user_mean` / `score_against_user`, and admitted by its `admit_faces`. A face the
images would index that is stored already (the same frames enrolled before) is taken as it is
stored, owner and descriptor, exactly as PlanAssociation would take it after the IndexFaces.
"""

from __future__ import annotations

import numpy as np

from .association_plan import AssociationPlan, FaceFacts, admit_faces, faces_by_id, score_against_user, user_mean
from .face_ops import AnalyzedImage, descriptor_matrix
from .ids import face_ids
from .quality import select_faces
from .records import get_collection, get_user
from .similarity import scale_for


def plan_analyzed(engine, collection_id: str, user_id: str, items: list[AnalyzedImage], threshold: float | None,
                  quality_filter: str = "AUTO", max_faces: int | None = None) -> dict:
    """The PlanAssociation response for the faces `items` would index (in image order), plus
    `ImageFaceIds`: the FaceIds each image would give (empty for an image whose faces would all be
    filtered out). ResourceNotFoundException for an unknown collection or user, as PlanAssociation."""
    with engine.store.read() as conn:
        coll = get_collection(conn, collection_id)
        user = get_user(conn, coll, user_id)
        row = conn.execute("SELECT length(descriptor) FROM faces WHERE collection_pk = ? LIMIT 1", (coll.pk,)).fetchone()
        dim = row[0] // 4 if row else None
        per_image: list[list[str]] = []
        new: dict[str, np.ndarray] = {}
        for item in items:
            a = item.analysis
            kept, _unindexed = select_faces(a.faces, a.width, a.height, quality_filter, max_faces)
            vectors = descriptor_matrix([face for _place, face in kept], dim)
            dim = dim or (vectors.shape[1] if len(vectors) else None)
            fids = face_ids(coll.model_version, item.sha256, item.external_image_id, [place for place, _face in kept])
            per_image.append(fids)
            for fid, vector in zip(fids, vectors, strict=True):
                new.setdefault(fid, vector)
        planned_ids = list(new)
        stored = faces_by_id(conn, coll.pk, planned_ids)
        mean, count = user_mean(conn, user.pk)
    scored = [f for f in planned_ids if f not in stored or stored[f][1] != user.pk]
    scores: dict[str, float] = {}
    if count and scored:
        vectors = np.stack([np.frombuffer(stored[f][3], dtype=np.float32) if f in stored else new[f] for f in scored])
        values = score_against_user(scale_for(coll.model_version), vectors, mean, count)
        scores = {f: float(s) for f, s in zip(scored, values, strict=True)}
    facts = []
    for fid in planned_ids:
        if fid in stored:
            pk, owner_pk, owner_id, _blob = stored[fid]
            facts.append(FaceFacts(fid, True, owner_id, pk, owner_pk, scores.get(fid)))
        else:  # what IndexFaces would store: a face on no user
            facts.append(FaceFacts(fid, True, score=scores.get(fid)))
    plan = AssociationPlan(coll, user, threshold, False, count, admit_faces(facts, user.user_id, count, threshold, False))
    return {**plan.as_response(), "ImageFaceIds": per_image}
