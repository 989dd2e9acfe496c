"""YuNetDetector: agreement with OpenCV's FaceDetectorYN, landmark order, sizes, integrity."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.vision.image_decode import decode_image
from app.vision.yunet import (
    DEFAULT_MODEL_PATH,
    LANDMARK_NAMES,
    Detection,
    ModelChecksumError,
    YuNetDetector,
    nms,
)

DATA = Path(__file__).resolve().parents[1] / "data"

# Faces a person counts in each photo (t1.jpg is insightface's group photo of six).
PHOTO_FACES = {
    "obama.jpg": 1, "obama2.jpg": 1, "obama3.jpg": 1, "biden.jpg": 1,
    "32bit.png": 1, "astronaut.jpg": 1, "t1.jpg": 6,
}


@pytest.fixture(scope="module")
def detector() -> YuNetDetector:
    return YuNetDetector()


def photo(name: str) -> np.ndarray:
    return decode_image((DATA / name).read_bytes()).rgb


def fit_within(rgb: np.ndarray, side: int = 640) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale == 1.0:
        return rgb
    return cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def opencv_reference(rgb: np.ndarray) -> np.ndarray:
    """FaceDetectorYN's rows (x, y, w, h, 10 landmark coords, score) on the same model and input."""
    h, w = rgb.shape[:2]
    ref = cv2.FaceDetectorYN.create(str(DEFAULT_MODEL_PATH), "", (w, h), 0.6, 0.3, 5000)
    _, faces = ref.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
    return np.zeros((0, 15), np.float32) if faces is None else faces


def match_reference(ours: list[Detection], ref: np.ndarray) -> None:
    assert len(ours) == len(ref)
    unmatched = list(range(len(ref)))
    for face in ours:
        # Nearest reference box by top-left corner; each reference row used once.
        j = min(unmatched, key=lambda k: np.hypot(*(ref[k, :2] - face.box[:2])))
        unmatched.remove(j)
        np.testing.assert_allclose(face.box, ref[j, :4], atol=2.0)
        np.testing.assert_allclose(face.landmarks, ref[j, 4:14].reshape(5, 2), atol=2.0)
        assert abs(face.score - ref[j, 14]) < 0.01


@pytest.mark.parametrize("name", sorted(PHOTO_FACES))
def test_agrees_with_opencv_face_detector_yn(detector, name):
    rgb = fit_within(photo(name))
    ours = detector.detect(rgb)
    assert len(ours) == PHOTO_FACES[name]
    match_reference(ours, opencv_reference(rgb))


def test_one_face_in_obama_with_sane_box(detector):
    rgb = photo("obama.jpg")
    (face,) = detector.detect(rgb)
    x, y, w, h = face.box
    assert 0.9 < face.score <= 1.0
    # A head-and-shoulders portrait: the face is in the upper middle and a sizeable part of it.
    assert 0.2 * rgb.shape[1] < x + w / 2 < 0.8 * rgb.shape[1]
    assert y + h / 2 < 0.6 * rgb.shape[0]
    assert 0.15 * rgb.shape[1] < w < 0.6 * rgb.shape[1]


@pytest.mark.parametrize("name", ["obama.jpg", "obama2.jpg", "biden.jpg", "astronaut.jpg", "t1.jpg"])
def test_landmark_order(detector, name):
    """right eye, left eye, nose, right mouth corner, left mouth corner (subject's right/left).

    In an upright frontal photo the subject's right eye and mouth corner are nearer the image's
    left edge, the nose sits between and below the eyes, and the mouth below the nose.
    """
    assert LANDMARK_NAMES == ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")
    for face in detector.detect(photo(name)):
        (rex, rey), (lex, ley), (nx, ny), (rmx, rmy), (lmx, lmy) = face.landmarks
        assert rex < nx < lex
        assert rmx < lmx
        assert max(rey, ley) < ny < min(rmy, lmy)
        x, y, w, h = face.box
        assert np.all((face.landmarks[:, 0] > x) & (face.landmarks[:, 0] < x + w))
        assert np.all((face.landmarks[:, 1] > y) & (face.landmarks[:, 1] < y + h))


def test_mirrored_photo_swaps_which_eye_is_on_the_left(detector):
    """Landmarks follow the subject, not the image: mirroring swaps the roles of the two eyes."""
    rgb = photo("obama.jpg")
    (face,) = detector.detect(rgb)
    (mirror,) = detector.detect(np.ascontiguousarray(rgb[:, ::-1]))
    reflected = face.landmarks.copy()
    reflected[:, 0] = rgb.shape[1] - reflected[:, 0]
    eye_gap = abs(face.landmarks[1, 0] - face.landmarks[0, 0])
    # The mirror's right eye lands on the reflected left eye, and vice versa (within a few %).
    assert np.hypot(*(mirror.landmarks[0] - reflected[1])) < 0.1 * eye_gap
    assert np.hypot(*(mirror.landmarks[1] - reflected[0])) < 0.1 * eye_gap
    assert np.hypot(*(mirror.landmarks[0] - reflected[0])) > 0.8 * eye_gap


@pytest.mark.parametrize(
    "image",
    [
        np.full((480, 640, 3), 128, np.uint8),
        np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8),
        np.zeros((1, 1, 3), np.uint8),
    ],
    ids=["flat-gray", "noise", "one-pixel"],
)
def test_no_face_gives_empty_list(detector, image):
    assert detector.detect(image) == []


def paste_on_canvas(face_rgb: np.ndarray, canvas_hw: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    canvas = np.full((*canvas_hw, 3), 110, np.uint8)
    y, x = at
    canvas[y:y + face_rgb.shape[0], x:x + face_rgb.shape[1]] = face_rgb
    return canvas


@pytest.mark.parametrize(
    "canvas_hw, at",
    [((301, 623), (17, 351)), ((617, 259), (300, 5)), ((250, 250), (3, 9)), ((200, 637), (0, 0))],
    ids=["landscape-odd", "portrait-odd", "square-odd", "thin-strip"],
)
def test_any_size_and_aspect(detector, canvas_hw, at):
    face_crop = fit_within(photo("obama.jpg"), 240)[:, 40:210]  # about 170x240 around the face
    face_crop = fit_within(face_crop, min(canvas_hw) - 2)
    (alone,) = detector.detect(face_crop)
    image = paste_on_canvas(face_crop, canvas_hw, at)
    faces = detector.detect(image)
    assert len(faces) == 1
    # Same face, moved by the paste offset (small shifts come from the 8-px anchor grid).
    expected = np.array(alone.box) + np.array([at[1], at[0], 0, 0])
    np.testing.assert_allclose(faces[0].box, expected, atol=6.0)
    match_reference(faces, opencv_reference(image))


def test_large_image_is_downscaled_and_mapped_back(detector):
    rgb = photo("obama3.jpg")  # 1434x2333
    small = fit_within(rgb, 640)
    (big_face,) = detector.detect(rgb)
    (small_face,) = detector.detect(small)
    fx, fy = small.shape[1] / rgb.shape[1], small.shape[0] / rgb.shape[0]
    # pixel i of the downscaled image is centred on i / f + (1/f - 1)/2 of the photo's pixels
    offset = np.array([0.5 / fx - 0.5, 0.5 / fy - 0.5])
    assert 0.5 < offset[0] < 1.5 and 0.5 < offset[1] < 1.5  # a shift the old mapping-back left out
    np.testing.assert_allclose(big_face.box, np.array(small_face.box) / [fx, fy, fx, fy] + [*offset, 0, 0],
                               rtol=1e-6)
    np.testing.assert_allclose(big_face.landmarks, small_face.landmarks / [fx, fy] + offset, rtol=1e-6)

    finer = YuNetDetector(max_side=1280)
    (fine_face,) = finer.detect(rgb)
    # A different working size gives a slightly different box for the same face.
    assert abs(fine_face.box[0] - big_face.box[0]) < 0.05 * big_face.box[2]
    assert abs(fine_face.box[2] - big_face.box[2]) < 0.1 * big_face.box[2]


def test_results_are_sorted_and_deterministic(detector):
    rgb = photo("t1.jpg")
    first = detector.detect(rgb)
    again = detector.detect(rgb)
    assert [f.score for f in first] == sorted((f.score for f in first), reverse=True)
    assert [f.box for f in first] == [f.box for f in again]
    for face in first:
        assert isinstance(face.score, float) and 0.0 < face.score <= 1.0
        assert all(isinstance(v, float) for v in face.box)
        assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float64
        assert not face.landmarks.flags.writeable


def test_score_threshold_filters(detector):
    (face,) = detector.detect(photo("obama.jpg"))
    strict = YuNetDetector(score_threshold=min(1.0, face.score + 0.01))
    assert strict.detect(photo("obama.jpg")) == []


def test_session_threads_and_spinning():
    options = YuNetDetector(num_threads=1)._session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_sha256_mismatch_raises(tmp_path):
    damaged = bytearray(DEFAULT_MODEL_PATH.read_bytes())
    damaged[-1] ^= 0x01
    path = tmp_path / "face_detection_yunet_2023mar.onnx"
    path.write_bytes(bytes(damaged))
    with pytest.raises(ModelChecksumError, match="sha256"):
        YuNetDetector(model_path=path)


def test_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.onnx"):
        YuNetDetector(model_path=tmp_path / "nowhere.onnx")


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32),
     np.zeros((0, 10, 3), np.uint8), [[0, 0, 0]]],
    ids=["gray", "rgba", "float", "empty", "list"],
)
def test_detect_rejects_wrong_input(detector, bad):
    with pytest.raises(ValueError):
        detector.detect(bad)


@pytest.mark.parametrize(
    "kwargs",
    [{"num_threads": 4}, {"score_threshold": 1.5}, {"nms_threshold": 0.0}, {"top_k": 0}, {"max_side": 16}],
)
def test_constructor_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        YuNetDetector(**kwargs)


def test_nms_suppresses_overlaps_and_honours_top_k():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 10, 10], [0, 5, 10, 10]], float)
    scores = np.array([0.9, 0.95, 0.8, 0.7])
    # Box 1 (best) overlaps box 0 with IoU 90/110; box 3 overlaps box 1 with IoU 45/155 < 0.3.
    assert nms(boxes, scores, 0.3).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.25).tolist() == [1, 2]
    assert nms(boxes, scores, 0.95).tolist() == [1, 0, 2, 3]
    assert nms(boxes, scores, 0.3, top_k=2).tolist() == [1]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3).tolist() == []


def test_small_image_is_upsampled_once_and_mapped_back():
    import cv2

    small = fit_within(photo("obama.jpg"), 300)  # fits 640 twice over: detected at 2x
    upsampling = YuNetDetector(upsample_small=True)
    (face,) = upsampling.detect(small)
    big = cv2.resize(small, (2 * small.shape[1], 2 * small.shape[0]), interpolation=cv2.INTER_LINEAR)
    (big_face,) = YuNetDetector().detect(big)
    # the 2x image's pixel centres sit at 2i + 0.5 of the small image's
    np.testing.assert_allclose(face.box, (np.array(big_face.box) - [0.5, 0.5, 0, 0]) / 2, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(face.landmarks, (big_face.landmarks - 0.5) / 2, atol=1e-9)
    # an image that would not fit max_side at twice its size is detected as it is
    plain = fit_within(photo("obama.jpg"), 400)
    assert [f.box for f in upsampling.detect(plain)] == [f.box for f in YuNetDetector().detect(plain)]
