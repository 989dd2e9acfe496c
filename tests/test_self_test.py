"""app.self_test: the Qt-free checks and the summary they make."""

from __future__ import annotations

import numpy as np
import pytest

import app
from app import resources, self_test
from app.core.analysis import ImageAnalysis
from tests.core.fakes import analyzed_face


def test_resources_check_names_the_folder_and_icons():
    result = self_test.check_resources()
    assert result["folder"] == str(resources.resources_dir())
    assert result["icons"] == 7


def test_resources_check_names_what_is_missing(tmp_path, monkeypatch):
    (tmp_path / resources.MARKER).write_text("{}")
    monkeypatch.setattr(resources, "resources_dir", lambda: tmp_path)
    with pytest.raises(self_test.SelfTestError, match=r"face_detection_yunet_2023mar\.onnx.*obama\.jpg"):
        self_test.check_resources()


class StubAnalyzer:
    model_version = "stub"

    def __init__(self, faces):
        self.faces = faces

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        assert image_bytes[:2] == b"\xff\xd8"  # it was handed the sample JPEG
        return ImageAnalysis(width=10, height=10, faces=self.faces)


def test_analysis_check_reports_faces():
    face = analyzed_face(np.ones(128, np.float32))
    result = self_test.check_analysis(lambda: StubAnalyzer([face]))
    assert result["faces"] == 1 and result["descriptor_length"] == 128 and result["model_version"] == "stub"
    assert result["photo"] == self_test.SAMPLE_PHOTO


def test_analysis_check_fails_without_a_face():
    with pytest.raises(self_test.SelfTestError, match="no face found"):
        self_test.check_analysis(lambda: StubAnalyzer([]))


def test_run_checks_stops_at_the_first_failure():
    ran = []

    def good():
        ran.append("good")
        return {"n": 1}

    def bad():
        ran.append("bad")
        raise self_test.SelfTestError("broken model")

    summary = self_test.run_checks([("first", good), ("second", bad), ("third", good)])
    assert ran == ["good", "bad"]
    assert summary["ok"] is False and summary["failed"] == "second"
    assert summary["error"] == "SelfTestError: broken model"
    assert summary["checks"]["first"]["ok"] is True and summary["checks"]["first"]["n"] == 1
    assert summary["checks"]["second"]["ok"] is False and "third" not in summary["checks"]
    assert summary["version"] == app.__version__ and summary["frozen"] is False


def test_the_real_models_find_the_sample_face():
    result = self_test.check_analysis()
    assert result["faces"] == 1 and result["descriptor_length"] == 128


@pytest.mark.parametrize("make_pack", [lambda tmp: tmp / "no-such-pack", lambda tmp: tmp])
def test_self_test_fails_when_the_model_pack_env_names_an_unusable_pack(tmp_path, monkeypatch, make_pack):
    monkeypatch.setenv("REKURATOR_MODEL_PACK", str(make_pack(tmp_path)))
    summary = self_test.run_checks(self_test.default_checks())
    assert summary["ok"] is False and summary["failed"] == "analysis"
    assert str(tmp_path) in summary["error"]


def test_self_test_checks_the_pack_given_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.delenv("REKURATOR_MODEL_PACK", raising=False)
    summary = self_test.run_checks(self_test.default_checks(str(tmp_path / "absent")))
    assert summary["ok"] is False and summary["failed"] == "analysis"
