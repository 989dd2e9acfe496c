"""What the window's background workers do, as plain functions over the engine (no Qt here).

A "move" (a face owned by another user) is a disassociation there followed by the association
here. The engine runs each operation as its own transaction, so these functions compensate: a
face taken from its owner and then not associated (or an error half-way) is put back on its
owner, so no face is ever left stranded by a failed step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.association_plan import MAX_FACES_PER_USER
from app.core.errors import InvalidParameterException

RESTORE_THRESHOLD = 0.0  # putting a face back where it was is not a new match decision


@dataclass(frozen=True)
class AssociationPlan:
    collection_id: str
    user_id: str
    face_ids: tuple[str, ...]  # in request order (the engine admits faces in this order)
    threshold: float
    moves: dict = field(default_factory=dict)  # owner user id -> face ids to take from that owner first

    def __post_init__(self):
        if not self.face_ids:
            raise ValueError("an association needs at least one face")
        if len(self.face_ids) > MAX_FACES_PER_USER:
            raise ValueError(f"AssociateFaces takes at most {MAX_FACES_PER_USER} faces at a time, not {len(self.face_ids)}")


@dataclass
class AssociationOutcome:
    plan: AssociationPlan
    response: dict  # the AssociateFaces response, as the engine gave it
    associated: list[str]  # faces that were free and are now on the user
    moved: dict[str, list[str]]  # owner -> faces taken from that owner, now on the user
    restored: dict[str, list[str]]  # owner -> faces taken but not associated, put back
    stranded: list[str] = field(default_factory=list)  # faces that could not be put back (now unassigned)

    @property
    def moved_ids(self) -> list[str]:
        return [f for ids in self.moved.values() for f in ids]

    @property
    def touched_users(self) -> list[str]:
        return [self.plan.user_id, *self.plan.moves]


class StrandedFacesError(Exception):
    """A failed move could not put every face back on its owner."""

    def __init__(self, cause: Exception, stranded: list[str]):
        super().__init__(f"{cause}. In addition, {len(stranded)} face(s) taken from their user could not be put back "
                         f"and are now unassigned: {', '.join(stranded)}")
        self.cause = cause
        self.stranded = stranded


def _put_back(engine, collection_id: str, taken: dict[str, list[str]]) -> list[str]:
    """Re-associate taken faces with their owners; the ids that could not be put back."""
    stranded = []
    for owner, ids in taken.items():
        if not ids:
            continue
        try:
            r = engine.associate_faces(CollectionId=collection_id, UserId=owner, FaceIds=list(ids),
                                       UserMatchThreshold=RESTORE_THRESHOLD)
        except Exception:  # noqa: BLE001 - reported through the stranded list
            stranded += ids
            continue
        back = {f["FaceId"] for f in r["AssociatedFaces"]}
        stranded += [f for f in ids if f not in back]
    return stranded


def run_association(engine, plan: AssociationPlan, worker=None) -> AssociationOutcome:
    taken: dict[str, list[str]] = {}
    try:
        for owner, ids in plan.moves.items():
            r = engine.disassociate_faces(CollectionId=plan.collection_id, UserId=owner, FaceIds=list(ids))
            taken[owner] = [f["FaceId"] for f in r["DisassociatedFaces"]]
        response = engine.associate_faces(CollectionId=plan.collection_id, UserId=plan.user_id,
                                          FaceIds=list(plan.face_ids), UserMatchThreshold=plan.threshold)
    except Exception as exc:
        stranded = _put_back(engine, plan.collection_id, taken)
        if stranded:
            raise StrandedFacesError(exc, stranded) from exc
        raise
    done = [f["FaceId"] for f in response["AssociatedFaces"]]
    done_set = set(done)
    moved = {o: [f for f in ids if f in done_set] for o, ids in taken.items()}
    restored = {o: [f for f in ids if f not in done_set] for o, ids in taken.items()}
    moved_set = {f for ids in moved.values() for f in ids}
    stranded = _put_back(engine, plan.collection_id, restored)
    return AssociationOutcome(plan, response, [f for f in done if f not in moved_set],
                              {o: ids for o, ids in moved.items() if ids}, {o: ids for o, ids in restored.items() if ids},
                              stranded)


@dataclass
class DisassociationOutcome:
    collection_id: str
    responses: dict[str, dict]  # user -> DisassociateFaces response
    disassociated: dict[str, list[str]]  # user -> faces freed
    errors: dict[str, Exception]  # user -> what went wrong for that user's faces

    @property
    def freed_ids(self) -> list[str]:
        return [f for ids in self.disassociated.values() for f in ids]


def run_disassociation(engine, collection_id: str, by_user: dict[str, list[str]], worker=None) -> DisassociationOutcome:
    """DisassociateFaces per owning user; a failure for one user does not stop the others."""
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
    return out


@dataclass
class NotThisPersonOutcome:
    collection_id: str
    user_id: str
    disassociated: list[str]  # faces that were on the user and were taken off it
    marked: list[str]  # faces newly marked


def run_not_this_person(engine, collection_id: str, user_id: str, face_ids: list[str], worker=None) -> NotThisPersonOutcome:
    """Take the faces off the user if they are on it, then mark them "not this person" for it."""
    owned = [f["FaceId"] for f in engine.list_faces(CollectionId=collection_id, FaceIds=list(face_ids),
                                                    MaxResults=len(face_ids))["Faces"] if f.get("UserId") == user_id]
    freed: list[str] = []
    if owned:
        r = engine.disassociate_faces(CollectionId=collection_id, UserId=user_id, FaceIds=owned)
        freed = [f["FaceId"] for f in r["DisassociatedFaces"]]
    try:
        marked = engine.set_not_this_person(collection_id, user_id, list(face_ids))["ChangedFaceIds"]
    except Exception as exc:
        stranded = _put_back(engine, collection_id, {user_id: freed})
        if stranded:
            raise StrandedFacesError(exc, stranded) from exc
        raise
    return NotThisPersonOutcome(collection_id, user_id, freed, marked)


def user_similarities(engine, collection_id: str, user_id: str, face_ids: list[str], worker=None) -> dict[str, float]:
    """Each face's match confidence against a user, as AssociateFaces would score it.

    Faces already on the user, and faces the user marked "not this person", get no score.
    Uses the dry-run association 100 faces at a time with a threshold of 100, so every scored
    face comes back with its Confidence (a perfect 100 passes and is reported as associated).
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
        preview = engine.preview_association(collection_id, user_id, chunk, 100.0)
        scores.update({f["FaceId"]: 100.0 for f in preview["AssociatedFaces"]})
        scores.update({f["FaceId"]: f["Confidence"] for f in preview["UnsuccessfulFaceAssociations"] if "Confidence" in f})
    return scores


def face_similarities(engine, collection_id: str, face_id: str, limit: int = 4096) -> dict[str, float]:
    """Similarity of the collection's most similar faces to one face (the face itself: 100)."""
    r = engine.search_faces(CollectionId=collection_id, FaceId=face_id, FaceMatchThreshold=0.0, MaxFaces=limit)
    scores = {m["Face"]["FaceId"]: m["Similarity"] for m in r["FaceMatches"]}
    scores[face_id] = 100.0
    return scores
