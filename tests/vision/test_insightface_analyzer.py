"""The insightface-pack analyzer end to end on tiny generated models, and analyzer choice."""

import cv2
import numpy as np
import pytest

from app.core.engine import Engine
from app.vision.analyzers import MODEL_PACK_ENV, analyzer_choice
from app.vision.arcface import ArcFaceEmbedder, arcface_align
from app.vision.default_analyzer import MODEL_VERSION
from app.vision.insightface_analyzer import InsightfaceAnalyzer, pack_model_version
from app.vision.insightface_pack import ModelPackError

from .test_insightface_backend import EXPECTED_NET, build_constant_scrfd, build_recognizer, placed_outputs


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pack")
    weights = np.random.default_rng(3).standard_normal((3 * 112 * 112, 512)).astype(np.float32)
    build_constant_scrfd(folder / "det.onnx", placed_outputs())
    build_recognizer(folder / "rec.onnx", weights)
    return folder


def test_analyzer_over_a_pack(pack):
    analyzer = InsightfaceAnalyzer(pack)
    assert analyzer.model_version == pack_model_version(pack)
    assert analyzer.model_version.startswith("arcface_") and "+scrfd_" in analyzer.model_version
    rgb = np.random.default_rng(0).integers(0, 255, (640, 640, 3), dtype=np.uint8)
    result = analyzer.analyze(cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes())
    # the generated detector also places faces whose five points coincide: those cannot be aligned
    usable = [e for e in EXPECTED_NET if len(set(e[2])) > 1]
    assert len(result.faces) == len(usable) == 1
    for face, ((x1, y1, x2, y2), score, points) in zip(result.faces, usable):
        assert face.bounding_box["Left"] == pytest.approx(x1 / 640)
        assert face.bounding_box["Width"] == pytest.approx((x2 - x1) / 640)
        assert face.confidence == pytest.approx(score * 100)
        assert face.landmarks[0]["X"] == pytest.approx(points[0][0] / 640)
        expected = ArcFaceEmbedder(pack / "rec.onnx").compute(arcface_align(rgb, np.array(points, float))[None])[0]
        assert np.allclose(face.descriptor, expected, atol=1e-5)
        assert np.linalg.norm(face.descriptor) == pytest.approx(1.0, abs=1e-5)


def test_engine_binds_collections_to_the_pack_model(pack, tmp_path, monkeypatch):
    monkeypatch.setenv(MODEL_PACK_ENV, str(pack))
    factory, version = analyzer_choice()
    assert version == pack_model_version(pack)
    with Engine(tmp_path / "ws", analyzer_factory=factory, face_model_version=version) as engine:
        assert engine.create_collection(CollectionId="c")["FaceModelVersion"] == version
        image = cv2.imencode(".png", np.zeros((640, 640, 3), np.uint8))[1].tobytes()
        out = engine.index_faces(CollectionId="c", Image={"Bytes": image}, QualityFilter="NONE")
        [record] = out["FaceRecords"]
        again = engine.index_faces(CollectionId="c", Image={"Bytes": image}, ExternalImageId="again", QualityFilter="NONE")
        # the same black chip gives the same ArcFace vector: calibrated similarity 100
        matches = engine.search_faces(CollectionId="c", FaceId=record["Face"]["FaceId"])["FaceMatches"]
        assert [m["Face"]["FaceId"] for m in matches] == [again["FaceRecords"][0]["Face"]["FaceId"]]
        assert matches[0]["Similarity"] == pytest.approx(100.0)


def test_default_choice_and_bad_pack(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_PACK_ENV, raising=False)
    _factory, version = analyzer_choice()
    assert version == MODEL_VERSION
    with pytest.raises(ModelPackError):
        analyzer_choice(tmp_path / "no-such-pack")
