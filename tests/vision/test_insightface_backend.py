"""The insightface-pack backend (SCRFD + ArcFace) against tiny ONNX graphs built here.

The real packs cannot be downloaded in tests, so the graphs below have the real models'
input/output signatures and outputs we can predict: constant SCRFD outputs placing known faces,
an SCRFD whose scores are the mean red value of 32x32 cells (checks letterbox, RGB order and
normalisation through onnxruntime), and a Flatten+MatMul "recognizer" numpy can reproduce.
"""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from app.vision.arcface import (
    ARCFACE_TEMPLATE,
    ArcFaceEmbedder,
    arcface_align,
    arcface_transform,
    input_normalisation,
    similarity_transform,
)
from app.vision.insightface_pack import (
    DetectorMissingError,
    InvalidModelFileError,
    ModelPackError,
    PackNotFoundError,
    RecognizerMissingError,
    find_pack_models,
    read_signature,
)
from app.vision.scrfd import (
    ScrfdDetector,
    anchor_centers,
    decode_outputs,
    letterbox,
    nms,
)

STRIDES = (8, 16, 32)


# ---------------------------------------------------------------- graph builders


def _save(path, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "fake", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # old enough for any onnxruntime we may meet
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _image_input(size):
    dims = [1, 3, size, size] if size else [1, 3, "height", "width"]
    return helper.make_tensor_value_info("input.1", TensorProto.FLOAT, dims)


def _rows_for(size, stride, anchors=2):
    return (size // stride) ** 2 * anchors


def build_constant_scrfd(path, arrays, size=640, dynamic_input=False):
    """An SCRFD look-alike whose outputs are the given arrays, whatever the image.

    `arrays` lists the outputs in session order: 9 (scores x3, boxes x3, kps x3) or 6 (no kps).
    """
    nodes, outputs, inits = [], [], []
    for i, array in enumerate(arrays):
        inits.append(numpy_helper.from_array(array.astype(np.float32), f"const{i}"))
        # Names deliberately unsorted: the order that counts is the graph's, not the names'.
        name = f"out_{(7 * i) % len(arrays)}_{i}"
        nodes.append(helper.make_node("Identity", [f"const{i}"], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(array.shape)))
    return _save(path, nodes, [_image_input(None if dynamic_input else size)], outputs, inits)


def build_red_cell_scrfd(path, size=640, box_distance=0.5):
    """An SCRFD look-alike whose stride-32 score is the mean of the net's channel 0 over each
    32x32 cell (so a pure-red cell scores 127.5/128); strides 8 and 16 score -1 everywhere.

    Boxes are `box_distance` strides on each side of the anchor and keypoints sit on the anchor.
    Every output is computed from the input, so any input size gives consistent shapes.
    """
    c = lambda name, value: numpy_helper.from_array(np.asarray(value), name)  # noqa: E731
    inits = [
        c("starts", np.array([0], np.int64)),
        c("ends", np.array([1], np.int64)),
        c("axes", np.array([1], np.int64)),
        c("column", np.array([-1, 1], np.int64)),
        c("zero", np.float32(0.0)),
        c("minus_one", np.float32(-1.0)),
        c("box_row", np.full((1, 4), box_distance, np.float32)),
        c("kps_row", np.zeros((1, 10), np.float32)),
    ]
    nodes = [helper.make_node("Slice", ["input.1", "starts", "ends", "axes"], ["channel0"])]
    outputs = {}
    for stride in STRIDES:
        s = str(stride)
        nodes += [
            helper.make_node(
                "AveragePool", ["channel0"], ["pool" + s], kernel_shape=[stride] * 2, strides=[stride] * 2
            ),
            helper.make_node("Reshape", ["pool" + s, "column"], ["cells" + s]),
            helper.make_node("Concat", ["cells" + s, "cells" + s], ["pairs" + s], axis=1),  # 2 anchors
            helper.make_node("Reshape", ["pairs" + s, "column"], ["mean" + s]),
            helper.make_node("Mul", ["mean" + s, "zero"], ["zeros" + s]),
            helper.make_node("Add", ["zeros" + s, "box_row"], ["boxes" + s]),
            helper.make_node("Add", ["zeros" + s, "kps_row"], ["kps" + s]),
        ]
        if stride == 32:
            nodes.append(helper.make_node("Identity", ["mean" + s], ["scores" + s]))
        else:
            nodes.append(helper.make_node("Add", ["zeros" + s, "minus_one"], ["scores" + s]))
        outputs[stride] = [("scores" + s, 1), ("boxes" + s, 4), ("kps" + s, 10)]
    ordered = [outputs[s][k] for k in range(3) for s in STRIDES]
    infos = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, ["rows", width]) for name, width in ordered
    ]
    return _save(path, nodes, [_image_input(size)], infos, inits)


def build_recognizer(path, weights, batch="N", mxnet_style=False):
    """Flatten + MatMul: embedding = flattened NCHW input @ weights (37632 x D).

    `mxnet_style` puts the (x - 127.5) / 127.5 inside the graph under MXNet-converter node names,
    as the old insightface recognizers do.
    """
    inits = [numpy_helper.from_array(weights.astype(np.float32), "fc_weight")]
    nodes = []
    source = "input.1"
    if mxnet_style:
        inits += [
            numpy_helper.from_array(np.float32(127.5), "mean"),
            numpy_helper.from_array(np.float32(1 / 127.5), "scale"),
        ]
        nodes += [
            helper.make_node("Sub", ["input.1", "mean"], ["centred"], name="_minus0"),
            helper.make_node("Mul", ["centred", "scale"], ["scaled"], name="_mul0"),
        ]
        source = "scaled"
    nodes += [
        helper.make_node("Flatten", [source], ["flat"], axis=1, name="Flatten_0"),
        helper.make_node("MatMul", ["flat", "fc_weight"], ["683"], name="MatMul_1"),
    ]
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, weights.shape[1]])
    return _save(path, nodes, [inp], [out], inits)


def build_other_model(path, size, out_width):
    """A landmark/genderage-shaped net (size x size input, one output) the pack must ignore."""
    inp = helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, size, size])
    out = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, out_width])
    inits = [numpy_helper.from_array(np.ones((3, out_width), np.float32), "w")]
    nodes = [
        helper.make_node("GlobalAveragePool", ["data"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "w"], ["fc1"]),
    ]
    return _save(path, nodes, [inp], [out], inits)


# ---------------------------------------------------------------- placed detections


def _blank_outputs(size=640):
    scores = [np.zeros((_rows_for(size, s), 1), np.float32) for s in STRIDES]
    boxes = [np.zeros((_rows_for(size, s), 4), np.float32) for s in STRIDES]
    kps = [np.zeros((_rows_for(size, s), 10), np.float32) for s in STRIDES]
    return scores, boxes, kps


def _place(outputs, level, gx, gy, anchor, score, dist, kps=None, size=640):
    scores, boxes, kpss = outputs
    row = (gy * (size // STRIDES[level]) + gx) * 2 + anchor
    scores[level][row, 0] = score
    boxes[level][row] = dist
    if kps is not None:
        kpss[level][row] = np.ravel(kps)


KPS_A = [(-1, -1), (1, -1), (0, 0.5), (-0.5, 2), (0.5, 2)]  # in stride units, from the anchor


def placed_outputs(with_kps=True):
    """Known faces in net pixels (640x640), worked out by hand below each placement."""
    outs = _blank_outputs()
    # A: stride 8, cell (10, 5), anchor 1 -> centre (80, 40); box (80-16, 40-24, 80+32, 40+40).
    _place(outs, 0, 10, 5, 1, 0.9, (2, 3, 4, 5), KPS_A)
    # B: stride 16, cell (5, 3) -> centre (80, 48); box (64, 16, 112, 84): IoU with A 0.94 -> gone.
    _place(outs, 1, 5, 3, 0, 0.7, (1, 2, 2, 2.25), KPS_A)
    # C: stride 32, cell (15, 10), anchor 1 -> centre (480, 320); box (416, 256, 544, 384).
    _place(outs, 2, 15, 10, 1, 0.6, (2, 2, 2, 2), [(0, 0)] * 5)
    # D: below the 0.5 threshold -> dropped.
    _place(outs, 0, 70, 70, 0, 0.3, (1, 1, 1, 1), KPS_A)
    # E: exactly at the threshold -> kept; stride 16, cell (30, 30), anchor 1 -> (464, 464, 496, 496).
    _place(outs, 1, 30, 30, 1, 0.5, (1, 1, 1, 1), [(1, 1)] * 5)
    scores, boxes, kps = outs
    return scores + boxes + (kps if with_kps else [])


# Expected, in net pixels, best first: (x1, y1, x2, y2), score, landmarks.
EXPECTED_NET = [
    ((64, 16, 112, 80), 0.9, [(72, 32), (88, 32), (80, 44), (76, 56), (84, 56)]),
    ((416, 256, 544, 384), 0.6, [(480, 320)] * 5),
    ((464, 464, 496, 496), 0.5, [(496, 496)] * 5),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    weights = np.random.default_rng(7).standard_normal((3 * 112 * 112, 512)).astype(np.float32)
    return {
        "folder": folder,
        "placed": build_constant_scrfd(folder / "placed.onnx", placed_outputs()),
        "placed_nokps": build_constant_scrfd(folder / "placed6.onnx", placed_outputs(with_kps=False)),
        "placed_dynamic": build_constant_scrfd(
            folder / "placed_dyn.onnx", placed_outputs(), dynamic_input=True
        ),
        "red": build_red_cell_scrfd(folder / "red.onnx"),
        "red_dynamic": build_red_cell_scrfd(folder / "red_dyn.onnx", size=None),
        "recognizer": build_recognizer(folder / "rec.onnx", weights),
        "weights": weights,
    }


@pytest.fixture(scope="module")
def embedder(models):
    return ArcFaceEmbedder(models["recognizer"])


@pytest.mark.parametrize(
    "width, height, scale_x, scale_y",
    [
        (1280, 960, 0.5, 0.5),  # landscape: fills the width, 480 rows used
        (480, 960, 320 / 480, 640 / 960),  # portrait: fills the height
        (1000, 999, 640 / 1000, 639 / 999),  # int() truncation makes the two scales differ
        (320, 240, 2.0, 2.0),  # small images are enlarged
    ],
)
def test_placed_detections_come_back_in_image_pixels(models, width, height, scale_x, scale_y):
    detector = ScrfdDetector(models["placed"])
    found = detector.detect(np.zeros((height, width, 3), np.uint8))
    assert len(found) == len(EXPECTED_NET)
    for det, (box, score, landmarks) in zip(found, EXPECTED_NET):
        x1, y1, x2, y2 = box[0] / scale_x, box[1] / scale_y, box[2] / scale_x, box[3] / scale_y
        assert det.box == pytest.approx((x1, y1, x2 - x1, y2 - y1), abs=1e-6)
        assert det.score == pytest.approx(score, abs=1e-7)
        expected = np.array(landmarks, float) / (scale_x, scale_y)
        assert det.landmarks.shape == (5, 2) and not det.landmarks.flags.writeable
        np.testing.assert_allclose(det.landmarks, expected, atol=1e-9)


def test_lower_threshold_and_looser_nms_keep_more(models):
    detector = ScrfdDetector(models["placed"], score_threshold=0.25, nms_threshold=0.95)
    scores = [round(d.score, 4) for d in detector.detect(np.zeros((640, 640, 3), np.uint8))]
    assert scores == [0.9, 0.7, 0.6, 0.5, 0.3]


def test_detector_without_keypoints(models):
    detector = ScrfdDetector(models["placed_nokps"])
    assert detector.has_landmarks is False
    found = detector.detect(np.zeros((640, 640, 3), np.uint8))
    expected = [(x1, y1, x2 - x1, y2 - y1) for (x1, y1, x2, y2), _, _ in EXPECTED_NET]
    assert [d.box for d in found] == [pytest.approx(box) for box in expected]
    assert all(d.landmarks is None for d in found)


def test_fixed_input_model_keeps_its_own_size(models):
    assert ScrfdDetector(models["placed"], input_size=(320, 320)).input_size == (640, 640)


def test_outputs_that_do_not_fit_the_input_size_are_reported(models):
    detector = ScrfdDetector(models["placed_dynamic"], input_size=(320, 320))
    with pytest.raises(ValueError, match=r"output 0 \(scores for stride 8\).*3200 rows"):
        detector.detect(np.zeros((100, 100, 3), np.uint8))


# ---------------------------------------------------------------- real pixels through the net


def _cells_image(width, height, cells, colours):
    """Black image with solid 64x64 patches at image cells (x, y) of 64 px."""
    image = np.zeros((height, width, 3), np.uint8)
    for (cx, cy), colour in zip(cells, colours):
        image[cy * 64 : cy * 64 + 64, cx * 64 : cx * 64 + 64] = colour
    return image


def test_letterboxed_rgb_pixels_reach_the_net_normalised(models):
    # 1280x960 -> 640x480 at the top-left: an image 64-px cell is a 32-px net cell at half the coords.
    image = _cells_image(1280, 960, [(3, 2), (10, 5), (12, 9)], [(255, 0, 0), (0, 0, 255), (0, 255, 0)])
    found = ScrfdDetector(models["red"]).detect(image)
    # Only the red patch scores: fed as BGR, the blue one would. Red averages (255-127.5)/128.
    assert len(found) == 1
    det = found[0]
    assert det.score == pytest.approx(127.5 / 128, abs=1e-6)
    # Anchor at the net cell's corner (96, 64), box +-16 net px, keypoints on the anchor; x2 back.
    assert det.box == pytest.approx((160, 96, 64, 64))
    np.testing.assert_allclose(det.landmarks, [(192, 128)] * 5)


def test_dynamic_input_model_uses_the_requested_size(models):
    detector = ScrfdDetector(models["red_dynamic"], input_size=(320, 256))
    assert detector.input_size == (320, 256)
    # 640x512 -> 320x256 (scale 0.5): red image cell (4, 3) -> net cell (4, 3) -> anchor (128, 96).
    found = detector.detect(_cells_image(640, 512, [(4, 3)], [(255, 0, 0)]))
    assert [d.box for d in found] == [pytest.approx((224, 160, 64, 64))]


def test_detector_rejects_bad_arguments(models):
    with pytest.raises(ValueError, match="multiples of 32"):
        ScrfdDetector(models["red_dynamic"], input_size=(300, 300))
    with pytest.raises(ValueError, match="score_threshold"):
        ScrfdDetector(models["placed"], score_threshold=1.5)
    with pytest.raises(ModelPackError, match="not an SCRFD detector"):
        ScrfdDetector(models["recognizer"])
    detector = ScrfdDetector(models["placed"])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        detector.detect([[0, 0, 0]])


def test_detector_version_names_the_weights(models):
    digest = hashlib.sha256(models["placed"].read_bytes()).hexdigest()
    assert ScrfdDetector(models["placed"]).version == f"scrfd_{digest[:8]}"


# ---------------------------------------------------------------- decode_outputs / nms / letterbox


def test_anchor_centers_are_cell_corners_repeated_per_anchor():
    centers = anchor_centers(2, 3, 8, 2)
    expected = [(x * 8, y * 8) for y in range(2) for x in range(3) for _ in range(2)]
    np.testing.assert_array_equal(centers, expected)


def _tiny_outputs(size=64, levels=STRIDES, anchors=2, with_kps=True):
    rows = [(size // s) ** 2 * anchors for s in levels]
    outs = [np.zeros((n, 1), np.float32) for n in rows] + [np.zeros((n, 4), np.float32) for n in rows]
    if with_kps:
        outs += [np.zeros((n, 10), np.float32) for n in rows]
    return outs


def test_decode_outputs_distances_are_in_stride_units():
    outs = _tiny_outputs()
    # stride 16 on a 64x64 input: 4x4 grid; cell (1, 2), anchor 1 -> row 19, centre (16, 32).
    outs[1][19] = 0.8
    outs[4][19] = (0.5, 1, 1.5, 2)
    outs[7][19] = (0, 0, 1, 0, 0, 1, -1, 0, 0, -1)
    boxes, scores, kps = decode_outputs(outs, 64, 64, 0.5)
    np.testing.assert_allclose(boxes, [(8, 16, 40, 64)])
    np.testing.assert_allclose(scores, [0.8])
    np.testing.assert_allclose(kps, [[(16, 32), (32, 32), (16, 48), (0, 32), (16, 16)]])


def test_decode_outputs_threshold_is_inclusive_and_batch_axis_is_accepted():
    outs = _tiny_outputs()
    outs[0][[0, 5, 127]] = [[0.5], [0.49999], [1.0]]
    batched = [o[None] for o in outs]  # some exports keep a leading (1, N, k) batch axis
    boxes, scores, kps = decode_outputs(batched, 64, 64, 0.5)
    np.testing.assert_allclose(scores, [0.5, 1.0])
    # row 127 = last cell (7, 7), anchor 1 -> centre (56, 56); zero distances -> a point box.
    np.testing.assert_allclose(boxes[1], (56, 56, 56, 56))
    assert kps.shape == (2, 5, 2)


def test_decode_outputs_five_level_layout_and_no_keypoints():
    outs = _tiny_outputs(size=128, levels=(8, 16, 32, 64, 128), anchors=1, with_kps=False)
    assert len(outs) == 10
    outs[4][0] = 0.9  # stride 128: a single cell at (0, 0)
    outs[9][0] = (0.25, 0.25, 0.5, 0.5)
    boxes, scores, kps = decode_outputs(outs, 128, 128, 0.5)
    np.testing.assert_allclose(boxes, [(-32, -32, 64, 64)])
    assert kps is None


def test_decode_outputs_reports_bad_layouts():
    with pytest.raises(ValueError, match="6, 9, 10 or 15 outputs"):
        decode_outputs(_tiny_outputs()[:7], 64, 64, 0.5)
    outs = _tiny_outputs()
    outs[5] = np.zeros((9, 4), np.float32)
    outs[2][0] = 0.9  # the box rows are only read for a level with a candidate
    with pytest.raises(ValueError, match=r"output 5 \(boxes for stride 32\)"):
        decode_outputs(outs, 64, 64, 0.5)


def test_decode_outputs_with_nothing_above_threshold():
    boxes, scores, kps = decode_outputs(_tiny_outputs(), 64, 64, 0.5)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and kps.shape == (0, 5, 2)


def test_nms_keeps_best_and_drops_overlaps():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 21, 30, 30], [0, 0, 10, 4]], float
    )
    scores = np.array([0.8, 0.9, 0.7, 0.95, 0.6])
    # 3 beats 2 (IoU 0.81); 1 beats 0 (IoU 81/119); box 4 vs 1: 27/(100+40-27) = 0.24 -> kept.
    np.testing.assert_array_equal(nms(boxes, scores, 0.4), [3, 1, 4])


def test_nms_threshold_is_exclusive_ties_are_stable_and_empty_is_fine():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 4]], float)  # IoU exactly 0.4
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.5]), 0.4), [0, 1])
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.5]), 0.39), [0])
    np.testing.assert_array_equal(nms(boxes[::-1], np.array([0.5, 0.5]), 0.39), [0])
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.4).tolist() == []
    points = np.array([[5, 5, 5, 5], [5, 5, 5, 5]], float)  # zero area: no NaN, nothing overlaps
    np.testing.assert_array_equal(nms(points, np.array([0.9, 0.8]), 0.4), [0, 1])
    with pytest.raises(ValueError, match="3 boxes but 2 scores"):
        nms(np.zeros((3, 4)), np.zeros(2), 0.4)


def test_letterbox_places_the_image_top_left_on_black():
    image = np.full((100, 200, 3), 200, np.uint8)
    canvas, sx, sy = letterbox(image, (64, 64))
    assert canvas.shape == (64, 64, 3) and (sx, sy) == (64 / 200, 32 / 100)
    assert (canvas[:32] == 200).all() and (canvas[32:] == 0).all()
    canvas, sx, sy = letterbox(np.full((3000, 2, 3), 9, np.uint8), (64, 32))  # extreme aspect
    assert canvas[:, :1].min() == 9 and (canvas[:, 1:] == 0).all() and sy == 32 / 3000


# ---------------------------------------------------------------- alignment


def _similarity(scale, degrees, tx, ty):
    a = math.radians(degrees)
    cos, sin = scale * math.cos(a), scale * math.sin(a)
    return np.array([[cos, -sin, tx], [sin, cos, ty]])


def _apply(matrix, points):
    return np.asarray(points, float) @ matrix[:, :2].T + matrix[:, 2]


def _smooth_chip():
    y, x = np.mgrid[:112, :112] / 112.0
    channels = [128 + 100 * np.sin(2 * np.pi * x), 128 + 100 * np.cos(3 * y + x), 60 + 150 * x * y]
    chip = np.stack(channels, axis=-1)
    return np.round(chip).astype(np.uint8)


def test_alignment_inverts_a_known_similarity():
    chip_to_image = _similarity(1.7, 20, 150, 90)
    landmarks = _apply(chip_to_image, ARCFACE_TEMPLATE)
    recovered = arcface_transform(landmarks)
    np.testing.assert_allclose(recovered, cv2.invertAffineTransform(chip_to_image), atol=1e-9)
    np.testing.assert_allclose(_apply(recovered, landmarks), ARCFACE_TEMPLATE, atol=1e-9)

    chip = _smooth_chip()
    image = cv2.warpAffine(chip, chip_to_image, (420, 360), flags=cv2.INTER_LINEAR)  # holds all of it
    aligned = arcface_align(image, landmarks)
    assert aligned.shape == (112, 112, 3) and aligned.dtype == np.uint8
    inverse = cv2.invertAffineTransform(chip_to_image)
    expected = cv2.warpAffine(image, inverse, (112, 112), flags=cv2.INTER_LINEAR)
    assert np.abs(aligned.astype(int) - expected).max() <= 1
    # And it is the original chip again, up to two bilinear resamplings (edges aside).
    diff = np.abs(aligned.astype(int) - chip)[3:-3, 3:-3]
    assert diff.mean() < 1.0 and diff.max() <= 6


def test_alignment_is_the_least_squares_similarity_for_noisy_points():
    rng = np.random.default_rng(3)
    landmarks = _apply(_similarity(0.6, -35, 300, 410), ARCFACE_TEMPLATE) + rng.normal(0, 2.0, (5, 2))
    # Independent formulation: u = a x - b y + tx, v = b x + a y + ty, solved linearly.
    rows, rhs = [], []
    for (x, y), (u, v) in zip(landmarks, ARCFACE_TEMPLATE):
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
        rhs += [u, v]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    np.testing.assert_allclose(arcface_transform(landmarks), [[a, -b, tx], [b, a, ty]], atol=1e-9)


def test_alignment_never_mirrors_and_pads_with_black():
    mirrored = ARCFACE_TEMPLATE * (-1, 1) + (112, 0)  # left/right swapped: best fit is a reflection
    m = arcface_transform(mirrored)
    assert m[0, 0] == pytest.approx(m[1, 1]) and m[0, 1] == pytest.approx(-m[1, 0])
    # Face at the image's top-left corner: the chip's top-left lies outside the image -> black.
    image = np.full((200, 200, 3), 255, np.uint8)
    chip = arcface_align(image, ARCFACE_TEMPLATE - 40)
    assert (chip[:30, :30] == 0).all() and (chip[60:, 60:] == 255).all()


def test_alignment_rejects_bad_input():
    image = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        arcface_align(image, np.zeros((68, 2)))
    with pytest.raises(ValueError, match="coincide"):
        arcface_align(image, np.full((5, 2), 10.0))
    with pytest.raises(ValueError, match="non-finite"):
        arcface_align(image, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="uint8"):
        arcface_align(image.astype(np.float32), ARCFACE_TEMPLATE)
    with pytest.raises(ValueError, match="n >= 2"):
        similarity_transform(np.zeros((1, 2)), np.zeros((1, 2)))


# ---------------------------------------------------------------- recognizer


def _reference_embeddings(chips, weights):
    blob = (chips.astype(np.float64) - 127.5) / 127.5  # RGB, as the chips are
    raw = blob.transpose(0, 3, 1, 2).reshape(len(chips), -1) @ weights.astype(np.float64)
    return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def _random_chips(n, seed=11):
    return np.random.default_rng(seed).integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)


def test_embeddings_match_numpy_preprocessing_and_product(models, embedder):
    assert (embedder.input_mean, embedder.input_std, embedder.dimension) == (127.5, 127.5, 512)
    chips = _random_chips(37)  # more than one session batch
    got = embedder.compute(chips)
    assert got.shape == (37, 512) and got.dtype == np.float32
    np.testing.assert_allclose(got, _reference_embeddings(chips, models["weights"]), atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # A list, and a single chip, give the same rows.
    np.testing.assert_allclose(embedder.compute(list(chips[:2])), got[:2], atol=1e-6)
    np.testing.assert_allclose(embedder.compute(chips[5]), got[5:6], atol=1e-6)
    assert embedder.compute([]).shape == (0, 512)


def test_embedder_version_names_the_weights(models, embedder):
    digest = hashlib.sha256(models["recognizer"].read_bytes()).hexdigest()
    assert embedder.version == f"arcface_{digest[:8]}"


def test_mxnet_style_recognizer_gets_raw_pixels_and_batch_one_models_work(tmp_path):
    weights = np.random.default_rng(5).standard_normal((3 * 112 * 112, 16)).astype(np.float32)
    path = build_recognizer(tmp_path / "old.onnx", weights, batch=1, mxnet_style=True)
    assert input_normalisation(path) == (0.0, 1.0)
    embedder = ArcFaceEmbedder(path)
    chips = _random_chips(3, seed=2)
    np.testing.assert_allclose(embedder.compute(chips), _reference_embeddings(chips, weights), atol=2e-5)


def test_embedder_rejects_bad_chips_and_wrong_models(models, embedder):
    with pytest.raises(ValueError, match=r"\(N, 112, 112, 3\)"):
        embedder.compute(np.zeros((2, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        embedder.compute(np.zeros((1, 112, 112, 3), np.float32))
    with pytest.raises(ValueError, match="must all be"):
        embedder.compute([np.zeros((112, 112, 3), np.uint8), np.zeros((112, 111, 3), np.uint8)])
    with pytest.raises(ModelPackError, match="not an ArcFace recognizer"):
        ArcFaceEmbedder(models["placed"])


# ---------------------------------------------------------------- pack discovery


@pytest.fixture
def small_recognizer_weights():
    return np.random.default_rng(1).standard_normal((3 * 112 * 112, 8)).astype(np.float32)


def test_pack_discovery_goes_by_signature_not_name(models, tmp_path, small_recognizer_weights):
    # Names swapped on purpose: the detector is called like a recognizer and vice versa.
    detector = tmp_path / "w600k_r50.onnx"
    detector.write_bytes(models["placed"].read_bytes())
    recognizer = build_recognizer(tmp_path / "det_10g.onnx", small_recognizer_weights)
    build_other_model(tmp_path / "2d106det.onnx", 192, 212)
    build_other_model(tmp_path / "genderage.onnx", 96, 3)
    (tmp_path / "aaa_broken.onnx").write_bytes(b"not a model at all, just text")
    (tmp_path / "readme.txt").write_text("ignored: not .onnx")

    pack = find_pack_models(tmp_path)
    assert (pack.detector_path, pack.recognizer_path) == (detector, recognizer)
    assert pack.detector_has_landmarks is True
    reasons = dict(pack.ignored)
    others = ("aaa_broken.onnx", "2d106det.onnx", "genderage.onnx")
    assert set(reasons) == {tmp_path / name for name in others}
    assert "not a valid ONNX model" in reasons[tmp_path / "aaa_broken.onnx"]
    # What discovery picked really runs in the two runners.
    assert ScrfdDetector(pack.detector_path).has_landmarks
    assert ArcFaceEmbedder(pack.recognizer_path).dimension == 8


def test_pack_with_a_keypointless_detector_says_so(models, tmp_path, small_recognizer_weights):
    (tmp_path / "det.onnx").write_bytes(models["placed_nokps"].read_bytes())
    build_recognizer(tmp_path / "rec.onnx", small_recognizer_weights)
    assert find_pack_models(tmp_path).detector_has_landmarks is False


def test_pack_errors_name_the_missing_piece(models, tmp_path, small_recognizer_weights):
    with pytest.raises(PackNotFoundError, match="does not exist"):
        find_pack_models(tmp_path / "nope")
    (tmp_path / "file.onnx").write_bytes(b"")
    with pytest.raises(PackNotFoundError, match="not a folder"):
        find_pack_models(tmp_path / "file.onnx")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DetectorMissingError, match="no .onnx files"):
        find_pack_models(empty)

    only_recognizer = tmp_path / "only_rec"
    only_recognizer.mkdir()
    build_recognizer(only_recognizer / "rec.onnx", small_recognizer_weights)
    build_other_model(only_recognizer / "genderage.onnx", 96, 3)
    with pytest.raises(DetectorMissingError, match="no SCRFD detector"):
        find_pack_models(only_recognizer)

    only_detector = tmp_path / "only_det"
    only_detector.mkdir()
    (only_detector / "det.onnx").write_bytes(models["placed"].read_bytes())
    with pytest.raises(RecognizerMissingError, match="no ArcFace recognizer"):
        find_pack_models(only_detector)

    # A truncated recognizer download: the error points at the broken file, not just "missing".
    (only_detector / "w600k_r50.onnx").write_bytes(models["recognizer"].read_bytes()[:5000])
    broken = r"no usable recognizer: .*w600k_r50.onnx is not a valid ONNX model"
    with pytest.raises(InvalidModelFileError, match=broken):
        find_pack_models(only_detector)


def test_error_types_are_value_errors_and_signatures_skip_weight_inputs(tmp_path):
    assert issubclass(ModelPackError, ValueError)
    for cls in (PackNotFoundError, DetectorMissingError, RecognizerMissingError, InvalidModelFileError):
        assert issubclass(cls, ModelPackError)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")  # protobuf happily parses this as an empty model
    with pytest.raises(InvalidModelFileError, match="no graph outputs"):
        read_signature(empty)
    # Old exports list weights among the inputs; those are not the image input.
    inp = helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])
    weight = helper.make_tensor_value_info("w", TensorProto.FLOAT, [37632, 4])
    out = helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 4])
    nodes = [
        helper.make_node("Flatten", ["data"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "w"], ["fc1"]),
    ]
    init = numpy_helper.from_array(np.zeros((37632, 4), np.float32), "w")
    graph = helper.make_graph(nodes, "old", [inp, weight], [out], [init])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 3
    onnx.save(model, str(tmp_path / "old.onnx"))
    signature = read_signature(tmp_path / "old.onnx")
    assert signature.inputs == ((1, 3, 112, 112),) and signature.is_recognizer
