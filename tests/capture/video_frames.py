"""Synthetic webcam footage made from the test photos (tests and bench/bench_enrollment.py).

Each frame places one photo's face at a chosen size in a 640x480 frame (black letterbox
around it), with small shifts, rotations and brightness changes like a person sitting in front
of a camera, written with cv2.VideoWriter as Motion-JPEG in an AVI (the codec that both
writes and reads back in opencv-python-headless here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"
WIDTH, HEIGHT = 640, 480
FPS = 10.0


def photo_rgb(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(DATA / name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Shot:
    """One frame: which photo, where its face goes, and what happens to the picture."""

    photo: str
    face_height: float = 0.42  # face box height as a fraction of the frame height
    dx: float = 0.0  # pixels
    dy: float = 0.0
    angle: float = 0.0  # degrees, around the face centre
    gain: float = 1.0  # brightness factor
    flip: bool = False  # mirror the frame
    blur: float = 0.0  # Gaussian sigma, pixels
    grey: bool = False  # black and white
    letterbox: bool = False  # the whole photo fitted into the frame instead


class FrameMaker:
    """Renders Shots; face boxes of the photos come from the detector (found once per photo)."""

    def __init__(self, detect):
        self.detect = detect  # rgb -> detections with .box (x, y, w, h)
        self._photos: dict[str, tuple[np.ndarray, tuple]] = {}

    def _photo(self, name: str):
        if name not in self._photos:
            rgb = photo_rgb(name)
            detections = self.detect(rgb)
            box = max(detections, key=lambda d: d.box[2] * d.box[3]).box if detections else None
            self._photos[name] = (rgb, box)
        return self._photos[name]

    def render(self, shot: Shot) -> np.ndarray:
        rgb, box = self._photo(shot.photo)
        h, w = rgb.shape[:2]
        if shot.letterbox or box is None:
            scale = min(WIDTH / w, HEIGHT / h)
            centre, target = (w / 2, h / 2), (WIDTH / 2, HEIGHT / 2)
        else:
            x, y, bw, bh = box
            scale = shot.face_height * HEIGHT / bh
            centre, target = (x + bw / 2, y + bh / 2), (WIDTH / 2, HEIGHT * 0.47)
        matrix = cv2.getRotationMatrix2D(centre, shot.angle, scale)
        matrix[0, 2] += target[0] - centre[0] + shot.dx
        matrix[1, 2] += target[1] - centre[1] + shot.dy
        frame = cv2.warpAffine(rgb, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
        if shot.flip:
            frame = frame[:, ::-1]
        if shot.grey:
            frame = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        if shot.blur:
            frame = cv2.GaussianBlur(frame, (0, 0), shot.blur)
        if shot.gain != 1.0:
            frame = np.clip(frame.astype(np.float32) * shot.gain, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(frame)


def write_video(path: Path, frames, fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError("cv2.VideoWriter cannot write MJPG/AVI here")
    try:
        for rgb in frames:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def held(shot: Shot, count: int = 3) -> list[Shot]:
    """A pose held for a few frames, moving a little as a sitting person does."""
    wiggle = [(0.0, 0.0, 0.0, 1.0), (5.0, -3.0, 1.5, 1.04), (-4.0, 2.0, -1.5, 0.96)]
    return [Shot(**{**shot.__dict__, "dx": shot.dx + dx, "dy": shot.dy + dy, "angle": shot.angle + a,
                    "gain": shot.gain * g}) for dx, dy, a, g in (wiggle * count)[:count]]


# What the operator does wrong first, then one person in many views (different photos, their
# mirror images, black and white), each held for three frames. The descriptor moves 0.14-0.47
# between these views (0.05-0.1 within one held view), so well over five count as new views.
PROBLEM_SHOTS = [
    Shot("t1.jpg", letterbox=True), Shot("t1.jpg", letterbox=True, dx=4),  # several faces
    Shot("obama.jpg", gain=0.2), Shot("obama.jpg", gain=0.2, dx=3),  # too dark
    Shot("obama.jpg", face_height=0.1), Shot("obama.jpg", face_height=0.1, dx=5),  # too small
    Shot("obama.jpg", blur=5.0),  # blurry
]
GOOD_SHOTS = [Shot("obama.jpg"), Shot("obama2.jpg"), Shot("obama3.jpg"), Shot("obama2.jpg", flip=True),
              Shot("obama.jpg", flip=True, grey=True), Shot("obama3.jpg", flip=True, face_height=0.5),
              Shot("obama2.jpg", grey=True, face_height=0.5), Shot("obama.jpg", flip=True, face_height=0.55),
              Shot("obama3.jpg", grey=True), Shot("obama.jpg", grey=True, face_height=0.36)]


def enrollment_shots(good: int = len(GOOD_SHOTS), hold: int = 3, problems: bool = True) -> list[Shot]:
    shots = list(PROBLEM_SHOTS) if problems else []
    for shot in GOOD_SHOTS[:good]:
        shots += held(shot, hold)
    return shots


def stranger_shots(hold: int = 3) -> list[Shot]:
    """Another person than GOOD_SHOTS' in several views (four of them count as good, varied frames)."""
    views = [Shot("biden.jpg"), Shot("biden.jpg", flip=True), Shot("biden.jpg", grey=True),
             Shot("biden.jpg", flip=True, face_height=0.5), Shot("biden.jpg", grey=True, flip=True, face_height=0.36),
             Shot("biden.jpg", angle=8), Shot("biden.jpg", angle=-8, flip=True)]
    return [s for view in views for s in held(view, hold)]
