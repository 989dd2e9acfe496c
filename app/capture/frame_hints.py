"""What the operator is told about one camera frame, from the analyzer's faces in it.

The rules, checked in this order (the first that applies is the hint; defaults in HintRules):
1. Faces that count: detector confidence >= 50 and box shorter side >= 20 px (anything less
   could not be indexed even under QualityFilter AUTO). None -> NO_FACE.
2. More than one -> SEVERAL_FACES.
3. Box shorter side < 80 px -> TOO_SMALL (the dlib face chip is 150 px; smaller faces are
   upsampled about 2x or more and describe worse).
4. Box touching the frame's edge (within 0.5% of it) -> PARTLY_OUTSIDE (the landmarks of a cut
   face are guesses).
5. Detector confidence < 90 (QualityFilter HIGH's bar) -> UNCLEAR.
6. Quality.Brightness < 25 -> TOO_DARK; > 95 -> TOO_BRIGHT (HIGH's bar).
7. Quality.Sharpness < 20 -> BLURRY (HIGH's bar).
8. |Pose.Yaw| > 30 deg -> TURN_LEFT / TURN_RIGHT; |Pose.Pitch| > 25 deg -> LOOK_UP / LOOK_DOWN
   (stricter than HIGH's 40 / 30: enrollment wants mostly frontal faces, with some spread).
9. Otherwise GOOD.
A GOOD face therefore passes IndexFaces' QualityFilter HIGH.

Directions are the person's own: a positive Yaw (nose right of the face's midline in the
image) means, in an unmirrored camera image, that the person turned to their own left, so
the hint is "turn a little right". Set HintRules.mirrored for a source that mirrors its image.
Positive Pitch is a face tilted up, so the hint is "look down a little".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FrameHint(Enum):
    """(code, plain-language text for the operator)."""

    NO_FACE = ("no_face", "no face")
    SEVERAL_FACES = ("several_faces", "several faces — only one person please")
    TOO_SMALL = ("too_small", "too small — come closer")
    PARTLY_OUTSIDE = ("partly_outside", "face partly outside the picture — move to the middle")
    UNCLEAR = ("unclear", "face not clear — look into the camera")
    TOO_DARK = ("too_dark", "too dark")
    TOO_BRIGHT = ("too_bright", "too bright")
    BLURRY = ("blurry", "blurry — hold still")
    TURN_LEFT = ("turn_left", "turn a little left")
    TURN_RIGHT = ("turn_right", "turn a little right")
    LOOK_UP = ("look_up", "look up a little")
    LOOK_DOWN = ("look_down", "look down a little")
    GOOD = ("good", "good")
    # outcomes of a GOOD frame during collection (frame_selection.py)
    SIMILAR = ("similar", "good — now move your head a little")
    OTHER_PERSON = ("other_person", "a different face — only the person being enrolled please")
    DONE = ("done", "done — enough frames")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def text(self) -> str:
        return self.value[1]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class HintRules:
    min_counted_confidence: float = 50.0
    min_counted_pixels: float = 20.0
    min_face_pixels: float = 80.0
    edge_margin: float = 0.005  # of the frame's width / height
    min_confidence: float = 90.0
    min_brightness: float = 25.0
    max_brightness: float = 95.0
    min_sharpness: float = 20.0
    max_abs_yaw: float = 30.0
    max_abs_pitch: float = 25.0
    mirrored: bool = False


DEFAULT_HINT_RULES = HintRules()


def face_pixels(face, width: int, height: int) -> float:
    """The shorter side of the face box, in pixels."""
    box = face.bounding_box
    return min(box["Width"] * width, box["Height"] * height)


def counted_faces(faces, width: int, height: int, rules: HintRules = DEFAULT_HINT_RULES) -> list:
    return [f for f in faces
            if f.confidence >= rules.min_counted_confidence and face_pixels(f, width, height) >= rules.min_counted_pixels]


def _touches_edge(face, margin: float) -> bool:
    box = face.bounding_box
    return (box["Left"] <= margin or box["Top"] <= margin
            or box["Left"] + box["Width"] >= 1.0 - margin or box["Top"] + box["Height"] >= 1.0 - margin)


def frame_hint(faces, width: int, height: int, rules: HintRules = DEFAULT_HINT_RULES):
    """(FrameHint, the one counted face or None) for a frame whose analysis found `faces`."""
    counted = counted_faces(faces, width, height, rules)
    if not counted:
        return FrameHint.NO_FACE, None
    if len(counted) > 1:
        return FrameHint.SEVERAL_FACES, None
    face = counted[0]
    if face_pixels(face, width, height) < rules.min_face_pixels:
        return FrameHint.TOO_SMALL, face
    if _touches_edge(face, rules.edge_margin):
        return FrameHint.PARTLY_OUTSIDE, face
    if face.confidence < rules.min_confidence:
        return FrameHint.UNCLEAR, face
    quality = face.quality or {}
    brightness = quality.get("Brightness")
    if brightness is not None and brightness < rules.min_brightness:
        return FrameHint.TOO_DARK, face
    if brightness is not None and brightness > rules.max_brightness:
        return FrameHint.TOO_BRIGHT, face
    if quality.get("Sharpness") is not None and quality["Sharpness"] < rules.min_sharpness:
        return FrameHint.BLURRY, face
    pose = face.pose or {}
    yaw, pitch = pose.get("Yaw", 0.0), pose.get("Pitch", 0.0)
    if abs(yaw) > rules.max_abs_yaw:
        turn_right = (yaw > 0) != rules.mirrored
        return (FrameHint.TURN_RIGHT if turn_right else FrameHint.TURN_LEFT), face
    if abs(pitch) > rules.max_abs_pitch:
        return (FrameHint.LOOK_DOWN if pitch > 0 else FrameHint.LOOK_UP), face
    return FrameHint.GOOD, face
