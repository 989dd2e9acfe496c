"""extract_chip against dlib.get_face_chip: chips must be identical pixel for pixel."""

from __future__ import annotations

import math
import pathlib

import cv2
import numpy as np
import pytest

dlib = pytest.importorskip("dlib")

from app.vision.dlib_models import model_path  # noqa: E402
from app.vision.face_chip import (  # noqa: E402
    TEMPLATE_5,
    ChipInputError,
    ChipTransform,
    affine_transform,
    apply_affine,
    chip_transform,
    extract_chip,
    extract_chip_at,
    plan_chip,
    pyramid_down2,
    similarity_transform,
)
from app.vision.shape_predictor import MODEL_FILE, ShapePredictor  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
PHOTOS = ("obama", "obama2", "obama3", "biden")


def load_rgb(name: str) -> np.ndarray:
    bgr = cv2.imread(str(DATA / f"{name}.jpg"))
    assert bgr is not None, f"cannot read {name}.jpg"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def reference():
    return dlib.shape_predictor(str(model_path(MODEL_FILE)))


@pytest.fixture(scope="module")
def faces(reference):
    """(name, rgb image, dlib full_object_detection) for every face dlib finds in the photos."""
    detector = dlib.get_frontal_face_detector()
    out = []
    for name in PHOTOS:
        img = load_rgb(name)
        found = detector(img, 0)
        assert found, f"dlib finds no face in {name}.jpg"
        out.extend((name, img, reference(img, r)) for r in found)
    return out


def points(detection) -> np.ndarray:
    return np.array([[p.x, p.y] for p in detection.parts()], dtype=np.int64)


def detection(pts) -> "dlib.full_object_detection":
    return dlib.full_object_detection(dlib.rectangle(0, 0, 1, 1), [dlib.point(int(x), int(y)) for x, y in pts])


def assert_same_chip(img, pts, size=150, padding=0.25) -> np.ndarray:
    ours = extract_chip(img, pts, size, padding)
    theirs = dlib.get_face_chip(img, detection(pts), size, padding)
    assert ours.shape == (size, size, 3) and ours.dtype == np.uint8
    differing = int((ours != theirs).any(axis=-1).sum())
    assert np.array_equal(ours, theirs), f"{differing} chip pixels differ from dlib's"
    return ours


def test_chip_details_are_bit_identical(faces):
    for _, _, det in faces:
        ours = chip_transform(points(det))
        theirs = dlib.get_face_chip_details(det, 150, 0.25)
        r = theirs.rect
        assert ours.rect == (r.left(), r.top(), r.right(), r.bottom())
        assert ours.angle == theirs.angle
        assert (ours.rows, ours.cols) == (theirs.rows, theirs.cols) == (150, 150)


def test_chips_match_dlib_on_photos(faces):
    levels = set()
    for _, img, det in faces:
        pts = points(det)
        assert_same_chip(img, pts)
        levels.add(plan_chip(img.shape, chip_transform(pts)).level)
    # the photos exercise both direct sampling and the first pyramid level
    assert levels >= {-1, 0}


def test_end_to_end_with_our_landmarks(faces):
    predictor = ShapePredictor()
    for _, img, det in faces:
        r = det.rect
        ours = predictor.predict(img, (r.left(), r.top(), r.right(), r.bottom()))
        np.testing.assert_array_equal(ours, points(det))
        assert_same_chip(img, ours)


def test_large_face_takes_the_pyramid_path(faces):
    _, img, det = next(f for f in faces if f[0] == "obama")
    for factor, expected_level in ((2.5, 1), (5, 2)):
        big = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        pts = np.round(points(det) * factor).astype(np.int64)
        plan = plan_chip(big.shape, chip_transform(pts))
        assert plan.level == expected_level and plan.pyramid_depth >= plan.level + 1
        # the chip is cut from a crop around the face, not from the whole image
        assert plan.crop[2] - plan.crop[0] < big.shape[1] - 1
        assert_same_chip(big, pts)


def test_face_at_the_border_samples_outside_as_black(faces):
    _, img, det = next(f for f in faces if f[0] == "obama")
    pts = points(det)
    cut_x = int(pts[:, 0].min()) - 10
    cut_y = int(pts[:, 1].min()) - 30
    crop = np.ascontiguousarray(img[cut_y:, cut_x:])
    moved = pts - [cut_x, cut_y]
    chip = assert_same_chip(crop, moved)
    # the chip's top-left corner maps outside the crop: those pixels are black
    assert np.all(chip[:20, :20] == 0)
    assert chip[75, 75].any()


def test_rotated_image(faces):
    _, img, det = next(f for f in faces if f[0] == "obama")
    height, width = img.shape[:2]
    for degrees in (35, -60, 180):
        rotation = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        rotated = cv2.warpAffine(img, rotation, (width, height))
        pts = points(det)
        moved = np.round(np.c_[pts, np.ones(5)] @ rotation.T).astype(np.int64)
        assert_same_chip(rotated, moved)
        assert abs(abs(chip_transform(moved).angle) - math.radians(abs(degrees))) < 0.2


def test_random_geometries_on_flat_image():
    """Blocky image with flat areas, where a one-ulp error in a sample position flips a
    truncated pixel value; random scales, angles, positions (partly off-image), sizes."""
    rng = np.random.default_rng(11)
    blocks = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    img = np.ascontiguousarray(np.kron(blocks, np.ones((16, 16, 1), np.uint8)))
    img[:, :80] = 255
    height, width = img.shape[:2]
    seen_levels = set()
    for _ in range(40):
        scale = rng.uniform(30, 700)
        angle = rng.uniform(-math.pi, math.pi)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        centre = rng.uniform([-0.1 * width, -0.1 * height], [1.1 * width, 1.1 * height])
        pts = (np.array(TEMPLATE_5) - 0.5) @ rot.T * scale + centre
        pts = np.round(pts + rng.normal(0, 0.02 * scale, pts.shape)).astype(np.int64)
        size = int(rng.choice([150, 80, 201]))
        padding = float(rng.choice([0.25, 0.0, 0.1, 0.5]))
        assert_same_chip(img, pts, size, padding)
        seen_levels.add(plan_chip(img.shape, chip_transform(pts, size, padding)).level)
    assert {-1, 0, 1} <= seen_levels


def test_arbitrary_chip_details_match_extract_image_chip(faces):
    _, img, _ = faces[0]
    cases = [
        dlib.chip_details(dlib.rectangle(300, 100, 449, 249)),  # unrotated, unscaled: plain copy
        dlib.chip_details(dlib.rectangle(-40, -30, 109, 119)),  # plain copy hanging off the image
        dlib.chip_details(dlib.drectangle(310.3, 120.1, 590.7, 399.2), dlib.chip_dims(40, 50), 0.3),
        dlib.chip_details(dlib.drectangle(200.5, 90.25, 700.0, 600.0), dlib.chip_dims(120, 90), -2.0),
    ]
    for details in cases:
        r = details.rect
        chip = ChipTransform((r.left(), r.top(), r.right(), r.bottom()), details.angle, details.rows, details.cols)
        ours = extract_chip_at(img, chip)
        theirs = dlib.extract_image_chip(img, details)
        assert ours.shape == theirs.shape
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("shape", [(37, 41, 3), (64, 64, 3), (100, 51), (9, 9, 3)])
def test_pyramid_down2_matches_dlib(shape):
    img = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(pyramid_down2(img), dlib.pyramid_down(2)(img))


def test_similarity_transform_recovers_an_exact_similarity():
    angle, scale, shift = 0.4, 2.5, (10.0, -3.0)
    m00, m10 = scale * math.cos(angle), scale * math.sin(angle)
    src = [(0.0, 0.0), (3.0, 1.0), (-2.0, 5.0), (4.0, -4.0)]
    dst = [(m00 * x - m10 * y + shift[0], m10 * x + m00 * y + shift[1]) for x, y in src]
    tform = similarity_transform(src, dst)
    for (x, y), (u, v) in zip(src, dst):
        assert apply_affine(tform, x, y) == pytest.approx((u, v), abs=1e-9)


@pytest.mark.parametrize("count", [3, 6])
def test_affine_transform_recovers_an_exact_affine(count):
    src = [(0.0, 0.0), (10.0, 1.0), (-2.0, 7.0), (4.0, -4.0), (3.0, 3.0), (-5.0, -1.0)][:count]
    (a, b, c), (d, e, f) = (1.5, -0.3, 7.0), (0.2, 0.8, -2.0)
    dst = [(a * x + b * y + c, d * x + e * y + f) for x, y in src]
    tform = affine_transform(src, dst)
    assert np.allclose(tform, ((a, b, c), (d, e, f)), atol=1e-9)


def test_chip_to_image_maps_the_template_onto_the_landmarks(faces):
    _, _, det = faces[0]
    pts = points(det)
    chip = chip_transform(pts)
    to_image = chip.chip_to_image()
    to_chip = chip.image_to_chip()
    for (tx, ty), (x, y) in zip(TEMPLATE_5, pts):
        # template positions in the chip land near the detected points (least-squares fit)
        cx, cy = (0.25 + tx) / 1.5 * 150, (0.25 + ty) / 1.5 * 150
        assert np.hypot(*np.subtract(apply_affine(to_image, cx, cy), (x, y))) < 6
        back = apply_affine(to_chip, *apply_affine(to_image, cx, cy))
        assert back == pytest.approx((cx, cy), abs=1e-6)


@pytest.mark.parametrize(
    "args",
    [
        (np.zeros((10, 10), np.uint8), np.zeros((5, 2), int)),
        (np.zeros((10, 10, 3), np.float32), np.zeros((5, 2), int)),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((4, 2), int)),
        (np.zeros((10, 10, 3), np.uint8), np.full((5, 2), 1.5)),
        (np.zeros((10, 10, 3), np.uint8), np.full((5, 2), np.nan)),
    ],
)
def test_bad_input_is_rejected(args):
    with pytest.raises(ChipInputError):
        extract_chip(*args)


@pytest.mark.parametrize("size,padding", [(0, 0.25), (150.0, 0.25), (150, -0.1), (150, "0.25")])
def test_bad_size_or_padding_is_rejected(size, padding):
    pts = np.array(TEMPLATE_5) * 100 + 50
    with pytest.raises(ChipInputError):
        chip_transform(np.round(pts), size, padding)
