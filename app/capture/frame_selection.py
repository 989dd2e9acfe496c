"""Choosing N good and varied frames of the one face in view, one frame at a time.

FrameSelector.consider(rgb) analyses a frame and says what the operator should hear (see
frame_hints.py). A GOOD frame is described (descriptor, thumbnail) and kept when:
- it shows the same person as the frames kept so far: its similarity to the mean of their
  descriptors, scored as AssociateFaces scores a face against a user, is at least
  `same_person_threshold` (the enrollment's UserMatchThreshold) -> else OTHER_PERSON;
  the first kept frame decides who is being enrolled (reset() starts over);
- and it adds something: its descriptor is at least `min_descriptor_step` of the model's
  same-person distance (similarity 80; 0.6 for dlib, so 0.12) away from every kept frame, or
  its yaw/pitch is at least `min_pose_step` degrees away from every kept frame's AND its
  descriptor at least `min_descriptor_step_with_pose` (0.06 for dlib) away -> else SIMILAR.
  Measured with dlib on the test photos: the same photo shifted a few pixels, turned 1-2
  degrees or made 4% brighter moves the descriptor 0.05-0.1, its mirror image 0.14-0.24,
  another photo of the same person 0.33-0.47. Pose read from five points is noisy (the
  same shifted photo moved Pitch by up to 17 degrees), so pose alone never proves a new view.

Analysis is two passes: detection, landmarks, pose and quality for every frame, and the
descriptor (the costly part) only for frames that pass the quality rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD, score_against_user
from app.core.similarity import scale_for
from app.vision.face_detail import PREVIEW_SIDE, jpeg

from .frame_hints import DEFAULT_HINT_RULES, FrameHint, HintRules, frame_hint

DEFAULT_FRAMES = 5


@dataclass(frozen=True)
class SelectionRules:
    hints: HintRules = DEFAULT_HINT_RULES
    min_descriptor_step: float = 0.2  # x the model's distance at similarity 80
    min_pose_step: float = 15.0  # degrees of yaw/pitch ...
    min_descriptor_step_with_pose: float = 0.1  # ... with at least this descriptor step (x the same distance)


DEFAULT_SELECTION_RULES = SelectionRules()


@dataclass(frozen=True, eq=False)
class CapturedFrame:
    """A kept frame: what enroll() stores. FaceIds derive from the JPEG's bytes."""

    rgb: np.ndarray  # the frame as analysed (RGB uint8)
    jpeg: bytes  # the image stored for it
    faces: tuple  # every face the analyzer found, described, in its order
    place: int  # index in `faces` of the one face being enrolled
    frame_index: int  # position in the stream (1 = first frame read)
    captured_at: float  # time.time() when it was read
    model_version: str  # the analyzer's: must match the collection's

    @property
    def face(self):
        return self.faces[self.place]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def preview(self) -> bytes:
        """The downscaled photo kept for the curation window (the JPEG itself at webcam sizes)."""
        if max(self.width, self.height) <= PREVIEW_SIDE:
            return self.jpeg
        return jpeg(self.rgb, PREVIEW_SIDE)


@dataclass(frozen=True, eq=False)
class FrameVerdict:
    """What one analysed frame gave: the hint, the faces seen, and whether it was kept."""

    hint: FrameHint
    faces: tuple  # AnalyzedFace of the frame (boxes as ratios), for an overlay
    frame_index: int
    width: int
    height: int
    kept: int  # frames kept so far, this one included
    target: int
    analysis_ms: float
    captured: CapturedFrame | None = None  # set when this frame was kept
    details: dict = field(default_factory=dict)  # numbers behind a SIMILAR/OTHER_PERSON hint

    @property
    def accepted(self) -> bool:
        return self.captured is not None

    @property
    def text(self) -> str:
        return self.hint.text


def as_rgb_frame(rgb) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 \
            or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        desc = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise ValueError(f"a frame must be an RGB uint8 array of shape (height, width, 3), got {desc}")
    return rgb


class FrameSelector:
    """Single-threaded selection state; EnrollmentCollector runs it off the capture thread."""

    def __init__(self, analyzer, frames: int = DEFAULT_FRAMES, same_person_threshold: float = DEFAULT_USER_MATCH_THRESHOLD,
                 rules: SelectionRules = DEFAULT_SELECTION_RULES):
        if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= 100:
            raise ValueError(f"frames must be a whole number from 1 to 100 (AssociateFaces takes 100), got {frames!r}")
        if not 0.0 <= float(same_person_threshold) <= 100.0:
            raise ValueError(f"same_person_threshold must be within 0..100, got {same_person_threshold}")
        self.analyzer = analyzer
        self.target = frames
        self.same_person_threshold = float(same_person_threshold)
        self.rules = rules
        self.model_version = analyzer.model_version
        self._scale = scale_for(self.model_version)
        same_person = self._scale.max_distance(80.0)
        self._descriptor_step = rules.min_descriptor_step * same_person
        self._pose_descriptor_step = rules.min_descriptor_step_with_pose * same_person
        self._kept: list[CapturedFrame] = []

    @property
    def captured(self) -> list[CapturedFrame]:
        return list(self._kept)

    @property
    def done(self) -> bool:
        return len(self._kept) >= self.target

    def reset(self) -> None:
        self._kept = []

    def consider(self, rgb, frame_index: int = 0, captured_at: float | None = None) -> FrameVerdict:
        rgb = as_rgb_frame(rgb)
        started = time.perf_counter()
        captured_at = time.time() if captured_at is None else captured_at
        height, width = rgb.shape[:2]

        def verdict(hint, faces, captured=None, **details):
            return FrameVerdict(hint, tuple(faces), frame_index, width, height, len(self._kept), self.target,
                                (time.perf_counter() - started) * 1000.0, captured, details)

        if self.done:
            return verdict(FrameHint.DONE, ())
        faces = self.analyzer.analyze_rgb(rgb, describe=False, thumbnails=False)
        hint, _face = frame_hint(faces, width, height, self.rules.hints)
        if hint is not FrameHint.GOOD:
            return verdict(hint, faces)
        # the same frame through the same detector finds the same faces, now described
        faces = self.analyzer.analyze_rgb(rgb, describe=True, thumbnails=True)
        hint, face = frame_hint(faces, width, height, self.rules.hints)
        if hint is not FrameHint.GOOD:
            return verdict(hint, faces)
        hint, details = self._novelty(face)
        if hint is not FrameHint.GOOD:
            return verdict(hint, faces, **details)
        frame = CapturedFrame(rgb=rgb, jpeg=jpeg(rgb, max(width, height)), faces=tuple(faces),
                              place=next(i for i, f in enumerate(faces) if f is face), frame_index=frame_index,
                              captured_at=captured_at, model_version=self.model_version)
        self._kept.append(frame)
        return verdict(FrameHint.GOOD, faces, frame, **details)

    def _novelty(self, face) -> tuple[FrameHint, dict]:
        if not self._kept:
            return FrameHint.GOOD, {}
        vector = np.asarray(face.descriptor, dtype=np.float32)
        kept = np.stack([np.asarray(k.face.descriptor, dtype=np.float32) for k in self._kept])
        similarity = float(score_against_user(self._scale, vector[None, :], kept.astype(np.float64).mean(axis=0),
                                              len(kept))[0])
        step = float(np.linalg.norm(kept - vector[None, :], axis=1).min())
        pose = face.pose or {}
        pose_step = min(float(np.hypot(pose.get("Yaw", 0.0) - (k.face.pose or {}).get("Yaw", 0.0),
                                       pose.get("Pitch", 0.0) - (k.face.pose or {}).get("Pitch", 0.0)))
                        for k in self._kept)
        details = {"Similarity": round(similarity, 3), "DescriptorStep": round(step, 4), "PoseStep": round(pose_step, 2)}
        if similarity < self.same_person_threshold:
            return FrameHint.OTHER_PERSON, details
        new_view = step >= self._descriptor_step or (pose_step >= self.rules.min_pose_step
                                                      and step >= self._pose_descriptor_step)
        if not new_view:
            return FrameHint.SIMILAR, details
        return FrameHint.GOOD, details
