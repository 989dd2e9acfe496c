"""Finding the detector and the recognizer inside an insightface model pack.

A pack is a folder of ONNX files such as ``~/.insightface/models/buffalo_l/`` (det_10g.onnx,
w600k_r50.onnx, 2d106det.onnx, 1k3d68.onnx, genderage.onnx). We tell the models apart by their
input/output signatures, not their file names, because packs name their files differently and
users rename them. The insightface package itself is never imported: it drags in the full OpenCV
build and downloads models at run time. Nor do we ship or fetch packs: insightface's pretrained
weights are for non-commercial research only, so the user points us at a pack they already have.

- detector (SCRFD): one 1x3xHxW input (H, W dynamic or fixed, e.g. 640) and 6, 9, 10 or 15
  outputs (3 or 5 feature strides x scores/boxes[/keypoints]).
- recognizer (ArcFace): one Nx3x112x112 input and a single (N, D) embedding output.
- anything else (192x192 landmark nets, the 96x96 gender/age net, ...) is ignored.

Also holds what the SCRFD and ArcFace runners share: `ModelPackError` and how an onnxruntime
session is opened (threads <= 2, spinning off, as the design asks of every session).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError

# SCRFD export variants, by output count: (feature strides, anchors per location, has keypoints).
SCRFD_LAYOUTS = {
    6: ((8, 16, 32), 2, False),
    9: ((8, 16, 32), 2, True),
    10: ((8, 16, 32, 64, 128), 1, False),
    15: ((8, 16, 32, 64, 128), 1, True),
}
RECOGNIZER_INPUT_SIZE = 112


class ModelPackError(ValueError):
    """A model pack or one of its files cannot be used; the message names the file and why."""


class PackNotFoundError(ModelPackError):
    """The pack folder does not exist or is not a folder."""


class DetectorMissingError(ModelPackError):
    """No ONNX file in the pack has an SCRFD detector's signature."""


class RecognizerMissingError(ModelPackError):
    """No ONNX file in the pack has an ArcFace recognizer's signature."""


class InvalidModelFileError(ModelPackError):
    """A file is not a readable ONNX model (truncated download, wrong file, ...)."""


@dataclass(frozen=True)
class PackModels:
    """The two files the insightface backend needs out of a pack."""

    detector_path: Path
    recognizer_path: Path
    detector_has_landmarks: bool = True  # False for the 6/10-output SCRFD exports (no alignment)
    ignored: tuple = field(default=())  # ((path, reason), ...) for every other .onnx file


@dataclass(frozen=True)
class ModelSignature:
    """Shapes of a model's real inputs and its outputs; a dynamic dim is None."""

    inputs: tuple  # tuple[tuple[int | None, ...], ...]
    outputs: tuple

    @property
    def is_detector(self) -> bool:
        if len(self.inputs) != 1 or len(self.outputs) not in SCRFD_LAYOUTS:
            return False
        shape = self.inputs[0]
        return len(shape) == 4 and shape[1] == 3

    @property
    def is_recognizer(self) -> bool:
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return False
        shape = self.inputs[0]
        size = RECOGNIZER_INPUT_SIZE
        # Output rank 2 (N, D), or unknown when the export left the shape out.
        return len(shape) == 4 and tuple(shape[1:]) == (3, size, size) and len(self.outputs[0]) in (0, 2)


def _dims(value_info) -> tuple:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return ()
    # dim_param (a name) or an unset dim both mean "dynamic".
    return tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tensor_type.shape.dim
    )


def read_signature(path: str | Path) -> ModelSignature:
    """Input/output shapes of an ONNX file, without running it.

    Raises InvalidModelFileError when the file is unreadable or is not an ONNX model.
    """
    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, OSError, ValueError) as exc:
        raise InvalidModelFileError(f"{path} is not a valid ONNX model: {exc}") from exc
    graph = model.graph
    # protobuf parses many short byte strings (even an empty file) as an "empty" model.
    if model.ir_version <= 0 or not graph.output:
        raise InvalidModelFileError(f"{path} is not a valid ONNX model: it declares no graph outputs")
    # Old exports (IR < 4) also list every weight as a graph input.
    weights = {init.name for init in graph.initializer}
    inputs = tuple(_dims(vi) for vi in graph.input if vi.name not in weights)
    if not inputs:
        raise InvalidModelFileError(f"{path} is not a valid ONNX model: it declares no graph inputs")
    return ModelSignature(inputs=inputs, outputs=tuple(_dims(vi) for vi in graph.output))


def find_pack_models(folder: str | os.PathLike) -> PackModels:
    """Pick the SCRFD detector and the ArcFace recognizer out of a pack folder.

    Files are examined in name order and the first of each kind wins (as insightface does), so the
    result is deterministic. Unreadable .onnx files are skipped when the pack is complete anyway,
    and reported (InvalidModelFileError) when a needed model could not be found.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise PackNotFoundError(f"model pack folder {folder} does not exist")
    if not folder.is_dir():
        raise PackNotFoundError(f"model pack {folder} is not a folder")
    files = sorted(p for p in folder.glob("*.onnx") if p.is_file())
    if not files:
        raise DetectorMissingError(f"model pack folder {folder} holds no .onnx files")

    detector = recognizer = None
    detector_signature = None
    ignored = []
    broken = []
    for path in files:
        try:
            signature = read_signature(path)
        except InvalidModelFileError as exc:
            broken.append(exc)
            ignored.append((path, str(exc)))
            continue
        if signature.is_detector and detector is None:
            detector, detector_signature = path, signature
        elif signature.is_recognizer and recognizer is None:
            recognizer = path
        else:
            ignored.append((path, _why_ignored(signature, detector, recognizer)))

    if detector is None or recognizer is None:
        if broken:
            names = "; ".join(str(exc) for exc in broken)
            missing = "detector" if detector is None else "recognizer"
            raise InvalidModelFileError(f"model pack {folder} has no usable {missing}: {names}")
        if detector is None:
            raise DetectorMissingError(
                f"model pack {folder} has no SCRFD detector (an ONNX model with one Nx3xHxW input "
                f"and 6, 9, 10 or 15 outputs)"
            )
        raise RecognizerMissingError(
            f"model pack {folder} has no ArcFace recognizer (an ONNX model with one Nx3x112x112 "
            f"input and a single embedding output)"
        )
    assert detector_signature is not None  # found together with the detector
    has_landmarks = SCRFD_LAYOUTS[len(detector_signature.outputs)][2]
    return PackModels(detector, recognizer, has_landmarks, tuple(ignored))


def _why_ignored(signature: ModelSignature, detector, recognizer) -> str:
    if signature.is_detector:
        return f"second detector (using {detector.name})"
    if signature.is_recognizer:
        return f"second recognizer (using {recognizer.name})"
    return f"neither detector nor recognizer (inputs {signature.inputs}, {len(signature.outputs)} outputs)"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks (recognizers are ~170 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_session(path: str | Path, threads: int = 2):
    """An onnxruntime CPU session for one model file, raising ModelPackError if it won't load."""
    from app.vision.onnx_runtime import ort  # imported here so discovery alone does not pay for it

    if not 1 <= threads <= 2:
        raise ValueError(f"threads must be 1 or 2, got {threads}")
    path = Path(path)
    if not path.is_file():
        raise ModelPackError(f"model file {path} does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # A spinning pool burns a core between calls; the GUI and the engine share two.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unexported exception types
        raise InvalidModelFileError(f"{path} is not a valid ONNX model: {exc}") from exc


def session_dims(shape) -> tuple:
    """onnxruntime reports a dynamic dim as a name or None; normalise those to None."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def check_rgb_image(rgb) -> None:
    """Raise a TypeError/ValueError naming the problem unless `rgb` is an (H, W, 3) uint8 array."""
    if not isinstance(rgb, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"image must be an (H, W, 3) RGB array, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {rgb.dtype}")
