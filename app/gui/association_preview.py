"""What a drop would do, face by face, from the engine's dry run (no Qt here).

The engine's preview_association is the AssociateFaces decision without the write. When the
user also chooses to move faces owned by other users, those faces will be free by the time the
association runs, so the 100-face cap is re-simulated in request order exactly the way the
engine admits faces; the preview then agrees with the outcome.

A remote endpoint has no dry run: `ownership_preview` builds the same shape from ListFaces
alone (missing faces, faces owned by other users, the 100-face cap), and the faces it cannot
decide for are UNCHECKED: the endpoint decides the match when the association runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.association_plan import MAX_FACES_PER_USER, USER_FACE_LIMIT_EXCEEDED

DIFFERENT_USER = "ASSOCIATED_TO_A_DIFFERENT_USER"

ASSOCIATE = "ASSOCIATE"
MOVE = "MOVE"
FAIL = "FAIL"
ALREADY = "ALREADY"  # on this user already: the engine ignores it
UNCHECKED = "UNCHECKED"  # sent without a match preview (remote endpoint): the outcome will tell


@dataclass
class PreviewRow:
    face_id: str
    outcome: str
    reasons: list[str] = field(default_factory=list)
    confidence: float | None = None
    owner: str | None = None  # the other user that owns the face now

    @property
    def movable(self) -> bool:
        """Owned by another user and nothing else stands in the way (the cap is re-checked)."""
        return self.owner is not None and not (set(self.reasons) - {DIFFERENT_USER, USER_FACE_LIMIT_EXCEEDED})


def preview_rows(face_ids, preview: dict, user_face_count: int, move: bool, checked: bool = True) -> list[PreviewRow]:
    """`checked` False: the preview decided no match (ownership_preview), so admitted faces are UNCHECKED."""
    associated = {f["FaceId"] for f in preview["AssociatedFaces"]}
    failed = {f["FaceId"]: f for f in preview["UnsuccessfulFaceAssociations"]}
    rows, count = [], user_face_count
    for fid in dict.fromkeys(face_ids):
        if fid in associated:
            row = PreviewRow(fid, ASSOCIATE)
        elif fid in failed:
            f = failed[fid]
            owner = f.get("UserId") if DIFFERENT_USER in f["Reasons"] else None
            row = PreviewRow(fid, FAIL, list(f["Reasons"]), f.get("Confidence"), owner)
        else:
            rows.append(PreviewRow(fid, ALREADY))
            continue
        if row.reasons == ["FACE_NOT_FOUND"]:
            rows.append(row)
            continue
        # re-run the engine's admission rule: every other reason, then the cap by running count
        others = [r for r in row.reasons if r != USER_FACE_LIMIT_EXCEEDED]
        if move and row.movable:
            others = [r for r in others if r != DIFFERENT_USER]
        if count >= MAX_FACES_PER_USER:
            others.append(USER_FACE_LIMIT_EXCEEDED)
        if others:
            row.outcome, row.reasons = FAIL, others
        else:
            row.outcome = MOVE if row.owner is not None else ASSOCIATE if checked else UNCHECKED
            row.reasons = []
            count += 1
        rows.append(row)
    return rows


def planned_moves(rows: list[PreviewRow]) -> dict[str, list[str]]:
    moves: dict[str, list[str]] = {}
    for row in rows:
        if row.outcome == MOVE:
            moves.setdefault(row.owner, []).append(row.face_id)
    return moves


def ownership_preview(engine, collection_id: str, user_id: str, face_ids) -> dict:
    """An AssociateFaces-shaped preview from ListFaces alone, for endpoints with no dry run.

    Faces not found and faces owned by another user fail as AssociateFaces would report them;
    faces already on the user are left out (ignored); the others are listed as associated, to be
    read with preview_rows(..., checked=False): no match confidence was computed for them.
    """
    ids = list(dict.fromkeys(face_ids))
    faces = {f["FaceId"]: f for f in engine.list_faces(CollectionId=collection_id, FaceIds=ids,
                                                        MaxResults=len(ids))["Faces"]}
    free, failed = [], []
    for fid in ids:
        owner = faces[fid].get("UserId") if fid in faces else None
        if fid not in faces:
            failed.append({"FaceId": fid, "Reasons": ["FACE_NOT_FOUND"]})
        elif owner is None:
            free.append({"FaceId": fid})
        elif owner != user_id:
            failed.append({"FaceId": fid, "UserId": owner, "Reasons": [DIFFERENT_USER]})
    return {"AssociatedFaces": free, "UnsuccessfulFaceAssociations": failed}


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
