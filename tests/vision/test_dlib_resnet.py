"""dlib ResNet descriptor: parser, ONNX conversion, cache, and agreement with dlib itself."""

from __future__ import annotations

import collections
import hashlib
import os
import pathlib
import subprocess
import sys
import textwrap
import time

import numpy as np
import onnx
import pytest

from app.vision import dlib_descriptor, dlib_models
from app.vision.dlib_descriptor import DlibDescriptor, InvalidChipsError
from app.vision.dlib_models import ModelFileMissingError, UnknownModelFileError, model_path
from app.vision.dlib_resnet_onnx import UnsupportedNetworkError, build_resnet_onnx
from app.vision.dlib_resnet_parser import (
    RESNET_FILE_SIZE,
    DlibResnet,
    parse_resnet_bytes,
)
from app.vision.dlib_serialize import DlibFormatError
from app.vision.model_cache import (
    CACHE_DIR_ENV,
    InvalidModelNameError,
    ModelBuildError,
    cached_model,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
PREDICTOR5 = "shape_predictor_5_face_landmarks.dat"
PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
TOLERANCE = 1e-5


# ---------------------------------------------------------------- fixtures (once per module)


@pytest.fixture(scope="module")
def resnet_bytes() -> bytes:
    return model_path(RESNET).read_bytes()


@pytest.fixture(scope="module")
def parsed(resnet_bytes) -> DlibResnet:
    return parse_resnet_bytes(resnet_bytes)


@pytest.fixture(scope="module")
def onnx_model(parsed) -> onnx.ModelProto:
    return build_resnet_onnx(parsed)


@pytest.fixture(scope="module")
def onnx_bytes(onnx_model) -> bytes:
    return onnx_model.SerializeToString()


@pytest.fixture(scope="module")
def descriptor(tmp_path_factory, onnx_bytes) -> DlibDescriptor:
    """The production path (cache + real conversion) in a throw-away cache dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CACHE_DIR_ENV, str(tmp_path_factory.mktemp("cache")))
        return DlibDescriptor()


@pytest.fixture(scope="module")
def dlib():
    return pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def face_chips(dlib) -> dict[str, np.ndarray]:
    """Aligned 150x150 chips, the dlib way, one per test photo (downscaled to keep it quick)."""
    cv2 = pytest.importorskip("cv2")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(model_path(PREDICTOR5)))
    chips = {}
    for name in PHOTOS:
        img = cv2.cvtColor(cv2.imread(str(DATA / name)), cv2.COLOR_BGR2RGB)
        scale = 640 / max(img.shape[:2])
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        dets = detector(img, 1)
        assert len(dets) == 1, f"{name}: expected one face, found {len(dets)}"
        shape = predictor(img, dets[0])
        chips[name] = np.asarray(dlib.get_face_chip(img, shape, size=150, padding=0.25))
    return chips


@pytest.fixture(scope="module")
def all_chips(face_chips) -> np.ndarray:
    # Noise chips too: far from the training distribution, so any numeric drift shows.
    noise = np.random.default_rng(7).integers(0, 256, size=(2, 150, 150, 3), dtype=np.uint8)
    return np.concatenate([np.stack(list(face_chips.values())), noise])


@pytest.fixture(scope="module")
def dlib_reference(dlib, all_chips) -> np.ndarray:
    net = dlib.face_recognition_model_v1(str(model_path(RESNET)))
    return np.array([np.array(net.compute_face_descriptor(chip)) for chip in all_chips], dtype=np.float32)


# ---------------------------------------------------------------- model files


def test_model_path_finds_both_files():
    for name in (RESNET, PREDICTOR5):
        path = model_path(name)
        assert path.is_absolute() and path.is_file() and path.name == name
    assert model_path(RESNET).stat().st_size == RESNET_FILE_SIZE


def test_model_path_rejects_unknown_name():
    with pytest.raises(UnknownModelFileError, match="shape_predictor_68"):
        model_path("shape_predictor_68_face_landmarks.dat")


def test_model_path_reports_missing_package(monkeypatch):
    monkeypatch.setattr(dlib_models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelFileMissingError, match="face_recognition_models") as info:
        model_path(RESNET)
    assert isinstance(info.value, FileNotFoundError)


def test_model_path_reports_missing_file(monkeypatch, tmp_path):
    monkeypatch.setattr(dlib_models, "_package_dirs", lambda: [tmp_path])
    with pytest.raises(ModelFileMissingError, match=RESNET):
        model_path(RESNET)


# ---------------------------------------------------------------- parser


def test_parser_consumes_the_whole_file(parsed):
    assert parsed.bytes_consumed == RESNET_FILE_SIZE
    assert len(parsed.layers) == 130
    assert len(parsed.computational_layers) == 108
    kinds = collections.Counter(layer.kind for layer in parsed.layers)
    assert kinds == {
        "con": 29, "affine": 29, "relu": 29, "tag_or_skip": 22,
        "add_prev": 14, "avg_pool": 5, "max_pool": 1, "fc": 1,
    }  # fmt: skip
    assert parsed.learned_float_count() == 5_614_592
    assert parsed.input_size == (150, 150)
    np.testing.assert_allclose(parsed.input_mean, (122.782, 117.001, 104.298), atol=1e-4)
    assert parsed.loss["type"] == "loss_metric_2"
    assert parsed.loss["margin"] == pytest.approx(0.04) and parsed.loss["dist_thresh"] == pytest.approx(0.6)


def test_parser_reads_layers_from_input_outwards(parsed):
    stem = parsed.layers[0]
    assert stem.type_name == "con_4" and stem.weights["weight"].shape == (32, 3, 7, 7)
    assert stem.settings["stride"] == (2, 2) and stem.settings["padding"] == (0, 0)
    assert parsed.layers[3].kind == "max_pool" and parsed.layers[3].settings["window"] == (3, 3)
    fc = parsed.layers[-1]
    assert fc.type_name == "fc_2" and fc.weights["weight"].shape == (256, 128) and "bias" not in fc.weights
    assert parsed.layers[-2].settings["window"] == (0, 0)  # avg_pool_everything
    assert all(w.dtype == np.float32 for layer in parsed.layers for w in layer.weights.values())


def test_parser_rejects_trailing_bytes(resnet_bytes):
    with pytest.raises(DlibFormatError, match="trailing"):
        parse_resnet_bytes(resnet_bytes + b"\x01\x00")


def test_parser_rejects_truncated_file(resnet_bytes):
    with pytest.raises(DlibFormatError, match="end of data"):
        parse_resnet_bytes(resnet_bytes[:-3])


def test_parser_rejects_another_dlib_file():
    with pytest.raises(DlibFormatError):
        parse_resnet_bytes(model_path(PREDICTOR5).read_bytes()[:4096])


# ---------------------------------------------------------------- ONNX graph


def test_graph_passes_checker_and_has_the_documented_interface(onnx_model):
    onnx.checker.check_model(onnx_model, full_check=True)
    assert [o.version for o in onnx_model.opset_import if o.domain in ("", "ai.onnx")] == [13]
    (inp,), (out,) = onnx_model.graph.input, onnx_model.graph.output
    assert inp.name == "chips" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim] == ["N", 150, 150, 3]
    assert out.name == "descriptors" and out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value or d.dim_param for d in out.type.tensor_type.shape.dim] == ["N", 128]


def test_graph_zero_pads_both_add_prev_branches(onnx_model):
    ops = collections.Counter(node.op_type for node in onnx_model.graph.node)
    # Channel padding at 32->64, 64->128, 128->256; spatial at 3x3 vs 4x4 and 1x1 vs 2x2.
    assert ops["Pad"] == 5
    assert ops["Conv"] == 29 and ops["MatMul"] == 1 and ops["AveragePool"] == 4
    pads = {
        tuple(onnx.numpy_helper.to_array(init))
        for init in onnx_model.graph.initializer
        if init.name.startswith("pad_amounts")
    }
    assert (0, 0, 0, 0, 0, 0, 1, 1) in pads  # 3x3 block branch grown to 4x4 at the bottom/right
    assert (0, 0, 0, 0, 0, 128, 0, 0) in pads  # 128-channel pool branch grown to 256


def test_builder_rejects_a_different_network(parsed):
    shorter = DlibResnet(parsed.input_mean, parsed.input_size, parsed.layers[:-1], parsed.loss, 0)
    with pytest.raises(UnsupportedNetworkError, match="layer sequence"):
        build_resnet_onnx(shorter)


# ---------------------------------------------------------------- descriptors vs dlib


def test_descriptors_match_dlib(descriptor, all_chips, dlib_reference):
    ours = np.concatenate([descriptor.compute(chip[None]) for chip in all_chips])
    assert ours.shape == (len(all_chips), 128) and ours.dtype == np.float32
    assert np.abs(ours - dlib_reference).max() <= TOLERANCE
    assert np.abs(dlib_reference).max() > 0.05  # a real comparison, not of two zero vectors


def test_batch_gives_the_same_per_chip_results(descriptor, all_chips, dlib_reference):
    batch = descriptor.compute(all_chips)
    singles = np.concatenate([descriptor.compute(chip[None]) for chip in all_chips])
    assert batch.shape == (len(all_chips), 128)
    assert np.abs(batch - singles).max() <= TOLERANCE
    assert np.abs(batch - dlib_reference).max() <= TOLERANCE


def test_descriptors_separate_people(descriptor, face_chips):
    d = {name: descriptor.compute(chip[None])[0] for name, chip in face_chips.items()}
    same = np.linalg.norm(d["obama.jpg"] - d["obama2.jpg"])
    other = np.linalg.norm(d["obama.jpg"] - d["biden.jpg"])
    assert same < 0.6 < other


def test_compute_accepts_non_contiguous_chips(descriptor, all_chips):
    flipped = all_chips[:, :, ::-1]  # a view with negative strides
    expected = descriptor.compute(np.ascontiguousarray(flipped))
    np.testing.assert_array_equal(descriptor.compute(flipped), expected)


@pytest.mark.parametrize(
    "chips, problem",
    [
        (np.zeros((1, 150, 150, 3), np.float32), "dtype uint8"),
        (np.zeros((150, 150, 3), np.uint8), "shape"),
        (np.zeros((1, 3, 150, 150), np.uint8), "shape"),
        (np.zeros((1, 160, 160, 3), np.uint8), "shape"),
        ([[0]], "numpy array"),
    ],
)
def test_compute_rejects_bad_chips(descriptor, chips, problem):
    with pytest.raises(InvalidChipsError, match=problem):
        descriptor.compute(chips)


def test_compute_of_no_chips_is_empty(descriptor):
    out = descriptor.compute(np.zeros((0, 150, 150, 3), np.uint8))
    assert out.shape == (0, 128) and out.dtype == np.float32


def test_session_is_configured_for_a_shared_desktop(descriptor):
    options = descriptor.session.get_session_options()
    assert options.intra_op_num_threads == min(2, os.cpu_count() or 1)
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert descriptor.version == "dlib_resnet_v1"


# ---------------------------------------------------------------- cache


class CountingBuild:
    def __init__(self, data: bytes):
        self.data = data
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return self.data


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> pathlib.Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_builds_once(cache_dir):
    build = CountingBuild(b"model bytes" * 1000)
    first = cached_model("thing.onnx", build)
    second = cached_model("thing.onnx", build)
    assert build.calls == 1 and first == second
    assert first.is_relative_to(cache_dir) and first.read_bytes() == build.data
    pointer = (cache_dir / "models" / "thing.onnx.sha256").read_text().strip()
    assert pointer == hashlib.sha256(build.data).hexdigest()


def test_cache_rebuilds_a_corrupted_file(cache_dir):
    build = CountingBuild(bytes(range(256)) * 100)
    path = cached_model("thing.onnx", build)
    damaged = bytearray(path.read_bytes())
    damaged[1000] ^= 0xFF
    path.write_bytes(bytes(damaged))
    again = cached_model("thing.onnx", build)
    assert build.calls == 2 and again.read_bytes() == build.data


def test_cache_rebuilds_a_missing_file_or_pointer(cache_dir):
    build = CountingBuild(b"abc" * 100)
    cached_model("thing.onnx", build).unlink()
    assert cached_model("thing.onnx", build).read_bytes() == build.data
    (cache_dir / "models" / "thing.onnx.sha256").write_text("not a hash\n")
    assert cached_model("thing.onnx", build).read_bytes() == build.data
    assert build.calls == 3


def test_cache_keeps_entries_apart(cache_dir):
    a, b = CountingBuild(b"A" * 10), CountingBuild(b"B" * 10)
    assert cached_model("a.onnx", a).read_bytes() == b"A" * 10
    assert cached_model("b.onnx", b).read_bytes() == b"B" * 10
    assert cached_model("a.onnx", a).read_bytes() == b"A" * 10 and a.calls == 1


@pytest.mark.parametrize("name", ["", "../x.onnx", "sub/x.onnx", "x.onnx.sha256", ".hidden"])
def test_cache_rejects_bad_names(cache_dir, name):
    with pytest.raises(InvalidModelNameError):
        cached_model(name, CountingBuild(b""))


def test_cache_rejects_a_build_that_returns_no_bytes(cache_dir):
    with pytest.raises(ModelBuildError, match="str"):
        cached_model("thing.onnx", lambda: "text")


def test_cache_survives_two_processes_building_at_once(cache_dir, tmp_path):
    # Different contents per process, so a torn or mixed result cannot pass unnoticed.
    go = tmp_path / "go"
    script = textwrap.dedent(
        """
        import hashlib, pathlib, sys, time
        from app.vision.model_cache import cached_model
        go, fill = pathlib.Path(sys.argv[1]), sys.argv[2].encode()
        while not go.exists():
            time.sleep(0.005)
        def build():
            time.sleep(0.05)
            return fill * (8 << 20)
        print(hashlib.sha256(cached_model("race.onnx", build).read_bytes()).hexdigest())
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(go), fill], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for fill in ("a", "b")
    ]  # fmt: skip
    time.sleep(0.3)
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    contents = {hashlib.sha256(fill * (8 << 20)).hexdigest(): fill for fill in (b"a", b"b")}
    # Each process got a complete file (its own content, or the other's if that won)...
    assert all(out.strip() in contents for out, _ in results), results
    # ...and the cache now points at one complete version, used without rebuilding.
    final = cached_model("race.onnx", CountingBuild(b"never"))
    assert final.read_bytes() in (b"a" * (8 << 20), b"b" * (8 << 20))


def test_descriptor_uses_the_cache(cache_dir, monkeypatch, onnx_bytes):
    build = CountingBuild(onnx_bytes)
    monkeypatch.setattr(dlib_descriptor, "build_onnx_model", build)
    chip = np.full((1, 150, 150, 3), 128, np.uint8)
    first = DlibDescriptor()
    expected = first.compute(chip)
    assert build.calls == 1 and first.onnx_path.is_relative_to(cache_dir)

    DlibDescriptor()
    assert build.calls == 1

    data = bytearray(first.onnx_path.read_bytes())
    data[len(data) // 2] ^= 0x55  # flip bits inside the weights
    first.onnx_path.write_bytes(bytes(data))
    rebuilt = DlibDescriptor()
    assert build.calls == 2
    np.testing.assert_array_equal(rebuilt.compute(chip), expected)
