"""The operator's hint for one frame: each numeric rule, its boundary and the order of the rules."""

import dataclasses

import numpy as np
import pytest

from app.capture.frame_hints import FrameHint, HintRules, frame_hint
from app.core.quality import quality_reasons
from tests.core.fakes import analyzed_face

W, H = 640, 480


def face(size_px=150.0, left=0.3, top=0.2, confidence=95.0, yaw=0.0, pitch=0.0, brightness=55.0, sharpness=60.0):
    return analyzed_face(np.zeros(128, np.float32), left=left, top=top, size=size_px / H, confidence=confidence,
                         pose={"Roll": 0.0, "Yaw": yaw, "Pitch": pitch},
                         quality={"Brightness": brightness, "Sharpness": sharpness})


@pytest.mark.parametrize("faces, expected", [
    ([], FrameHint.NO_FACE),
    ([face(size_px=15)], FrameHint.NO_FACE),  # too small to count at all
    ([face(), face(left=0.6)], FrameHint.SEVERAL_FACES),
    ([face(), face(left=0.7, size_px=19)], FrameHint.GOOD),  # a tiny face in the background does not count
    ([face(size_px=79)], FrameHint.TOO_SMALL),
    ([face(size_px=80)], FrameHint.GOOD),
    ([face(left=0.0)], FrameHint.PARTLY_OUTSIDE),
    ([face(top=1 - 150 / H)], FrameHint.PARTLY_OUTSIDE),
    ([face(confidence=89.9)], FrameHint.UNCLEAR),
    ([face(brightness=24.9)], FrameHint.TOO_DARK),
    ([face(brightness=95.1)], FrameHint.TOO_BRIGHT),
    ([face(sharpness=19.9)], FrameHint.BLURRY),
    ([face(yaw=31)], FrameHint.TURN_RIGHT),
    ([face(yaw=-31)], FrameHint.TURN_LEFT),
    ([face(yaw=30, pitch=-25)], FrameHint.GOOD),
    ([face(pitch=26)], FrameHint.LOOK_DOWN),
    ([face(pitch=-26)], FrameHint.LOOK_UP),
])
def test_rules(faces, expected):
    hint, chosen = frame_hint(faces, W, H)
    assert hint is expected
    if expected not in (FrameHint.NO_FACE, FrameHint.SEVERAL_FACES):
        assert chosen is faces[0]


def test_rules_apply_in_order():
    # everything wrong at once: the first rule that applies speaks
    bad = dict(size_px=70, confidence=60, brightness=10, sharpness=5, yaw=50)
    assert frame_hint([face(**bad)], W, H)[0] is FrameHint.TOO_SMALL
    assert frame_hint([face(**{**bad, "size_px": 150})], W, H)[0] is FrameHint.UNCLEAR
    assert frame_hint([face(**{**bad, "size_px": 150, "confidence": 95})], W, H)[0] is FrameHint.TOO_DARK
    assert frame_hint([face(**{**bad, "size_px": 150, "confidence": 95, "brightness": 50})], W, H)[0] is FrameHint.BLURRY


def test_mirrored_sources_swap_left_and_right():
    rules = HintRules(mirrored=True)
    assert frame_hint([face(yaw=40)], W, H, rules)[0] is FrameHint.TURN_LEFT
    assert frame_hint([face(yaw=-40)], W, H, rules)[0] is FrameHint.TURN_RIGHT


def test_thresholds_are_rules_not_constants():
    rules = dataclasses.replace(HintRules(), min_face_pixels=200)
    assert frame_hint([face(size_px=150)], W, H, rules)[0] is FrameHint.TOO_SMALL


def test_a_good_face_passes_quality_filter_high():
    for kwargs in ({}, {"size_px": 80}, {"confidence": 90}, {"brightness": 25}, {"brightness": 95},
                   {"sharpness": 20}, {"yaw": -30, "pitch": 25}):
        f = face(**kwargs)
        assert frame_hint([f], W, H)[0] is FrameHint.GOOD
        assert quality_reasons(f, W, H, "HIGH") == []


def test_hint_codes_and_texts():
    assert FrameHint.SEVERAL_FACES.code == "several_faces"
    assert str(FrameHint.TOO_SMALL) == "too small — come closer"
    assert len({h.code for h in FrameHint}) == len(FrameHint)
