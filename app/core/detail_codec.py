"""Compact storage of a face's FaceDetail extras (landmarks, pose, quality).

Bounding box and confidence have their own columns. The rest is stored as 15 little-endian
float32 values (five landmarks x/y in eyeLeft, eyeRight, nose, mouthLeft, mouthRight order,
then Roll/Yaw/Pitch, then Brightness/Sharpness) behind a format byte: encoding JSON for every
face was the largest single cost of bulk indexing. A detail of any other shape (other landmark
types, missing pose) is stored as JSON text instead, and both read back the same way.
"""

from __future__ import annotations

import json
import struct

LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
_PACKED = struct.Struct("<B15f")
_FORMAT_1 = 1


def encode_detail(landmarks: list, pose: dict, quality: dict) -> bytes | str:
    if len(landmarks) == 5 and len(pose) == 3 and len(quality) == 2:
        try:
            at = {lm["Type"]: lm for lm in landmarks}
            el, er, no, ml, mr = at["eyeLeft"], at["eyeRight"], at["nose"], at["mouthLeft"], at["mouthRight"]
            return _PACKED.pack(_FORMAT_1, el["X"], el["Y"], er["X"], er["Y"], no["X"], no["Y"], ml["X"], ml["Y"],
                                mr["X"], mr["Y"], pose["Roll"], pose["Yaw"], pose["Pitch"],
                                quality["Brightness"], quality["Sharpness"])
        except (KeyError, TypeError, struct.error):
            pass
    extras: dict[str, object] = {}
    if landmarks:
        extras["Landmarks"] = landmarks
    if pose:
        extras["Pose"] = pose
    if quality:
        extras["Quality"] = quality
    return json.dumps(extras)


def _f(value: float) -> float:
    return float(f"{value:.7g}")  # float32 holds about 7 significant digits: drop the noise digits


def decode_detail(stored) -> dict:
    """{"Landmarks": [...], "Pose": {...}, "Quality": {...}} (members present when stored)."""
    if isinstance(stored, (bytes, bytearray, memoryview)):
        values = _PACKED.unpack(bytes(stored))
        if values[0] != _FORMAT_1:
            raise ValueError(f"unknown face detail format {values[0]}")
        v = [_f(x) for x in values[1:]]
        return {
            "Landmarks": [{"Type": t, "X": v[2 * i], "Y": v[2 * i + 1]} for i, t in enumerate(LANDMARK_TYPES)],
            "Pose": {"Roll": v[10], "Yaw": v[11], "Pitch": v[12]},
            "Quality": {"Brightness": v[13], "Sharpness": v[14]},
        }
    data = json.loads(stored) if stored else {}
    return {k: data[k] for k in ("Landmarks", "Pose", "Quality") if k in data}
