"""ShapePredictor against dlib.shape_predictor: integer landmarks must be identical."""

from __future__ import annotations

import pathlib

import cv2
import numpy as np
import pytest

dlib = pytest.importorskip("dlib")

from app.vision.dlib_models import model_path  # noqa: E402
from app.vision.dlib_serialize import DlibFormatError  # noqa: E402
from app.vision.shape_predictor import MODEL_FILE, LandmarkInputError, ShapePredictor  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
PHOTOS = ("obama", "obama2", "obama3", "biden")


def load_rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(DATA / f"{name}.jpg"))
    assert bgr is not None, f"cannot read {name}.jpg"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def predictor() -> ShapePredictor:
    return ShapePredictor()


@pytest.fixture(scope="module")
def reference():
    return dlib.shape_predictor(str(model_path(MODEL_FILE)))


@pytest.fixture(scope="module")
def photo_boxes():
    """Each photo with the boxes dlib's HOG detector finds in it."""
    detector = dlib.get_frontal_face_detector()
    out = []
    for name in PHOTOS:
        img = load_rgb(name)
        boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(img, 0)]
        assert boxes, f"dlib finds no face in {name}.jpg"
        out.append((name, img, boxes))
    return out


def dlib_landmarks(reference, img: np.ndarray, box) -> np.ndarray:
    shape = reference(img, dlib.rectangle(*(int(v) for v in box)))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.int64)


def jittered(box, rng: np.random.Generator, count: int):
    """Boxes moved and stretched independently in x and y (not square, as YuNet's are not)."""
    left, top, right, bottom = box
    size = right - left
    for _ in range(count):
        dx, dy, dw, dh = rng.integers(-size // 4, size // 4 + 1, 4)
        yield (int(left + dx), int(top + dy), int(right + dx + dw), int(bottom + dy + dh))


def assert_same(predictor, reference, img, box):
    ours = predictor.predict(img, box)
    theirs = dlib_landmarks(reference, img, box)
    assert ours.shape == (5, 2) and ours.dtype == np.int64
    np.testing.assert_array_equal(ours, theirs, err_msg=f"box {box}")


def test_model_structure(predictor):
    assert predictor.num_parts == 5
    assert predictor.num_cascades == 15
    assert predictor.split_idx1.shape == (15, 500, 15)
    assert predictor.leaf_values.shape == (15, 500, 16, 10)
    assert predictor.depth == 4
    assert predictor.deltas.shape == (15, 800, 2)
    # the mean shape lies inside the unit square of the detection box
    assert np.all((predictor.initial_shape > 0) & (predictor.initial_shape < 1))


def test_truncated_or_padded_file_is_rejected(tmp_path):
    data = model_path(MODEL_FILE).read_bytes()
    short = tmp_path / "short.dat"
    short.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError, match="end of data"):
        ShapePredictor(short)
    padded = tmp_path / "padded.dat"
    padded.write_bytes(data + b"\x01\x00")
    with pytest.raises(DlibFormatError, match="2 bytes left"):
        ShapePredictor(padded)


def test_landmarks_match_dlib_on_photos(predictor, reference, photo_boxes):
    rng = np.random.default_rng(5)
    for _, img, boxes in photo_boxes:
        for box in boxes:
            for candidate in [box, *jittered(box, rng, 4)]:
                assert_same(predictor, reference, img, candidate)


def test_grey_images_match_dlib(predictor, reference, photo_boxes):
    rng = np.random.default_rng(6)
    for _, img, boxes in photo_boxes:
        grey = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
        for candidate in [boxes[0], *jittered(boxes[0], rng, 2)]:
            assert_same(predictor, reference, grey, candidate)


def test_non_contiguous_rgb_view(predictor, reference, photo_boxes):
    _, img, boxes = photo_boxes[0]
    # a view with negative strides takes the generic gather path
    mirrored = img[:, ::-1]
    width = img.shape[1]
    left, top, right, bottom = boxes[0]
    box = (width - 1 - right, top, width - 1 - left, bottom)
    assert_same(predictor, reference, mirrored, box)


def test_upscaled_face(predictor, reference, photo_boxes):
    _, img, boxes = photo_boxes[0]
    big = cv2.resize(img, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    box = tuple(3 * v for v in boxes[0])
    assert box[2] - box[0] > 700
    assert_same(predictor, reference, big, box)


def test_face_at_the_image_border(predictor, reference, photo_boxes):
    """Part of the box lies outside the image, so feature pixels fall outside (read as 0)."""
    _, img, boxes = photo_boxes[0]
    left, top, right, bottom = boxes[0]
    cut_x, cut_y = (left + right) // 2 - 20, top + 30
    crop = np.ascontiguousarray(img[cut_y:, cut_x:])
    box = (left - cut_x, top - cut_y, right - cut_x, bottom - cut_y)
    assert box[0] < 0 and box[1] < 0
    assert_same(predictor, reference, crop, box)
    # and a box hanging over the right and bottom edges
    crop2 = np.ascontiguousarray(img[: bottom - 40, : (left + right) // 2 + 30])
    assert_same(predictor, reference, crop2, boxes[0])


def test_rotated_image(predictor, reference, photo_boxes):
    _, img, boxes = photo_boxes[0]
    height, width = img.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0)
    rotated = cv2.warpAffine(img, rotation, (width, height))
    left, top, right, bottom = boxes[0]
    corners = np.array([[left, top, 1], [right, top, 1], [left, bottom, 1], [right, bottom, 1]], float)
    moved = corners @ rotation.T
    box = tuple(int(v) for v in (*moved.min(axis=0).round(), *moved.max(axis=0).round()))
    assert_same(predictor, reference, rotated, box)
    found = dlib.get_frontal_face_detector()(rotated, 0)
    for r in found:
        assert_same(predictor, reference, rotated, (r.left(), r.top(), r.right(), r.bottom()))


def test_tiny_and_degenerate_boxes(predictor, reference, photo_boxes):
    _, img, boxes = photo_boxes[0]
    left, top, _, _ = boxes[0]
    for box in [(left, top, left, top), (left, top, left + 3, top + 40), (-50, -50, 10, 10)]:
        assert_same(predictor, reference, img, box)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 10, 3), np.float32),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((0, 10), np.uint8),
        [[0, 1], [2, 3]],
    ],
)
def test_bad_image_is_rejected(predictor, image):
    with pytest.raises(LandmarkInputError):
        predictor.predict(image, (0, 0, 5, 5))


@pytest.mark.parametrize("box", [(0, 0, 5), (0.5, 0, 5, 5), (5, 0, 0, 5), (True, 0, 5, 5), "abcd", 7])
def test_bad_box_is_rejected(predictor, box):
    with pytest.raises(LandmarkInputError):
        predictor.predict(np.zeros((10, 10), np.uint8), box)
