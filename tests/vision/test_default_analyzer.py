"""The default analyzer end to end: real photos, real models, checked against dlib's own pipeline."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.engine import DEFAULT_FACE_MODEL_VERSION, Engine
from app.core.errors import ImageTooLargeException, InvalidImageFormatException, InvalidParameterException
from app.vision.default_analyzer import MODEL_VERSION, DlibYuNetAnalyzer
from app.vision.dlib_models import model_path

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "astronaut.jpg", "t1.jpg", "32bit.png"]


@pytest.fixture(scope="module")
def analyzer(session_cache_dir):
    # built once per module; the converted ResNet goes to the test session's cache dir
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REKURATOR_CACHE_DIR", str(session_cache_dir))
        return DlibYuNetAnalyzer()


def photo(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_model_version_is_the_engine_default():
    assert MODEL_VERSION == DEFAULT_FACE_MODEL_VERSION


def test_face_detail_of_a_portrait(analyzer):
    result = analyzer.analyze(photo("obama.jpg"))
    assert (result.width, result.height) == cv2.imread(str(DATA / "obama.jpg")).shape[1::-1]
    [face] = result.faces
    box = face.bounding_box
    assert 0 < box["Left"] < 1 and 0 < box["Top"] < 1 and 0.1 < box["Width"] < 0.9
    assert face.confidence > 90
    assert face.descriptor.shape == (128,) and face.descriptor.dtype == np.float32
    kinds = {lm["Type"]: (lm["X"], lm["Y"]) for lm in face.landmarks}
    assert kinds["eyeLeft"][0] < kinds["nose"][0] < kinds["eyeRight"][0]
    assert kinds["nose"][1] < kinds["mouthLeft"][1]
    assert abs(face.pose["Roll"]) < 10 and abs(face.pose["Yaw"]) < 20
    assert 20 < face.quality["Brightness"] < 90 and face.quality["Sharpness"] > 40
    thumb = cv2.imdecode(np.frombuffer(face.thumbnail, np.uint8), cv2.IMREAD_COLOR)
    assert thumb is not None and max(thumb.shape[:2]) <= 160
    preview = cv2.imdecode(np.frombuffer(result.preview, np.uint8), cv2.IMREAD_COLOR)
    assert preview is not None and max(preview.shape[:2]) <= 1024


def test_group_photo_has_six_faces(analyzer):
    assert len(analyzer.analyze(photo("t1.jpg")).faces) == 6


def _dlib_pipeline(rgb):
    import dlib

    detector = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
    net = dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))
    out = []
    for rect in detector(rgb, 1):
        shape = shapes(rgb, rect)
        out.append(((rect.left(), rect.top(), rect.right(), rect.bottom()), np.array(net.compute_face_descriptor(rgb, shape))))
    return out


# dlib's HOG detector finds these faces; it also fires on the astronaut's mission patch,
# which is not a face and which YuNet rightly ignores.
EXPECTED_SHARED_FACES = {"obama.jpg": 1, "obama2.jpg": 1, "obama3.jpg": 1, "biden.jpg": 1, "astronaut.jpg": 1,
                         "t1.jpg": 6, "32bit.png": 1}


@pytest.mark.parametrize("name", PHOTOS)
def test_descriptors_match_the_dlib_pipeline(analyzer, name):
    pytest.importorskip("dlib")
    from app.vision.image_decode import decode_image

    rgb = decode_image(photo(name)).rgb
    ours = analyzer.analyze_rgb(rgb, thumbnails=False)
    h, w = rgb.shape[:2]
    distances = []
    for (left, top, right, bottom), ref in _dlib_pipeline(rgb):
        cx, cy, size = (left + right) / 2, (top + bottom) / 2, right - left
        near = [f for f in ours if np.hypot((f.bounding_box["Left"] + f.bounding_box["Width"] / 2) * w - cx,
                                            (f.bounding_box["Top"] + f.bounding_box["Height"] / 2) * h - cy) < 0.3 * size]
        if near:
            distances.append(min(np.linalg.norm(f.descriptor - ref) for f in near))
    assert len(distances) == EXPECTED_SHARED_FACES[name]
    assert max(distances) < 0.1, f"{name}: descriptors {np.round(distances, 3)} from dlib's"


def face_on_canvas(face_width: float, side: int) -> np.ndarray:
    """obama.jpg shrunk until its face is `face_width` px wide, on a grey side x side canvas."""
    from app.vision.yunet import YuNetDetector

    rgb = cv2.cvtColor(cv2.imread(str(DATA / "obama.jpg")), cv2.COLOR_BGR2RGB)
    (face,) = YuNetDetector().detect(rgb)
    scale = face_width / face.box[2]
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((side, side, 3), 128, np.uint8)
    canvas[: small.shape[0], : small.shape[1]] = small[:side, :side]
    return canvas


def test_small_photos_are_detected_at_twice_their_size(analyzer):
    from app.vision.default_analyzer import DETECTION_MAX_SIDE
    from app.vision.yunet import YuNetDetector

    as_it_is = YuNetDetector(max_side=DETECTION_MAX_SIDE)
    # a 12 px face in a 400 px photo: too small for YuNet at 400 px, found at 800 px (as dlib's
    # pipeline upsamples once), and dlib's 5-point model agrees on its eyes
    small = face_on_canvas(12, 400)
    assert as_it_is.detect(small) == []
    (face,) = analyzer.analyze_rgb(small, thumbnails=False)
    assert 8 < face.bounding_box["Width"] * 400 < 18
    # past 480 px (twice the size would not fit DETECTION_MAX_SIDE) a photo is detected as it is
    large = face_on_canvas(12, 481)
    assert analyzer.detector.detect(large) == as_it_is.detect(large) == []


def test_identities_separate(analyzer):
    d = {n: analyzer.analyze(photo(n)).faces[0].descriptor for n in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]}
    assert np.linalg.norm(d["obama.jpg"] - d["obama2.jpg"]) < 0.6
    assert np.linalg.norm(d["obama.jpg"] - d["obama3.jpg"]) < 0.6
    assert np.linalg.norm(d["obama.jpg"] - d["biden.jpg"]) > 0.6


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    import struct

    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def test_exif_rotated_photo_gives_the_upright_result(analyzer):
    upright = cv2.imread(str(DATA / "obama.jpg"))
    turned = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # EXIF 6 says: turn clockwise to view
    jpeg = _with_exif_orientation(cv2.imencode(".jpg", turned, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes(), 6)
    rotated = analyzer.analyze(jpeg)
    plain = analyzer.analyze(cv2.imencode(".jpg", upright, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    assert (rotated.width, rotated.height) == (plain.width, plain.height)
    # the turned pixels were JPEG-encoded on their own, so compression noise differs a little
    assert np.linalg.norm(rotated.faces[0].descriptor - plain.faces[0].descriptor) < 0.1
    box_r, box_p = rotated.faces[0].bounding_box, plain.faces[0].bounding_box
    assert all(abs(box_r[k] - box_p[k]) < 0.01 for k in box_p)


def test_engine_with_real_photos(tmp_path, analyzer):
    with Engine(tmp_path / "ws", analyzer=analyzer) as engine:
        engine.create_collection(CollectionId="people")
        ids = {}
        for name in ["obama.jpg", "obama2.jpg", "biden.jpg"]:
            out = engine.index_faces(CollectionId="people", Image={"Bytes": photo(name)}, ExternalImageId=name)
            assert out["FaceModelVersion"] == MODEL_VERSION
            [record] = out["FaceRecords"]
            ids[name] = record["Face"]["FaceId"]
        engine.create_user(CollectionId="people", UserId="obama")
        engine.associate_faces(CollectionId="people", UserId="obama", FaceIds=[ids["obama.jpg"]])
        out = engine.associate_faces(CollectionId="people", UserId="obama", FaceIds=[ids["obama2.jpg"], ids["biden.jpg"]])
        assert out["AssociatedFaces"] == [{"FaceId": ids["obama2.jpg"]}]
        [fail] = out["UnsuccessfulFaceAssociations"]
        assert fail["FaceId"] == ids["biden.jpg"] and fail["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
        found = engine.search_faces_by_image(CollectionId="people", Image={"Bytes": photo("obama3.jpg")})
        assert {m["Face"]["ExternalImageId"] for m in found["FaceMatches"]} == {"obama.jpg", "obama2.jpg"}
        users = engine.search_users_by_image(CollectionId="people", Image={"Bytes": photo("obama3.jpg")})
        assert [m["User"]["UserId"] for m in users["UserMatches"]] == ["obama"]
        assert engine.face_thumbnails("people", [ids["biden.jpg"]])[ids["biden.jpg"]][:2] == b"\xff\xd8"


def test_engine_rejects_bad_images_and_writes_nothing(tmp_path, analyzer):
    blank = cv2.imencode(".png", np.full((200, 300, 3), 128, np.uint8))[1].tobytes()
    with Engine(tmp_path / "ws", analyzer=analyzer) as engine:
        engine.create_collection(CollectionId="c")
        with pytest.raises(InvalidImageFormatException):
            engine.index_faces(CollectionId="c", Image={"Bytes": photo("obama.jpg")[:5000]})
        with pytest.raises(InvalidImageFormatException):
            engine.index_faces(CollectionId="c", Image={"Bytes": b"GIF89a" + b"\x00" * 100})
        with pytest.raises(ImageTooLargeException):
            engine.index_faces(CollectionId="c", Image={"Bytes": b"\xff" * (5 * 1024 * 1024 + 1)})
        assert engine.describe_collection(CollectionId="c")["FaceCount"] == 0
        assert engine.index_faces(CollectionId="c", Image={"Bytes": blank})["FaceRecords"] == []
        with pytest.raises(InvalidParameterException, match="no faces"):
            engine.search_faces_by_image(CollectionId="c", Image={"Bytes": blank})
        assert engine.search_users_by_image(CollectionId="c", Image={"Bytes": blank})["UserMatches"] == []
