"""What the window's background workers do, as plain functions over the backend (no Qt here).

Each curation edit is one backend operation (MoveFaces, DisassociateFaces, ApplyChangeSet...) so
the engine runs it as one transaction; nothing here composes or compensates. Every function
returns the change set of what happened (app.core.change_sets), which the window applies to its
models and keeps for undo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core import change_sets
from app.core.association_plan import MAX_FACES_PER_USER
from app.core.errors import InvalidParameterException, ResourceNotFoundException

from .association_preview import AssociationRequest


@dataclass
class AssociationOutcome:
    request: AssociationRequest
    response: dict  # the MoveFaces response: AssociateFaces' shape plus MovedFaces and ChangeSet

    @property
    def change_set(self) -> dict:
        return self.response["ChangeSet"]

    @property
    def associated(self) -> list[str]:
        moved = {f["FaceId"] for f in self.response.get("MovedFaces", [])}
        return [f["FaceId"] for f in self.response["AssociatedFaces"] if f["FaceId"] not in moved]

    @property
    def moved(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for f in self.response.get("MovedFaces", []):
            out.setdefault(f["FromUserId"], []).append(f["FaceId"])
        return out


def run_association(engine, request: AssociationRequest, worker=None) -> AssociationOutcome:
    response = engine.move_faces(CollectionId=request.collection_id, UserId=request.user_id,
                                 FaceIds=list(request.face_ids), UserMatchThreshold=request.threshold,
                                 MoveFromOwners=request.move)
    return AssociationOutcome(request, response)


@dataclass
class DisassociationOutcome:
    collection_id: str
    responses: dict[str, dict]  # user -> DisassociateFaces response
    disassociated: dict[str, list[str]]  # user -> faces freed
    errors: dict[str, Exception]  # user -> what went wrong for that user's faces
    change_set: dict = field(default_factory=dict)

    @property
    def freed_ids(self) -> list[str]:
        return [f for ids in self.disassociated.values() for f in ids]


LIST_FACES_MAX_IDS = 4096  # ListFaces FaceIds: at most 4096 per call (service model)


def face_count(engine, collection_id: str, user_id: str) -> int:
    # a user holds at most MAX_FACES_PER_USER faces, so one page counts them all
    return len(engine.list_faces(CollectionId=collection_id, UserId=user_id, MaxResults=MAX_FACES_PER_USER)["Faces"])


def face_counts(engine, collection_id: str, user_ids) -> dict[str, int]:
    """Face count per user that still exists (a deleted one is left out)."""
    counts = {}
    for user_id in dict.fromkeys(user_ids):
        try:
            counts[user_id] = face_count(engine, collection_id, user_id)
        except ResourceNotFoundException:
            continue
    return counts


def read_faces(engine, collection_id: str, face_ids) -> dict[str, dict]:
    """ListFaces entries of these faces by FaceId, 4,096 a call (a deleted face is absent)."""
    ids = list(dict.fromkeys(face_ids))
    faces: dict[str, dict] = {}
    for start in range(0, len(ids), LIST_FACES_MAX_IDS):
        chunk = ids[start : start + LIST_FACES_MAX_IDS]
        page = engine.list_faces(CollectionId=collection_id, FaceIds=chunk, MaxResults=len(chunk))
        faces.update({f["FaceId"]: f for f in page["Faces"]})
    return faces


def _freed_change_set(engine, collection_id: str, freed: dict[str, list[str]]) -> dict:
    counts = face_counts(engine, collection_id, freed)
    return {"CollectionId": collection_id,
            "FaceChanges": [change_sets.face_change(f, uid, None) for uid, ids in freed.items() for f in ids],
            "UserChanges": [{"UserId": uid, "Change": change_sets.UPDATE, "FaceCount": n,
                             "UserStatus": "ACTIVE" if n else "CREATED"} for uid, n in counts.items()]}


def run_disassociation(engine, collection_id: str, by_user: dict[str, list[str]], worker=None) -> DisassociationOutcome:
    """DisassociateFaces per owning user (each one transaction); a failure for one user does not stop the others."""
    out = DisassociationOutcome(collection_id, {}, {}, {})
    for user_id, ids in by_user.items():
        try:
            for start in range(0, len(ids), MAX_FACES_PER_USER):
                r = engine.disassociate_faces(CollectionId=collection_id, UserId=user_id,
                                              FaceIds=list(ids[start : start + MAX_FACES_PER_USER]))
                out.responses[user_id] = r
                out.disassociated.setdefault(user_id, []).extend(f["FaceId"] for f in r["DisassociatedFaces"])
        except Exception as exc:  # noqa: BLE001 - kept per user and shown by the window
            out.errors[user_id] = exc
    out.change_set = _freed_change_set(engine, collection_id, out.disassociated)
    return out


@dataclass
class NotThisPersonOutcome:
    collection_id: str
    user_id: str
    disassociated: list[str]  # faces that were on the user and were taken off it
    marked: list[str]  # faces newly marked
    change_set: dict = field(default_factory=dict)


def run_not_this_person(engine, collection_id: str, user_id: str, face_ids: list[str], worker=None) -> NotThisPersonOutcome:
    """Mark the faces "not this person" for the user (first, so a failure leaves every face where it was),
    then take the ones it owns off it."""
    marked = engine.set_not_this_person(collection_id, user_id, list(face_ids))["ChangedFaceIds"]
    owned = [f["FaceId"] for f in engine.list_faces(CollectionId=collection_id, FaceIds=list(face_ids),
                                                    MaxResults=len(face_ids))["Faces"] if f.get("UserId") == user_id]
    freed: list[str] = []
    if owned:
        r = engine.disassociate_faces(CollectionId=collection_id, UserId=user_id, FaceIds=owned)
        freed = [f["FaceId"] for f in r["DisassociatedFaces"]]
    return NotThisPersonOutcome(collection_id, user_id, freed, marked,
                                _freed_change_set(engine, collection_id, {user_id: freed} if freed else {}))


def run_change_set(engine, request: dict, marks: dict | None = None, worker=None) -> dict:
    """Undo or redo: ApplyChangeSet (one transaction), then the "not this person" marks it carries, if any
    (`marks`: {"UserId", "FaceIds", "Rejected"})."""
    response = engine.apply_change_set(**request)
    if marks and marks["FaceIds"]:
        engine.set_not_this_person(request["CollectionId"], marks["UserId"], marks["FaceIds"], rejected=marks["Rejected"])
    return response["ChangeSet"]


def user_similarities(engine, collection_id: str, user_id: str, face_ids: list[str], worker=None) -> dict[str, float]:
    """Each face's match confidence against a user, as AssociateFaces would score it (PlanAssociation).

    Faces already on the user, and faces the user marked "not this person", get no score.
    """
    if not engine.list_faces(CollectionId=collection_id, UserId=user_id, MaxResults=1)["Faces"]:
        raise InvalidParameterException(f"User {user_id} has no faces yet, so there is nothing to compare faces with")
    rejected = engine.rejected_face_ids(collection_id, user_id)
    candidates = [f for f in face_ids if f not in rejected]
    scores: dict[str, float] = {}
    for start in range(0, len(candidates), MAX_FACES_PER_USER):
        if worker is not None:
            worker.check_cancelled()
            worker.report(start, len(candidates), f"Scoring faces against {user_id}")
        chunk = candidates[start : start + MAX_FACES_PER_USER]
        plan = engine.plan_association(CollectionId=collection_id, UserId=user_id, FaceIds=chunk, UserMatchThreshold=0)
        scores.update({f["FaceId"]: f["Confidence"] for f in plan["Faces"] if "Confidence" in f})
    return scores


def face_similarities(engine, collection_id: str, face_id: str, worker=None, limit: int = 4096) -> dict[str, float]:
    """Similarity of the collection's most similar faces to one face (the face itself: 100)."""
    r = engine.search_faces(CollectionId=collection_id, FaceId=face_id, FaceMatchThreshold=0.0, MaxFaces=limit)
    scores = {m["Face"]["FaceId"]: m["Similarity"] for m in r["FaceMatches"]}
    scores[face_id] = 100.0
    return scores
