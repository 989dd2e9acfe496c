"""Webcam enrollment: collect good, varied frames of one face, check whose face it is, and store
them as a user's faces.

The pieces, in the order a capture worker uses them:
- EnrollmentCollector / capture_frames (frame_collector.py) with the rules of frame_hints.py
  and frame_selection.py: per-frame hints for the operator and the kept CapturedFrames.
- owner_check(): does the face in view already belong to ANOTHER user (SearchUsersByImage on
  the frames' JPEGs, at the enrollment's UserMatchThreshold)? The caller warns before enrolling.
- match_check(): would the frames be associated with the chosen EXISTING user? Asked of the
  engine's plan (engine.plan_analyzed: PlanAssociation's own rule and scores for the faces the
  frames would index), writing nothing. check_enrollment() runs both checks.
- enroll(): CreateUser when the user is missing, IndexFaces for every frame in ONE transaction
  (engine.store_analyzed), then AssociateFaces of the new faces at the chosen threshold. With
  only_matching=True it stores only the frames the plan admits, and deletes again any face the
  association still refused, so no frame is kept unassociated unless the operator said so.

Each frame is stored as its JPEG, under ExternalImageId "enroll-<UserId>-<UTC time of the first
frame, YYYYMMDDTHHMMSSZ>-<n>" (n from 1). FaceIds derive from the JPEG's bytes and that id,
so enrolling the same captured frames again stores nothing new and reuses the same FaceIds.

For a GUI capture worker (a QThread that owns the source; nothing here imports Qt):

    source = source_for(spec)                      # GUI thread: InvalidSourceError for a bad spec
    # in the worker thread (cameras want to be opened and read on one thread):
    analyzer = engine.analyzer_for_collection(C)   # the collection's analyzer (the first call loads models)
    outcome = capture_frames(source, analyzer, N, same_person_threshold=T, realtime=True,
                             on_frame=preview,       # every frame read, worker thread: emit it
                             on_verdict=hint,        # every analysed frame, analysis thread: emit it
                             should_stop=cancelled, max_seconds=S)
    # SourceUnavailableError: nothing could be read. A camera unplugged mid-way is not raised:
    # outcome.ended == SOURCE_STOPPED, outcome.error says why, outcome.captured holds what was kept.
    check = owner_check(engine, C, U, outcome.captured, T)    # warn when check.known_elsewhere
    result = enroll(engine, C, U, outcome.captured, T)        # result.association as for drag and drop

A worker that runs its own loop feeds an EnrollmentCollector instead: submit(rgb) per frame
(returns at once; frames are dropped while analysis is busy), `done`, `captured`, close().
Preview boxes: FrameVerdict.faces of the latest verdict, or analyzer.detect_rgb(rgb) per shown
frame (it waits while an analysis holds the analyzer; see bench/bench_enrollment.py).

Failure handling: the three steps are three transactions. When IndexFaces fails, a user this
call created is deleted again, so the workspace is as before. When AssociateFaces fails (only
a storage error can do that once the checks passed), the frames stay indexed and unassigned;
enroll() with the same frames finishes the job.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from app.core.analysis import ImageAnalysis
from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD, MAX_FACES_PER_USER
from app.core.errors import ConflictException, InvalidParameterException, ResourceNotFoundException
from app.core.face_ops import AnalyzedImage
from app.core.quality import quality_reasons
from app.core.validation import validate_request
from app.vision.face_detail import jpeg

from .frame_collector import (  # noqa: F401  (the capture side of enrollment, re-exported)
    COMPLETE,
    END_OF_STREAM,
    FRAME_LIMIT,
    SOURCE_STOPPED,
    STOPPED,
    TIME_LIMIT,
    CaptureOutcome,
    EnrollmentCollector,
    capture_frames,
)
from .frame_hints import FrameHint, HintRules  # noqa: F401
from .frame_selection import DEFAULT_FRAMES, CapturedFrame, FrameSelector, FrameVerdict, SelectionRules  # noqa: F401

_ANY_FACE_ID = "00000000-0000-0000-0000-000000000000"  # stands in for FaceIds when checking a request early


def external_image_id(user_id: str, captured_at: float, n: int) -> str:
    return f"enroll-{user_id}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(captured_at))}-{n}"


class FramesDoNotMatch(InvalidParameterException):
    """enroll(only_matching=True) found no frame that the user would take; nothing was written."""

    def __init__(self, check: MatchCheck):
        super().__init__(check.message() or f"None of the frames would be associated with {check.user_id}")
        self.check = check


@dataclass
class EnrollmentResult:
    collection_id: str
    user_id: str
    user_created: bool
    threshold: float
    face_ids: list[str]  # indexed FaceIds, in frame order
    external_image_ids: list[str]  # of the stored frames, in frame order
    index_responses: list[dict]  # the IndexFaces response of each stored frame
    association: dict  # the AssociateFaces response
    skipped_frames: list[dict] = field(default_factory=list)  # frames not stored: {"FrameIndex", "Reasons"}
    frames: list = field(default_factory=list)  # the CapturedFrames whose faces are stored now (what a redo stores)
    # frames not stored because the user would not take them (only_matching): {"FrameIndex", "Reasons", "Confidence"}
    unmatched_frames: list[dict] = field(default_factory=list)

    @property
    def associated_face_ids(self) -> list[str]:
        return [f["FaceId"] for f in self.association.get("AssociatedFaces", [])]

    @property
    def unsuccessful(self) -> list[dict]:
        """UnsuccessfulFaceAssociations: FaceId, UserId, Reasons, Confidence when scored."""
        return list(self.association.get("UnsuccessfulFaceAssociations", []))

    def response(self) -> dict:
        """The AssociateFaces response plus what enrollment created (the CLI prints this)."""
        indexed = [r["FaceRecords"][0]["Face"] for r in self.index_responses if r.get("FaceRecords")]
        return {
            **self.association,
            "CollectionId": self.collection_id,
            "UserId": self.user_id,
            "UserCreated": self.user_created,
            "UserMatchThreshold": self.threshold,
            "IndexedFaces": indexed,
            **({"SkippedFrames": self.skipped_frames} if self.skipped_frames else {}),
            **({"UnmatchedFrames": self.unmatched_frames} if self.unmatched_frames else {}),
        }


@dataclass
class _Prepared:
    """Frames ready to store: the AnalyzedImages, and which frame each one is."""

    exists: bool
    items: list
    item_frames: list
    stored_ids: list[str]
    skipped: list[dict]


def _prepare(engine, collection_id: str, user_id: str, frames: list, threshold: float, create_user: bool,
             quality_filter: str) -> _Prepared:
    """Check the request and the frames, and make them AnalyzedImages; nothing is written."""
    if not frames:
        raise InvalidParameterException("Enrollment needs at least one captured frame")
    if len(frames) > MAX_FACES_PER_USER:
        raise InvalidParameterException(f"Enrollment takes at most {MAX_FACES_PER_USER} frames (a user holds at most "
                                        f"{MAX_FACES_PER_USER} faces), got {len(frames)}")
    validate_request("CreateUser", {"CollectionId": collection_id, "UserId": user_id})
    validate_request("AssociateFaces", {"CollectionId": collection_id, "UserId": user_id, "FaceIds": [_ANY_FACE_ID],
                                        "UserMatchThreshold": threshold})
    first = frames[0].captured_at
    external_ids = [external_image_id(user_id, first, n) for n in range(1, len(frames) + 1)]
    for ext in external_ids:
        validate_request("IndexFaces", {"CollectionId": collection_id, "Image": {"Bytes": b"\0"}, "ExternalImageId": ext,
                                        "MaxFaces": 1, "QualityFilter": quality_filter})

    model_version = engine.describe_collection(CollectionId=collection_id)["FaceModelVersion"]
    try:
        engine.describe_user(collection_id, user_id)
        exists = True
    except ResourceNotFoundException:
        if not create_user:
            raise
        exists = False
    for frame in frames:
        if frame.model_version != model_version:
            raise InvalidParameterException(
                f"Collection {collection_id} uses face model {model_version}, but the frames were analysed "
                f"with {frame.model_version}; faces from different models are never compared")

    items, item_frames, stored_ids, skipped = [], [], [], []
    for frame, ext in zip(frames, external_ids, strict=True):
        reasons = quality_reasons(frame.face, frame.width, frame.height, quality_filter)
        if reasons:  # its face would not be indexed: store nothing of it
            skipped.append({"FrameIndex": frame.frame_index, "ExternalImageId": ext, "Reasons": reasons})
            continue
        digest = hashlib.sha256(frame.jpeg).hexdigest()
        request = {"CollectionId": collection_id, "ExternalImageId": ext, "MaxFaces": 1, "QualityFilter": quality_filter,
                   "Image": {"Bytes": {"Sha256": digest, "Size": len(frame.jpeg)}},
                   "Enrollment": {"UserId": user_id, "FrameIndex": frame.frame_index,
                                  "CapturedAt": round(frame.captured_at, 3)}}
        analysis = ImageAnalysis(width=frame.width, height=frame.height, faces=list(frame.faces), preview=frame.preview)
        items.append(AnalyzedImage(digest, ext, analysis, request))
        item_frames.append(frame)
        stored_ids.append(ext)
    if not items:
        raise InvalidParameterException(f"None of the {len(frames)} frames has a face that passes QualityFilter "
                                        f"{quality_filter}: {skipped[0]['Reasons']}")
    return _Prepared(exists, items, item_frames, stored_ids, skipped)


def enroll(engine, collection_id: str, user_id: str, captured: Iterable[CapturedFrame],
           threshold: float = DEFAULT_USER_MATCH_THRESHOLD, create_user: bool = True, *,
           quality_filter: str = "AUTO", on_step: Callable[[str], None] | None = None,
           only_matching: bool = False) -> EnrollmentResult:
    """Store `captured` as faces of `user_id` (created when missing and create_user is true).

    Raises the engine's typed errors (ResourceNotFoundException for an unknown collection, or an
    unknown user with create_user=False; InvalidParameterException for bad ids, thresholds or
    frames of another face model) before anything is written. `on_step(operation)` is called
    before each engine write ("CreateUser", "IndexFaces", "AssociateFaces", "DeleteFaces").

    only_matching: store only the frames the engine's plan says the user would take (an existing
    user with faces takes those that match it at `threshold`); FramesDoNotMatch, before anything
    is written, when there are none. A face the association still refuses (the workspace changed
    since the plan) is deleted again in the same call.
    """
    frames = list(captured)
    threshold = float(threshold)
    step = on_step or (lambda _operation: None)
    prepared = _prepare(engine, collection_id, user_id, frames, threshold, create_user, quality_filter)
    items, item_frames, stored_ids = prepared.items, prepared.item_frames, prepared.stored_ids
    unmatched: list[dict] = []
    if only_matching and prepared.exists:
        check = _match_check(engine, collection_id, user_id, item_frames, items, threshold, quality_filter)
        if not check.matching:
            raise FramesDoNotMatch(check)
        keep = set(check.matching)
        unmatched = [_unmatched(f) for i, f in enumerate(check.frames) if i not in keep]
        items = [x for i, x in enumerate(items) if i in keep]
        item_frames = [x for i, x in enumerate(item_frames) if i in keep]
        stored_ids = [x for i, x in enumerate(stored_ids) if i in keep]

    created = False
    if not prepared.exists:
        step("CreateUser")
        try:
            engine.create_user(CollectionId=collection_id, UserId=user_id)
            created = True
        except ConflictException:
            pass  # created by someone else in the meantime: enroll into it
    try:
        step("IndexFaces")
        responses = engine.store_analyzed(collection_id, items, quality_filter, 1)
    except BaseException:
        if created:
            _delete_created_user(engine, collection_id, user_id)
        raise
    face_of_item = [r["FaceRecords"][0]["Face"]["FaceId"] if r["FaceRecords"] else None for r in responses]
    face_ids = [f for f in face_of_item if f is not None]
    kept_frames = [fr for fr, fid in zip(item_frames, face_of_item, strict=True) if fid is not None]
    if face_ids:
        step("AssociateFaces")
        association = engine.associate_faces(CollectionId=collection_id, UserId=user_id, FaceIds=face_ids,
                                             UserMatchThreshold=threshold)
    else:  # cannot happen after the quality pre-check; AssociateFaces takes at least one FaceId
        status = engine.describe_user(collection_id, user_id)["UserStatus"]
        association = {"AssociatedFaces": [], "UnsuccessfulFaceAssociations": [], "UserStatus": status}
    refused = {f["FaceId"]: f for f in association["UnsuccessfulFaceAssociations"]}
    if only_matching and refused:
        # the workspace changed since the plan: a face the user did not take is not kept
        step("DeleteFaces")
        engine.delete_faces(CollectionId=collection_id, FaceIds=sorted(refused))
        for fid, frame in zip(face_ids, kept_frames, strict=True):
            if fid in refused:
                unmatched.append(_unmatched({**refused[fid], "FrameIndex": frame.frame_index}))
        responses = [r for r, fid in zip(responses, face_of_item, strict=True) if fid not in refused]
        stored_ids = [x for x, fid in zip(stored_ids, face_of_item, strict=True) if fid not in refused]
        kept_frames = [fr for fr, fid in zip(kept_frames, face_ids, strict=True) if fid not in refused]
        face_ids = [fid for fid in face_ids if fid not in refused]
        association = {**association, "UnsuccessfulFaceAssociations": []}
    return EnrollmentResult(collection_id, user_id, created, threshold, face_ids, stored_ids, responses, association,
                            prepared.skipped, kept_frames, unmatched)


def _unmatched(face: dict) -> dict:
    return {"FrameIndex": face["FrameIndex"], "Reasons": list(face["Reasons"]),
            **({"Confidence": face["Confidence"]} if face.get("Confidence") is not None else {})}


def _delete_created_user(engine, collection_id: str, user_id: str) -> None:
    try:
        engine.delete_user(CollectionId=collection_id, UserId=user_id)
    except Exception:
        pass  # the error that made us undo is the one to report


@dataclass(frozen=True)
class MatchCheck:
    """Would the frames be associated with an existing user? The engine's plan, frame by frame."""

    user_id: str
    threshold: float
    user_exists: bool
    user_face_count: int  # before the enrollment; 0: the first batch is taken unscored (AWS behaviour)
    frames: tuple = ()  # per frame the plan covered: {"FrameIndex", "FaceId", "Outcome", "Reasons", "Confidence"}

    @property
    def matching(self) -> list[int]:
        """Positions (in `frames`) of the frames the user would take."""
        return [i for i, f in enumerate(self.frames) if f["Outcome"] in ("ASSOCIATE", "ALREADY_ASSOCIATED")]

    @property
    def failing(self) -> list[dict]:
        keep = set(self.matching)
        return [f for i, f in enumerate(self.frames) if i not in keep]

    def message(self) -> str | None:
        """Why frames would not be associated, in plain words ("These frames do not look like katy: 11 < 75")."""
        failing = self.failing
        if not failing:
            return None
        which = "These frames" if len(failing) == len(self.frames) else f"{len(failing)} of the {len(self.frames)} frames"
        low = [f["Confidence"] for f in failing if "LOW_MATCH_CONFIDENCE" in f["Reasons"] and "Confidence" in f]
        if low:
            return f"{which} do not look like {self.user_id}: {max(low):.0f} < {self.threshold:g}"
        if any("USER_FACE_LIMIT_EXCEEDED" in f["Reasons"] for f in failing):
            return f"{which} would take {self.user_id} past {MAX_FACES_PER_USER} faces"
        reasons = sorted({r for f in failing for r in f["Reasons"]})
        return f"{which} would not be associated with {self.user_id} ({', '.join(reasons)})"


def _match_check(engine, collection_id: str, user_id: str, frames: list, items: list, threshold: float,
                 quality_filter: str) -> MatchCheck:
    plan = engine.plan_analyzed(collection_id, user_id, items, threshold, quality_filter, 1)
    outcomes = {f["FaceId"]: f for f in plan["Faces"]}
    per_frame = []
    for frame, fids in zip(frames, plan["ImageFaceIds"], strict=True):
        face: dict = outcomes[fids[0]] if fids else {"FaceId": None, "Outcome": "FAIL", "Reasons": ["NO_FACE_INDEXED"]}
        per_frame.append({"FrameIndex": frame.frame_index, "FaceId": face["FaceId"], "Outcome": face["Outcome"],
                          "Reasons": list(face.get("Reasons", [])),
                          **({"Confidence": face["Confidence"]} if face.get("Confidence") is not None else {})})
    return MatchCheck(user_id, threshold, True, plan["UserFaceCount"], tuple(per_frame))


def match_check(engine, collection_id: str, user_id: str, frames, threshold: float = DEFAULT_USER_MATCH_THRESHOLD,
                quality_filter: str = "AUTO") -> MatchCheck:
    """Would `frames` be associated with `user_id` as enroll() would store and associate them?

    Asked of the engine's plan (plan_analyzed: PlanAssociation's rule on the faces the frames would
    index); nothing is written. A user that does not exist yet takes every frame (user_exists False).
    """
    frames = list(frames)
    prepared = _prepare(engine, collection_id, user_id, frames, float(threshold), True, quality_filter)
    if not prepared.exists:
        return MatchCheck(user_id, float(threshold), False, 0,
                          tuple({"FrameIndex": f.frame_index, "FaceId": None, "Outcome": "ASSOCIATE", "Reasons": []}
                                for f in prepared.item_frames))
    return _match_check(engine, collection_id, user_id, prepared.item_frames, prepared.items, float(threshold),
                        quality_filter)


@dataclass(frozen=True)
class EnrollmentCheck:
    """What the operator is asked about before a frame is written: whose face it is (owner), and
    whether the chosen user would take the frames (match)."""

    owner: OwnerCheck
    match: MatchCheck


def check_enrollment(engine, collection_id: str, user_id: str, frames, threshold: float = DEFAULT_USER_MATCH_THRESHOLD,
                     quality_filter: str = "AUTO") -> EnrollmentCheck:
    frames = list(frames)
    return EnrollmentCheck(owner_check(engine, collection_id, user_id, frames, threshold),
                           match_check(engine, collection_id, user_id, frames, threshold, quality_filter))


@dataclass(frozen=True)
class OwnerCheck:
    """Whose face is in view, by SearchUsersByImage on the frames (best similarity over them)."""

    user_id: str | None  # the user being enrolled
    threshold: float
    matches: tuple  # other users at or above the threshold, best first: {"UserId", "Similarity"}
    own_similarity: float | None  # the user being enrolled, when it has faces and matched
    frames_checked: int

    @property
    def known_elsewhere(self) -> bool:
        return bool(self.matches)

    @property
    def other_user_id(self) -> str | None:
        return self.matches[0]["UserId"] if self.matches else None

    @property
    def similarity(self) -> float | None:
        return self.matches[0]["Similarity"] if self.matches else None

    def message(self) -> str | None:
        if not self.matches:
            return None
        return (f"this face already belongs to user {self.other_user_id} (similarity {self.similarity:.1f}, "
                f"threshold {self.threshold:g})")


def owner_check(engine, collection_id: str, user_id: str | None, frames,
                threshold: float = DEFAULT_USER_MATCH_THRESHOLD, max_frames: int = 3) -> OwnerCheck:
    """Users other than `user_id` whose faces match the face in `frames` at >= `threshold`.

    `frames`: CapturedFrames, RGB uint8 arrays or JPEG/PNG bytes (one, or an iterable); at most
    `max_frames` are searched. Nothing is written.
    """
    if isinstance(frames, (CapturedFrame, np.ndarray, bytes, bytearray)):
        frames = [frames]
    best: dict[str, float] = {}
    own = None
    checked = 0
    for frame in list(frames)[:max_frames]:
        if isinstance(frame, CapturedFrame):
            data = frame.jpeg
        elif isinstance(frame, np.ndarray):
            data = jpeg(frame, max(frame.shape[:2]))
        else:
            data = bytes(frame)
        response = engine.search_users_by_image(CollectionId=collection_id, Image={"Bytes": data},
                                                UserMatchThreshold=float(threshold))
        checked += 1
        for match in response.get("UserMatches", []):
            uid, similarity = match["User"]["UserId"], float(match["Similarity"])
            if uid == user_id:
                own = max(own or 0.0, similarity)
            else:
                best[uid] = max(best.get(uid, 0.0), similarity)
    matches = tuple({"UserId": uid, "Similarity": s} for uid, s in sorted(best.items(), key=lambda kv: (-kv[1], kv[0])))
    return OwnerCheck(user_id, float(threshold), matches, own, checked)
