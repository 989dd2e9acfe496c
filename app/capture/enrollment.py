"""Webcam enrollment: collect good, varied frames of one face, check whose face it is, and store
them as a user's faces.

The pieces, in the order a capture worker uses them:
- EnrollmentCollector / capture_frames (frame_collector.py) with the rules of frame_hints.py
  and frame_selection.py: per-frame hints for the operator and the kept CapturedFrames.
- owner_check(): does the face in view already belong to ANOTHER user (SearchUsersByImage on
  the frames' JPEGs, at the enrollment's UserMatchThreshold)? The caller warns before enrolling.
- enroll(): CreateUser when the user is missing, IndexFaces for every frame in ONE transaction
  (engine.store_analyzed), then AssociateFaces of the new faces at the chosen threshold.

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
        }


def enroll(engine, collection_id: str, user_id: str, captured: Iterable[CapturedFrame],
           threshold: float = DEFAULT_USER_MATCH_THRESHOLD, create_user: bool = True, *,
           quality_filter: str = "AUTO", on_step: Callable[[str], None] | None = None) -> EnrollmentResult:
    """Store `captured` as faces of `user_id` (created when missing and create_user is true).

    Raises the engine's typed errors (ResourceNotFoundException for an unknown collection, or an
    unknown user with create_user=False; InvalidParameterException for bad ids, thresholds or
    frames of another face model) before anything is written. `on_step(operation)` is called
    before each engine write ("CreateUser", "IndexFaces", "AssociateFaces").
    """
    frames = list(captured)
    if not frames:
        raise InvalidParameterException("Enrollment needs at least one captured frame")
    if len(frames) > MAX_FACES_PER_USER:
        raise InvalidParameterException(f"Enrollment takes at most {MAX_FACES_PER_USER} frames (a user holds at most "
                                        f"{MAX_FACES_PER_USER} faces), got {len(frames)}")
    threshold = float(threshold)
    step = on_step or (lambda _operation: None)
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

    items, stored_ids, skipped = [], [], []
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
        stored_ids.append(ext)
    if not items:
        raise InvalidParameterException(f"None of the {len(frames)} frames has a face that passes QualityFilter "
                                        f"{quality_filter}: {skipped[0]['Reasons']}")

    created = False
    if not exists:
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
    face_ids = [r["FaceRecords"][0]["Face"]["FaceId"] for r in responses if r["FaceRecords"]]
    if face_ids:
        step("AssociateFaces")
        association = engine.associate_faces(CollectionId=collection_id, UserId=user_id, FaceIds=face_ids,
                                             UserMatchThreshold=threshold)
    else:  # cannot happen after the quality pre-check; AssociateFaces takes at least one FaceId
        status = engine.describe_user(collection_id, user_id)["UserStatus"]
        association = {"AssociatedFaces": [], "UnsuccessfulFaceAssociations": [], "UserStatus": status}
    return EnrollmentResult(collection_id, user_id, created, threshold, face_ids, stored_ids, responses, association,
                            skipped)


def _delete_created_user(engine, collection_id: str, user_id: str) -> None:
    try:
        engine.delete_user(CollectionId=collection_id, UserId=user_id)
    except Exception:
        pass  # the error that made us undo is the one to report


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
