"""PlanAssociation: the one decision of what an association would do, face by face.

AssociateFaces, MoveFaces, MergeUsers and every preview in the window call `plan_association`,
so a preview and the outcome that follows agree by construction. The rules:

- FaceIds are taken in request order, duplicates collapsed to their first occurrence.
- A face already on the user: ALREADY_ASSOCIATED (AssociateFaces ignores it, in neither list).
- A face not in the collection: FAIL, FACE_NOT_FOUND (no other reason is looked for).
- A face on another user: ASSOCIATED_TO_A_DIFFERENT_USER, unless the plan moves faces from their
  owners (MoveFaces, MergeUsers): then the face is admitted like a free one and planned as MOVE.
- When the user had faces before the call, every other face is scored against the mean of those
  faces (Confidence) and a score below the threshold adds LOW_MATCH_CONFIDENCE. A user with no
  face yet takes its first batch unscored (AWS behaviour). A threshold of None skips the check
  (a merge is the curator's decision) but the confidence is still reported.
- The 100-face cap by running count: a face that would take the user past 100 adds
  USER_FACE_LIMIT_EXCEEDED (an extension of the Reasons enum).
- All reasons that apply are listed; a face with any reason is FAIL.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import numpy as np

from . import face_keys
from .records import CollectionRow, UserRow, user_status
from .similarity import mean_distance_factor, scale_for

MAX_FACES_PER_USER = 100
DEFAULT_USER_MATCH_THRESHOLD = 75.0
USER_FACE_LIMIT_EXCEEDED = "USER_FACE_LIMIT_EXCEEDED"  # ours: an extension of the Reasons enum
DIFFERENT_USER = "ASSOCIATED_TO_A_DIFFERENT_USER"
FACE_NOT_FOUND = "FACE_NOT_FOUND"
LOW_MATCH_CONFIDENCE = "LOW_MATCH_CONFIDENCE"

# the Outcome of a face in a plan
ASSOCIATE = "ASSOCIATE"
MOVE = "MOVE"
ALREADY_ASSOCIATED = "ALREADY_ASSOCIATED"
FAIL = "FAIL"


def requested_threshold(p: dict, default: float | None = DEFAULT_USER_MATCH_THRESHOLD) -> float | None:
    """A request's UserMatchThreshold as a float, `default` when absent; None means no match check."""
    value = p.get("UserMatchThreshold", default)
    return None if value is None else float(value)


def unique_ids(face_ids) -> list[str]:
    """The ids in their order, each once (the first occurrence wins)."""
    return list(dict.fromkeys(face_ids))


@dataclass
class PlannedFace:
    face_id: str
    outcome: str
    pk: int | None = None
    owner_pk: int | None = None
    owner_id: str | None = None  # the user that owns the face now, when not the planned user
    reasons: list[str] = field(default_factory=list)
    confidence: float | None = None
    running_count: int | None = None  # the user's face count once this face is admitted

    def as_dict(self) -> dict:
        out: dict = {"FaceId": self.face_id, "Outcome": self.outcome}
        if self.owner_id is not None:
            out["OwnerUserId"] = self.owner_id
        if self.confidence is not None:
            out["Confidence"] = self.confidence
        if self.reasons:
            out["Reasons"] = list(self.reasons)
        if self.running_count is not None:
            out["UserFaceCount"] = self.running_count
        return out


@dataclass
class AssociationPlan:
    collection: CollectionRow
    user: UserRow
    threshold: float | None
    move_from_owners: bool
    count_before: int
    faces: list[PlannedFace]

    @property
    def admitted(self) -> list[PlannedFace]:
        return [f for f in self.faces if f.outcome in (ASSOCIATE, MOVE)]

    @property
    def count_after(self) -> int:
        return self.count_before + len(self.admitted)

    def as_response(self) -> dict:
        """The PlanAssociation response."""
        return {
            "CollectionId": self.collection.collection_id,
            "UserId": self.user.user_id,
            "UserMatchThreshold": self.threshold,
            "ThresholdApplied": self.count_before > 0 and self.threshold is not None,
            "MoveFromOwners": self.move_from_owners,
            "FaceLimit": MAX_FACES_PER_USER,
            "UserFaceCount": self.count_before,
            "UserFaceCountAfter": self.count_after,
            "UserStatus": user_status(self.count_after),
            "Faces": [f.as_dict() for f in self.faces],
            "MatchChecked": True,  # scored here; a remote plan (app.remote.remote_curation) says False
        }

    def associate_faces_response(self) -> dict:
        """The AssociateFaces response this plan gives (byte for byte what AWS-style callers expect)."""
        associated, unsuccessful = [], []
        for f in self.faces:
            if f.outcome in (ASSOCIATE, MOVE):
                associated.append({"FaceId": f.face_id})
            elif f.outcome == FAIL:
                entry: dict = {"FaceId": f.face_id, "UserId": f.owner_id if DIFFERENT_USER in f.reasons else self.user.user_id}
                if f.confidence is not None:
                    entry["Confidence"] = f.confidence
                entry["Reasons"] = list(f.reasons)
                unsuccessful.append(entry)
        return {"AssociatedFaces": associated, "UnsuccessfulFaceAssociations": unsuccessful,
                "UserStatus": user_status(self.count_after)}


def faces_by_id(conn: sqlite3.Connection, collection_pk: int, face_ids: list[str]) -> dict:
    """FaceId -> (pk, user pk, UserId, descriptor) of the collection's faces among `face_ids`."""
    return face_keys.face_rows(conn, collection_pk, face_ids, "f.pk, f.user_pk, u.user_id, f.descriptor",
                               "LEFT JOIN users u ON u.pk = f.user_pk")


def user_mean(conn: sqlite3.Connection, user_pk: int):
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


@dataclass(frozen=True)
class FaceFacts:
    """What the admission rule needs to know of one requested face."""

    face_id: str
    found: bool
    owner_id: str | None = None  # the user that owns it now (None: free)
    pk: int | None = None
    owner_pk: int | None = None
    score: float | None = None  # its similarity to the user, when one was computed


def admit_faces(facts: list[FaceFacts], user_id: str, count_before: int, threshold: float | None,
                move_from_owners: bool) -> list[PlannedFace]:
    """The admission rule (the module docstring), face by face in request order: the one place it is written.

    The local plan gives it scores from the descriptors; the remote adapter, which has none, gives
    it none (no LOW_MATCH_CONFIDENCE then: the endpoint decides the match when the write runs).
    """
    planned, running = [], count_before
    for f in facts:
        if not f.found:
            planned.append(PlannedFace(f.face_id, FAIL, reasons=[FACE_NOT_FOUND]))
            continue
        if f.owner_id == user_id:
            planned.append(PlannedFace(f.face_id, ALREADY_ASSOCIATED, f.pk, f.owner_pk))
            continue
        face = PlannedFace(f.face_id, FAIL, f.pk, f.owner_pk, f.owner_id,
                           confidence=None if f.score is None else round(f.score, 4))
        if f.owner_id is not None and not move_from_owners:
            face.reasons.append(DIFFERENT_USER)
        if f.score is not None and threshold is not None and f.score < threshold:
            face.reasons.append(LOW_MATCH_CONFIDENCE)
        if running >= MAX_FACES_PER_USER:
            face.reasons.append(USER_FACE_LIMIT_EXCEEDED)
        if not face.reasons:
            running += 1
            face.outcome = MOVE if f.owner_id is not None else ASSOCIATE
            face.running_count = running
        planned.append(face)
    return planned


def plan_association(conn: sqlite3.Connection, coll: CollectionRow, user: UserRow, face_ids: list[str],
                     threshold: float | None, move_from_owners: bool = False) -> AssociationPlan:
    """What associating `face_ids` with `user` would do now, without writing anything."""
    face_ids = unique_ids(face_ids)
    found = faces_by_id(conn, coll.pk, face_ids)
    mean, count = user_mean(conn, user.pk)
    scores: dict[str, float] = {}
    if count:
        scored = [fid for fid in face_ids if fid in found and found[fid][1] != user.pk]
        if scored:
            vectors = np.stack([np.frombuffer(found[fid][3], dtype=np.float32) for fid in scored])
            values = score_against_user(scale_for(coll.model_version), vectors, mean, count)
            scores = {fid: float(s) for fid, s in zip(scored, values, strict=True)}
    facts = []
    for fid in face_ids:
        if fid not in found:
            facts.append(FaceFacts(fid, found=False))
            continue
        pk, owner_pk, owner_id, _blob = found[fid]
        facts.append(FaceFacts(fid, True, owner_id, pk, owner_pk, scores.get(fid)))
    planned = admit_faces(facts, user.user_id, count, threshold, move_from_owners)
    return AssociationPlan(coll, user, threshold, move_from_owners, count, planned)
