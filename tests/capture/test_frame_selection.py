"""Choosing varied frames of one face, and the collector that drops frames while it is busy.

A scripted analyzer stands in for the models here, so every descriptor distance and pose is
exact; the real analyzer runs in test_enrollment.py.
"""

import dataclasses
import threading

import cv2
import numpy as np
import pytest

from app.capture.errors import CaptureError
from app.capture.frame_collector import EnrollmentCollector
from app.capture.frame_hints import FrameHint
from app.capture.frame_selection import FrameSelector
from tests.core.fakes import DIM, analyzed_face, identity_centres

CENTRES = identity_centres(2, seed=3)


def step(vector, distance, seed):
    """`vector` moved by exactly `distance` in a random direction."""
    direction = np.random.default_rng(seed).normal(size=DIM)
    return (vector + distance * direction / np.linalg.norm(direction)).astype(np.float32)


class ScriptedAnalyzer:
    """Frames carry their number in pixel (0, 0); each number maps to a list of faces."""

    model_version = "dlib_resnet_v1+test"

    def __init__(self):
        self.faces = {}
        self.calls = []  # (frame number, describe, thread name)
        self.gate = None  # a threading.Event analysis waits for
        self.fail = None

    def frame(self, number, faces):
        self.faces[number] = faces
        rgb = np.full((480, 640, 3), 90, np.uint8)
        rgb[0, 0, 0] = number
        return rgb

    def good(self, number, descriptor, yaw=0.0, pitch=0.0):
        return self.frame(number, [analyzed_face(descriptor, left=0.3, top=0.2, size=0.4,
                                                 pose={"Roll": 0.0, "Yaw": yaw, "Pitch": pitch})])

    def analyze_rgb(self, rgb, describe=True, thumbnails=True):
        number = int(rgb[0, 0, 0])
        self.calls.append((number, describe, threading.current_thread().name))
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail is not None:
            raise self.fail
        faces = self.faces[number]
        return faces if describe else [dataclasses.replace(f, descriptor=np.zeros(0, np.float32)) for f in faces]


@pytest.fixture
def fake():
    return ScriptedAnalyzer()


def test_kept_frames_must_add_a_new_view_of_the_same_person(fake):
    selector = FrameSelector(fake, frames=4, same_person_threshold=75)
    first = CENTRES[0]
    verdicts = [selector.consider(f, i) for i, f in enumerate([
        fake.good(1, first),
        fake.good(2, step(first, 0.05, 1)),  # a near-duplicate
        fake.good(3, step(first, 0.13, 2)),  # far enough on its own (0.2 x 0.6 = 0.12)
        fake.good(4, step(first, 0.07, 3), yaw=20.0),  # a new pose, and the descriptor moved >= 0.06
        fake.good(5, step(first, 0.03, 4), pitch=-22.0),  # a "new pose" the descriptor does not confirm
        fake.good(6, CENTRES[1]),  # somebody else
        fake.good(7, step(first, 0.3, 5), yaw=-15.0),
    ], 1)]
    hints = [v.hint for v in verdicts]
    assert hints == [FrameHint.GOOD, FrameHint.SIMILAR, FrameHint.GOOD, FrameHint.GOOD, FrameHint.SIMILAR,
                     FrameHint.OTHER_PERSON, FrameHint.GOOD]
    assert [v.accepted for v in verdicts] == [True, False, True, True, False, False, True]
    assert [f.frame_index for f in selector.captured] == [1, 3, 4, 7] and selector.done
    assert verdicts[1].details["DescriptorStep"] == pytest.approx(0.05, abs=1e-3)
    assert verdicts[5].details["Similarity"] < 75
    assert verdicts[-1].kept == 4 and verdicts[-1].target == 4

    calls_before = len(fake.calls)
    assert selector.consider(fake.good(8, step(first, 0.5, 6)), 8).hint is FrameHint.DONE
    assert len(fake.calls) == calls_before  # nothing analysed once enough frames are kept
    selector.reset()
    assert not selector.done and selector.captured == []


def test_only_good_frames_are_described(fake):
    selector = FrameSelector(fake, frames=2)
    dark = fake.frame(1, [analyzed_face(CENTRES[0], left=0.3, top=0.2, size=0.4,
                                        quality={"Brightness": 10.0, "Sharpness": 50.0})])
    group = fake.frame(2, [analyzed_face(CENTRES[0], left=0.1, size=0.3), analyzed_face(CENTRES[1], left=0.6, size=0.3)])
    assert selector.consider(dark, 1).hint is FrameHint.TOO_DARK
    assert selector.consider(group, 2).hint is FrameHint.SEVERAL_FACES
    assert selector.consider(fake.good(3, CENTRES[0]), 3).accepted
    assert [(n, d) for n, d, _t in fake.calls] == [(1, False), (2, False), (3, False), (3, True)]


def test_a_captured_frame_holds_the_image_it_stores(fake):
    selector = FrameSelector(fake, frames=1)
    rgb = fake.good(1, CENTRES[0])
    verdict = selector.consider(rgb, 1, captured_at=1_700_000_000.0)
    frame = verdict.captured
    assert frame.face is frame.faces[frame.place] and frame.model_version == fake.model_version
    assert (frame.width, frame.height, frame.captured_at) == (640, 480, 1_700_000_000.0)
    decoded = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (480, 640, 3) and frame.preview == frame.jpeg


def test_bad_arguments(fake):
    with pytest.raises(ValueError, match="1 to 100"):
        FrameSelector(fake, frames=0)
    with pytest.raises(ValueError, match="0..100"):
        FrameSelector(fake, same_person_threshold=101)
    with pytest.raises(ValueError, match="RGB uint8"):
        FrameSelector(fake).consider(np.zeros((4, 4), np.uint8))


def test_collector_drops_frames_while_busy_and_never_queues(fake):
    seen = []
    fake.gate = threading.Event()
    collector = EnrollmentCollector(fake, frames=3, on_verdict=seen.append)
    try:
        first = fake.good(1, CENTRES[0])
        assert collector.submit(first, 1) is True  # returns at once, analysis runs elsewhere
        first[0, 0, 0] = 2  # the caller reuses its buffer: the collector analyses its own copy
        assert collector.busy
        assert collector.submit(fake.good(2, step(CENTRES[0], 0.3, 1)), 2) is False
        assert collector.submit(fake.good(3, step(CENTRES[0], 0.3, 2)), 3) is False
        assert collector.dropped == 2
        fake.gate.set()
        assert collector.wait_idle(5)
        assert collector.submit(fake.good(4, step(CENTRES[0], 0.3, 3)), 4) is True
        assert collector.wait_idle(5)
    finally:
        collector.close()
    assert [v.frame_index for v in seen] == [1, 4] and all(v.accepted for v in seen)
    assert collector.analysed == 2 and collector.last_verdict is seen[-1]
    assert {n for n, _d, _t in fake.calls} == {1, 4}
    assert {t for _n, _d, t in fake.calls} == {"enrollment-analysis"}
    assert collector.hint_counts == {"good": 2}
    with pytest.raises(CaptureError, match="closed"):
        collector.submit(fake.good(5, CENTRES[0]), 5)


def test_collector_reports_an_analysis_error_and_stops(fake):
    errors = []
    fake.fail = RuntimeError("model crashed")
    with EnrollmentCollector(fake, frames=2, on_error=errors.append) as collector:
        assert collector.submit(fake.good(1, CENTRES[0]), 1)
        assert collector.wait_idle(5)
        assert [str(e) for e in errors] == ["model crashed"]
        with pytest.raises(RuntimeError, match="model crashed"):
            collector.submit(fake.good(2, CENTRES[0]), 2)


def test_collector_process_is_synchronous(fake):
    with EnrollmentCollector(fake, frames=1) as collector:
        verdict = collector.process(fake.good(1, CENTRES[0]), 1)
        assert verdict.accepted and collector.done and collector.captured[0] is verdict.captured
        assert collector.submit(fake.good(2, CENTRES[0]), 2) is False  # done: nothing more is taken
    assert fake.calls[0][2] == threading.current_thread().name
