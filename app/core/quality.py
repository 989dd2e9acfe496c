"""IndexFaces' QualityFilter and MaxFaces: which detected faces get indexed.

The numeric bars are ours (Rekognition does not publish its own); they read the FaceDetail the
analyzer produced: detector confidence (0..100), the face box's shorter side in pixels,
Quality.Sharpness and Quality.Brightness (0..100), and Pose yaw/pitch in degrees.
A face fails a bar for every rule it breaks, and each broken rule is listed as a reason.
AUTO uses the LOW bar.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_FACES_PER_IMAGE = 100  # at most the 100 largest faces of an image are considered


@dataclass(frozen=True)
class QualityBar:
    min_confidence: float
    min_face_pixels: float
    min_sharpness: float
    min_brightness: float
    max_brightness: float
    max_abs_yaw: float
    max_abs_pitch: float


QUALITY_BARS = {
    "LOW": QualityBar(50.0, 20.0, 4.0, 8.0, 99.5, 75.0, 60.0),
    "MEDIUM": QualityBar(70.0, 40.0, 10.0, 15.0, 98.0, 60.0, 45.0),
    "HIGH": QualityBar(90.0, 64.0, 20.0, 25.0, 95.0, 40.0, 30.0),
}
QUALITY_BARS["AUTO"] = QUALITY_BARS["LOW"]


def quality_reasons(face, width: int, height: int, quality_filter: str) -> list[str]:
    """Rekognition reason names for a face that fails the filter; [] when it passes."""
    bar = QUALITY_BARS.get(quality_filter)
    if bar is None:  # NONE
        return []
    reasons = []
    if face.confidence < bar.min_confidence:
        reasons.append("LOW_CONFIDENCE")
    box = face.bounding_box
    if min(box["Width"] * width, box["Height"] * height) < bar.min_face_pixels:
        reasons.append("SMALL_BOUNDING_BOX")
    quality = face.quality or {}
    if "Sharpness" in quality and quality["Sharpness"] < bar.min_sharpness:
        reasons.append("LOW_SHARPNESS")
    if "Brightness" in quality and not bar.min_brightness <= quality["Brightness"] <= bar.max_brightness:
        reasons.append("LOW_BRIGHTNESS")
    pose = face.pose or {}
    if abs(pose.get("Yaw", 0.0)) > bar.max_abs_yaw or abs(pose.get("Pitch", 0.0)) > bar.max_abs_pitch:
        reasons.append("EXTREME_POSE")
    return reasons


def face_area(face) -> float:
    return face.bounding_box["Width"] * face.bounding_box["Height"]


def select_faces(faces: list, width: int, height: int, quality_filter: str, max_faces: int | None):
    """Split faces (with their place in the image) into (indexed, unindexed-with-reasons).

    Low-quality faces are filtered first; of the rest the largest `max_faces` are kept, and
    the others are reported as EXCEEDS_MAX_FACES. Returns ([(place, face)], [(face, reasons)]).
    """
    order = sorted(range(len(faces)), key=lambda i: (-face_area(faces[i]), i))
    considered, unindexed = order[:MAX_FACES_PER_IMAGE], [(faces[i], ["EXCEEDS_MAX_FACES"]) for i in order[MAX_FACES_PER_IMAGE:]]
    passing = []
    for i in considered:
        reasons = quality_reasons(faces[i], width, height, quality_filter)
        if reasons:
            unindexed.append((faces[i], reasons))
        else:
            passing.append(i)
    limit = len(passing) if max_faces is None else max_faces
    kept = sorted(passing[:limit])  # passing is already largest-first
    unindexed.extend((faces[i], ["EXCEEDS_MAX_FACES"]) for i in passing[limit:])
    return [(i, faces[i]) for i in kept], unindexed
