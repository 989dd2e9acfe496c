"""What a drop would do, face by face, read from the backend's PlanAssociation (no Qt here).

The window decides nothing itself: the rows are the plan's faces as the engine's one decision
function returned them (MoveFaces and AssociateFaces call the same function, so the preview is
the outcome). A remote endpoint plans from ListFaces alone (MatchChecked false): the faces it
admits are UNCHECKED, and the endpoint decides the match when the association runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DIFFERENT_USER = "ASSOCIATED_TO_A_DIFFERENT_USER"

ASSOCIATE = "ASSOCIATE"
MOVE = "MOVE"
FAIL = "FAIL"
ALREADY = "ALREADY_ASSOCIATED"  # on this user already: the engine ignores it
UNCHECKED = "UNCHECKED"  # admitted without a match check (remote endpoint): the outcome will tell


@dataclass
class PreviewRow:
    face_id: str
    outcome: str
    reasons: list[str] = field(default_factory=list)
    confidence: float | None = None
    owner: str | None = None  # the other user that owns the face now


@dataclass(frozen=True)
class AssociationRequest:
    """What the operator confirmed: the write the worker sends (MoveFaces)."""

    collection_id: str
    user_id: str
    face_ids: tuple[str, ...]
    threshold: float
    move: bool  # take faces from their current owners

    def __post_init__(self) -> None:
        if not self.face_ids:
            raise ValueError("an association needs at least one face")


def plan_request(collection_id: str, user_id: str, face_ids, threshold: float, move: bool) -> dict:
    return {"CollectionId": collection_id, "UserId": user_id, "FaceIds": list(face_ids),
            "UserMatchThreshold": float(threshold), "MoveFromOwners": bool(move)}


def plan_job(engine, request: dict, worker=None) -> dict:
    """PlanAssociation for a plan_request (a job for the operation runner)."""
    return engine.plan_association(**request)


def rows_from_plan(plan: dict) -> list[PreviewRow]:
    checked = plan.get("MatchChecked", True)
    rows = []
    for f in plan["Faces"]:
        outcome = f["Outcome"]
        if outcome == ASSOCIATE and not checked:
            outcome = UNCHECKED
        rows.append(PreviewRow(f["FaceId"], outcome, list(f.get("Reasons", [])), f.get("Confidence"), f.get("OwnerUserId")))
    return rows


def has_owned_faces(rows: list[PreviewRow]) -> bool:
    """Some face belongs to another user (the operator chooses whether to move it)."""
    return any(r.owner is not None for r in rows)


def summary(rows: list[PreviewRow]) -> str:
    n = {k: sum(r.outcome == k for r in rows) for k in (ASSOCIATE, MOVE, FAIL, ALREADY, UNCHECKED)}
    parts = [f"{n[ASSOCIATE]} would be associated"] if n[ASSOCIATE] or not n[UNCHECKED] else []
    if n[UNCHECKED]:
        parts.append(f"{n[UNCHECKED]} will be sent for the endpoint to match")
    if n[MOVE]:
        parts.append(f"{n[MOVE]} would move from other users")
    parts.append(f"{n[FAIL]} would not be associated")
    if n[ALREADY]:
        parts.append(f"{n[ALREADY]} already on this user")
    return ", ".join(parts)


def first_batch_outliers(engine, collection_id: str, face_ids, threshold: float, worker=None, *, sample: int = 20,
                         neighbours: int = 512) -> list[str]:
    """Faces of a first batch (a user with no faces yet) that match fewer than half of the others.

    The engine accepts a user's first batch without a threshold check (AWS behaviour), so the
    window warns instead. At most `sample` faces are checked, one SearchFaces each, looking at
    the `neighbours` most similar faces (the same person ranks well inside those).
    """
    ids = list(dict.fromkeys(face_ids))[:sample]
    if len(ids) < 2 or threshold <= 0:
        return []  # at threshold 0 every face matches every other
    others = set(ids)
    outliers = []
    for fid in ids:
        if worker is not None:
            worker.check_cancelled()
        r = engine.search_faces(CollectionId=collection_id, FaceId=fid, FaceMatchThreshold=float(threshold),
                                MaxFaces=neighbours)
        matched = {m["Face"]["FaceId"] for m in r["FaceMatches"]} & (others - {fid})
        if len(matched) * 2 < len(ids) - 1:
            outliers.append(fid)
    return outliers
