"""dlib's 5-point face landmark model (an ensemble of regression trees) run in numpy.

Gives the same integer landmarks as dlib.shape_predictor: the float32/double arithmetic of
dlib/image_processing/shape_predictor.h is repeated step for step, because a landmark (and
every feature pixel on the way) is a rounded coordinate, and a last-bit difference can move
one. Per cascade the 800 feature pixels and the 500 trees are evaluated as numpy arrays.

File layout (no header): int version 1; initial_shape matrix<float> (2·parts x 1, in the
detection box's unit square); forests: vector (cascades) of vector (trees) of {splits: vector
of (ulong idx1, ulong idx2, float thresh), leaf_values: vector of matrix<float>};
anchor_idx: vector of vector<ulong>; deltas: vector of vector of (float x, float y).
"""

from __future__ import annotations

import hashlib
import io
import math
import pathlib

import numpy as np

from app.vision.dlib_serialize import DlibFormatError, DlibReader
from app.vision.face_chip import affine_transform, similarity_transform

MODEL_FILE = "shape_predictor_5_face_landmarks.dat"


class LandmarkInputError(ValueError):
    """The image or box given to ShapePredictor.predict is not usable."""


# ----------------------------------------------------------------------------------------
# bulk reading of dlib's integer tokens (the file is ~3 million of them)


def _read_ints(reader: DlibReader, count: int) -> np.ndarray:
    """`count` dlib-format integers from the reader, as int64."""
    data = reader.data
    pos = reader.pos
    out = [0] * count
    from_bytes = int.from_bytes
    try:
        for i in range(count):
            control = data[pos]
            size = control & 0x0F
            if size == 0 or size > 8 or control & 0x70:
                raise DlibFormatError(f"bad integer control byte 0x{control:02x} at byte {pos}")
            value = from_bytes(data[pos + 1 : pos + 1 + size], "little")
            out[i] = -value if control & 0x80 else value
            pos += 1 + size
    except IndexError:
        raise DlibFormatError(f"unexpected end of data at byte {pos}") from None
    if pos > len(data):
        raise DlibFormatError(f"unexpected end of data at byte {len(data)}")
    reader.pos = pos
    return np.array(out, dtype=np.int64)


def _floats_from_tokens(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """dlib floats (mantissa·2^exponent, with 32000/32001/32002 = inf/-inf/nan) as float32."""
    special = exponent >= 32000
    values = np.ldexp(mantissa.astype(np.float64), np.where(special, 0, exponent).astype(np.int32))
    if special.any():
        values[exponent == 32000] = np.inf
        values[exponent == 32001] = -np.inf
        values[exponent == 32002] = np.nan
    out = values.astype(np.float32)
    if not np.array_equal(out, values, equal_nan=True):
        raise DlibFormatError("a stored value does not fit a 32-bit float")
    return out


def _read_float_matrix(reader: DlibReader) -> np.ndarray:
    nr, nc = (abs(int(v)) for v in _read_ints(reader, 2))
    tokens = _read_ints(reader, 2 * nr * nc)
    return _floats_from_tokens(tokens[0::2], tokens[1::2]).reshape(nr, nc)


def _tree_tokens(num_splits: int, num_leaves: int, leaf_size: int) -> int:
    # splits: size + (idx1, idx2, mantissa, exponent) each; leaves: size + (nr, nc, 2 per value)
    return 1 + 4 * num_splits + 1 + num_leaves * (2 + 2 * leaf_size)


def _read_forest(
    reader: DlibReader, num_trees: int, leaf_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One cascade's trees, read in one pass. All trees must share one shape, as dlib's
    trainer makes them (complete trees of one depth)."""
    start = reader.pos
    num_splits = reader.uint()
    _read_ints(reader, 4 * num_splits)
    num_leaves = reader.uint()
    reader.pos = start
    if num_leaves != num_splits + 1 or num_leaves & (num_leaves - 1):
        raise DlibFormatError(f"tree with {num_splits} splits and {num_leaves} leaves is not a complete binary tree")
    width = _tree_tokens(num_splits, num_leaves, leaf_size)
    rows = _read_ints(reader, num_trees * width).reshape(num_trees, width)
    if not (np.all(rows[:, 0] == num_splits) and np.all(rows[:, 1 + 4 * num_splits] == num_leaves)):
        raise DlibFormatError("trees of different sizes in one cascade are not supported")
    splits = rows[:, 1 : 1 + 4 * num_splits].reshape(num_trees, num_splits, 4)
    leaves = rows[:, 2 + 4 * num_splits :].reshape(num_trees, num_leaves, 2 + 2 * leaf_size)
    if not np.all(np.abs(leaves[:, :, :2]) == [leaf_size, 1]):
        raise DlibFormatError(f"leaf values must be {leaf_size}x1 matrices")
    if splits[:, :, :2].min(initial=0) < 0:
        raise DlibFormatError("negative feature index in a split")
    thresh = _floats_from_tokens(splits[:, :, 2], splits[:, :, 3])
    values = _floats_from_tokens(leaves[:, :, 2::2], leaves[:, :, 3::2])
    return splits[:, :, 0], splits[:, :, 1], thresh, values


# ----------------------------------------------------------------------------------------


_ARRAYS = ("initial_shape", "anchor_idx", "deltas", "split_idx1", "split_idx2", "split_thresh", "leaf_values")


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class ShapePredictor:
    """dlib.shape_predictor for `shape_predictor_5_face_landmarks.dat` (or any dlib ERT file)."""

    def __init__(self, path: str | pathlib.Path | None = None, use_cache: bool = True):
        """Parse the model file, or load its arrays from the model cache (parsing the 3.2 million
        variable-length integers in Python takes 1-2 s; the cached arrays load in milliseconds).
        The cache entry is named by the file's sha256, so a different file is parsed afresh."""
        if path is None:
            from app.vision.dlib_models import model_path

            path = model_path(MODEL_FILE)
        self.path = pathlib.Path(path)
        data = self.path.read_bytes()
        if use_cache:
            from app.vision.model_cache import cached_model

            key = hashlib.sha256(data).hexdigest()[:16]
            cached = cached_model(f"shape_predictor.{key}.npz", lambda: _npz_bytes(self._parse_bytes(data)))
            with np.load(cached, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in _ARRAYS}
        else:
            arrays = self._parse_bytes(data)
        self._setup(arrays)

    def _parse_bytes(self, data: bytes) -> dict:
        reader = DlibReader(data)
        try:
            arrays = self._parse(reader)
        except DlibFormatError as exc:
            raise DlibFormatError(f"{self.path.name}: {exc}") from None
        if reader.remaining():
            raise DlibFormatError(f"{self.path.name}: {reader.remaining()} bytes left after the shape predictor")
        return arrays

    def _parse(self, reader: DlibReader) -> dict:
        version = reader.integer()
        if version != 1:
            raise DlibFormatError(f"unsupported shape_predictor version {version}")
        initial = _read_float_matrix(reader)
        if initial.shape[1] != 1 or initial.shape[0] % 2 or initial.shape[0] == 0:
            raise DlibFormatError(f"initial shape must be a (2*parts x 1) matrix, got {initial.shape}")
        initial_shape = initial[:, 0]
        size = initial_shape.size

        cascades = reader.uint()
        if cascades == 0:
            raise DlibFormatError("the model has no cascades")
        idx1: list[np.ndarray] = []
        idx2: list[np.ndarray] = []
        thresh: list[np.ndarray] = []
        leaves: list[np.ndarray] = []
        for _ in range(cascades):
            forest = _read_forest(reader, reader.uint(), size)
            for store, part in zip((idx1, idx2, thresh, leaves), forest, strict=False):
                store.append(part)

        if reader.uint() != cascades:
            raise DlibFormatError("anchor_idx does not have one entry per cascade")
        anchors = []
        for _ in range(cascades):
            anchors.append(_read_ints(reader, reader.uint()))
        if reader.uint() != cascades:
            raise DlibFormatError("deltas do not have one entry per cascade")
        deltas = []
        for _ in range(cascades):
            tokens = _read_ints(reader, 4 * reader.uint()).reshape(-1, 2, 2)
            deltas.append(_floats_from_tokens(tokens[:, :, 0], tokens[:, :, 1]))

        num_pixels = {a.size for a in anchors} | {d.shape[0] for d in deltas}
        if len(num_pixels) != 1:
            raise DlibFormatError("cascades with different numbers of feature pixels are not supported")
        for a, i1, i2 in zip(anchors, idx1, idx2, strict=False):
            if a.size and (a.min() < 0 or a.max() >= size // 2):
                raise DlibFormatError("feature pixel anchored to a landmark that does not exist")
            if max(i1.max(initial=0), i2.max(initial=0)) >= a.size:
                raise DlibFormatError("split refers to a feature pixel that does not exist")

        return {
            "initial_shape": initial_shape,
            "anchor_idx": np.stack(anchors).astype(np.int64),
            "deltas": np.stack(deltas),  # (cascades, pixels, 2) float32
            "split_idx1": np.stack(idx1).astype(np.int64),  # (cascades, trees, splits)
            "split_idx2": np.stack(idx2).astype(np.int64),
            "split_thresh": np.stack(thresh),  # float32
            "leaf_values": np.stack(leaves),  # (cascades, trees, leaves, 2*parts) float32
        }

    def _setup(self, arrays: dict) -> None:
        """Keep the parsed arrays and derive the flat layouts predict() works on."""
        self.initial_shape = arrays["initial_shape"]
        size = self.initial_shape.size
        cascades = arrays["split_idx1"].shape[0]
        self.num_parts = size // 2
        self.anchor_idx = arrays["anchor_idx"].astype(np.intp)
        self.deltas = arrays["deltas"]
        self.split_idx1 = arrays["split_idx1"].astype(np.intp)
        self.split_idx2 = arrays["split_idx2"].astype(np.intp)
        self.split_thresh = arrays["split_thresh"]
        self.leaf_values = arrays["leaf_values"]
        self.depth = int(math.log2(self.leaf_values.shape[2]))
        self._initial_points = self.initial_shape.reshape(-1, 2).tolist()
        # flat layouts for predict(): tree t's node k is at t*splits + k, its leaf j at t*leaves + j
        _, trees, splits = self.split_idx1.shape
        num_leaves = self.leaf_values.shape[2]
        self._dx = np.ascontiguousarray(self.deltas[:, :, 0])
        self._dy = np.ascontiguousarray(self.deltas[:, :, 1])
        self._anchor_x = 2 * self.anchor_idx
        self._anchor_y = 2 * self.anchor_idx + 1
        self._idx1 = self.split_idx1.reshape(cascades, -1)
        self._idx2 = self.split_idx2.reshape(cascades, -1)
        self._thresh = self.split_thresh.reshape(cascades, -1)
        # (cascades, 2*parts, trees*leaves): the per-tree outputs are summed along the last axis
        flat_leaves = self.leaf_values.reshape(cascades, trees * num_leaves, size)
        self._leaves_t = np.ascontiguousarray(flat_leaves.transpose(0, 2, 1))
        self._split_base = np.arange(trees, dtype=np.intp) * splits
        # leaf j of a tree is node splits + j, hence the offset
        self._leaf_base = np.arange(trees, dtype=np.intp) * num_leaves - splits
        self._zeros = np.zeros(trees, dtype=np.intp)

    @property
    def num_cascades(self) -> int:
        return self.split_idx1.shape[0]

    def predict(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """Integer landmarks (parts, 2) as (x, y), identical to dlib's shape_predictor(img, rect).

        `image` is uint8 grey (H, W) or RGB (H, W, 3); `box` is (left, top, right, bottom)
        with dlib's inclusive right and bottom (a dlib.rectangle's fields).
        """
        img = _check_image(image)
        left, top, right, bottom = _check_box(box)
        height, width = img.shape[:2]
        # maps the unit square of the shape model onto the box: dlib's unnormalizing_tform, an
        # affine fit through three box corners, which dlib passes as float points
        fl, ft, fr, fb = (float(np.float32(v)) for v in (left, top, right, bottom))
        to_image = affine_transform([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)], [(fl, ft), (fr, ft), (fr, fb)])
        (u00, u01, ub0), (u10, u11, ub1) = to_image

        shape = self.initial_shape.copy()
        for cascade in range(self.num_cascades):
            # float32 similarity from the mean shape to the current shape, as dlib casts it
            tf = similarity_transform(self._initial_points, shape.reshape(-1, 2).tolist())
            t00, t01 = np.float32(tf[0][0]), np.float32(tf[0][1])
            t10, t11 = np.float32(tf[1][0]), np.float32(tf[1][1])
            dx, dy = self._dx[cascade], self._dy[cascade]
            px = ((t00 * dx + t01 * dy) + shape[self._anchor_x[cascade]]).astype(np.float64)
            py = ((t10 * dx + t11 * dy) + shape[self._anchor_y[cascade]]).astype(np.float64)
            # dlib rounds a double point to integer pixels with floor(x + 0.5)
            ix = np.floor((u00 * px + u01 * py) + ub0 + 0.5)
            iy = np.floor((u10 * px + u11 * py) + ub1 + 0.5)
            features = _intensities(img, ix, iy, width, height)

            # every split's test at once, then walk each tree through its outcomes
            go_left = (features[self._idx1[cascade]] - features[self._idx2[cascade]]) > self._thresh[cascade]
            node = self._zeros
            for _ in range(self.depth):
                node = 2 * node + 2 - go_left[self._split_base + node]
            values = self._leaves_t[cascade][:, self._leaf_base + node]
            # dlib adds the trees' outputs one after another in float32; keep that order
            # (accumulate is sequential, unlike sum's pairwise reduction)
            values[:, 0] += shape
            shape = np.add.accumulate(values, axis=1)[:, -1]

        pts = shape.reshape(-1, 2).astype(np.float64)
        xs = np.floor((u00 * pts[:, 0] + u01 * pts[:, 1]) + ub0 + 0.5)
        ys = np.floor((u10 * pts[:, 0] + u11 * pts[:, 1]) + ub1 + 0.5)
        return np.stack([xs, ys], axis=1).astype(np.int64)


def _intensities(img: np.ndarray, ix: np.ndarray, iy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Grey values at integer pixels, 0 outside the image; rgb grey is (r + g + b) // 3 as in dlib."""
    outside = (ix < 0) | (ix >= width) | (iy < 0) | (iy >= height)
    any_outside = outside.any()
    xi = ix.astype(np.intp)
    yi = iy.astype(np.intp)
    if any_outside:
        xi[outside] = 0
        yi[outside] = 0
    if img.ndim == 2:
        grey = img[yi, xi].astype(np.float32)
    elif img.flags.c_contiguous:
        # three flat gathers are cheaper than fancy indexing the (H, W, 3) array
        flat = img.reshape(-1)
        base = (yi * width + xi) * 3
        total = flat.take(base).astype(np.int16) + flat.take(base + 1) + flat.take(base + 2)
        grey = (total // 3).astype(np.float32)
    else:
        rgb = img[yi, xi].astype(np.int16)
        grey = ((rgb[:, 0] + rgb[:, 1] + rgb[:, 2]) // 3).astype(np.float32)
    if any_outside:
        grey[outside] = 0
    return grey


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise LandmarkInputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise LandmarkInputError(
            f"image must be uint8 grey (H, W) or RGB (H, W, 3), got {image.dtype} {image.shape}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise LandmarkInputError(f"image is empty: {image.shape}")
    return image


def _check_box(box) -> tuple[int, int, int, int]:
    try:
        values = tuple(box)
    except TypeError:
        raise LandmarkInputError(f"box must be (left, top, right, bottom), got {box!r}") from None
    if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise LandmarkInputError(f"box must be four integers (left, top, right, bottom), got {box!r}")
    left, top, right, bottom = (int(v) for v in values)
    if right < left or bottom < top:
        raise LandmarkInputError(f"box {values} is empty: right/bottom must not be less than left/top")
    return left, top, right, bottom
