"""dlib's aligned face chip (get_face_chip_details + extract_image_chip), pixel for pixel.

The descriptor network was trained on chips cut exactly this way, so we reproduce dlib's
arithmetic rather than approximate it: chip pixels are bilinear samples truncated to uint8,
and in flat image areas a one-ulp change of a sample position already flips a truncation
(99.999... vs 100). Hence the least-squares transforms below repeat dlib's own floating-point
steps, including its Golub-Reinsch SVD (dlib-bin is built without LAPACK), in the same
order. Facts from dlib/image_transforms/interpolation.h, image_pyramid.h,
dlib/geometry/point_transforms.h, drectangle.h and dlib/matrix/matrix_la.h.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass

import cv2
import numpy as np

# dlib's 5-point template on the unit square: outer/inner corner of the subject's left eye,
# then right eye, then the bottom of the nose (get_face_chip_details).
TEMPLATE_5 = (
    (0.8595674595992, 0.2134981538014),
    (0.6460604764104, 0.2289674387677),
    (0.1205750620789, 0.2137274526848),
    (0.3340850613712, 0.2290642403242),
    (0.4901123135679, 0.6277975316475),
)

_EPS = sys.float_info.epsilon
_SVD_MAX_ITER = 300


class ChipInputError(ValueError):
    """Bad arguments to chip extraction (image, landmarks, size or padding)."""


# ----------------------------------------------------------------------------------------
# dlib's small-matrix linear algebra, operation for operation


def svd_golub_reinsch(matrix: list[list[float]]) -> tuple[list[list[float]], list[float], list[list[float]]]:
    """Thin SVD a = u·diag(q)·vᵀ (rows >= cols) with the arithmetic of dlib's svd4.

    dlib-bin is built without LAPACK, so dlib's svd3/pinv run its own Golub-Reinsch code
    (Householder bidiagonalisation, then implicit-shift QR; matrix_la.h). The same
    operations in the same order give the same last bits. Pure Python floats; only
    used on 2x2 and 3x3 matrices.
    """
    m, n = len(matrix), len(matrix[0])
    if m < n:
        raise ValueError(f"svd needs rows >= columns, got {m}x{n}")
    tol = sys.float_info.min / _EPS
    u = [[float(x) for x in row] for row in matrix]
    q = [0.0] * n
    e = [0.0] * n
    v = [[0.0] * n for _ in range(n)]

    # Householder reduction to bidiagonal form
    g = x = 0.0
    l = 0
    for i in range(n):
        e[i] = g
        l = i + 1
        s = 0.0
        for j in range(i, m):
            s += u[j][i] * u[j][i]
        if s < tol:
            g = 0.0
        else:
            f = u[i][i]
            g = math.sqrt(s) if f < 0 else -math.sqrt(s)
            h = f * g - s
            u[i][i] = f - g
            for j in range(l, n):
                s = 0.0
                for k in range(i, m):
                    s += u[k][i] * u[k][j]
                f = s / h
                for k in range(i, m):
                    u[k][j] += f * u[k][i]
        q[i] = g
        s = 0.0
        for j in range(l, n):
            s += u[i][j] * u[i][j]
        if s < tol:
            g = 0.0
        else:
            f = u[i][i + 1]
            g = math.sqrt(s) if f < 0 else -math.sqrt(s)
            h = f * g - s
            u[i][i + 1] = f - g
            for j in range(l, n):
                e[j] = u[i][j] / h
            for j in range(l, m):
                s = 0.0
                for k in range(l, n):
                    s += u[j][k] * u[i][k]
                for k in range(l, n):
                    u[j][k] += s * e[k]
        y = abs(q[i]) + abs(e[i])
        if y > x:
            x = y

    # accumulate the right-hand transformations into v
    for i in range(n - 1, -1, -1):
        if g != 0.0:
            h = u[i][i + 1] * g
            for j in range(l, n):
                v[j][i] = u[i][j] / h
            for j in range(l, n):
                s = 0.0
                for k in range(l, n):
                    s += u[i][k] * v[k][j]
                for k in range(l, n):
                    v[k][j] += s * v[k][i]
        for j in range(l, n):
            v[i][j] = 0.0
            v[j][i] = 0.0
        v[i][i] = 1.0
        g = e[i]
        l = i

    # accumulate the left-hand transformations into u (m x n)
    for i in range(n - 1, -1, -1):
        l = i + 1
        g = q[i]
        for j in range(l, n):
            u[i][j] = 0.0
        if g != 0.0:
            h = u[i][i] * g
            for j in range(l, n):
                s = 0.0
                for k in range(l, m):
                    s += u[k][i] * u[k][j]
                f = s / h
                for k in range(i, m):
                    u[k][j] += f * u[k][i]
            for j in range(i, m):
                u[j][i] /= g
        else:
            for j in range(i, m):
                u[j][i] = 0.0
        u[i][i] += 1.0

    # diagonalise the bidiagonal form
    eps = _EPS * x
    z = 0.0
    for k in range(n - 1, -1, -1):
        iterations = 0
        while True:
            # find l such that e[l] is negligible (e[0] always is), or q[l-1] is
            cancel = True
            l = k
            while l > 0:
                if abs(e[l]) <= eps:
                    cancel = False
                    break
                if abs(q[l - 1]) <= eps:
                    break
                l -= 1
            if l == 0:
                cancel = False
            if cancel:
                c, s = 0.0, 1.0
                l1 = l - 1
                for i in range(l, k + 1):
                    f = s * e[i]
                    e[i] *= c
                    if abs(f) <= eps:
                        break
                    g = q[i]
                    h = math.sqrt(f * f + g * g)
                    q[i] = h
                    c = g / h
                    s = -f / h
                    for j in range(m):
                        y, z = u[j][l1], u[j][i]
                        u[j][l1] = y * c + z * s
                        u[j][i] = -y * s + z * c
            z = q[k]
            if l == k:
                break
            iterations += 1
            if iterations > _SVD_MAX_ITER:
                raise ArithmeticError("SVD did not converge")
            # shift from the bottom 2x2 minor
            x = q[l]
            y = q[k - 1]
            g = e[k - 1]
            h = e[k]
            f = ((y - z) * (y + z) + (g - h) * (g + h)) / (2 * h * y)
            g = math.sqrt(f * f + 1.0)
            f = ((x - z) * (x + z) + h * (y / ((f - g) if f < 0 else (f + g)) - h)) / x
            # next QR transformation
            c = s = 1.0
            for i in range(l + 1, k + 1):
                g = e[i]
                y = q[i]
                h = s * g
                g *= c
                z = math.sqrt(f * f + h * h)
                e[i - 1] = z
                c = f / z
                s = h / z
                f = x * c + g * s
                g = -x * s + g * c
                h = y * s
                y *= c
                for j in range(n):
                    x, z = v[j][i - 1], v[j][i]
                    v[j][i - 1] = x * c + z * s
                    v[j][i] = -x * s + z * c
                z = math.sqrt(f * f + h * h)
                q[i - 1] = z
                if z != 0:
                    c = f / z
                    s = h / z
                f = c * g + s * y
                x = -s * g + c * y
                for j in range(m):
                    y, z = u[j][i - 1], u[j][i]
                    u[j][i - 1] = y * c + z * s
                    u[j][i] = -y * s + z * c
            e[l] = 0.0
            e[k] = f
            q[k] = x
        if z < 0.0:
            q[k] = -z
            for j in range(n):
                v[j][k] = -v[j][k]
    return u, q, v


Affine = tuple[tuple[float, float, float], tuple[float, float, float]]
"""A 2x3 affine map ((m00, m01, b0), (m10, m11, b1)): x' = m00·x + m01·y + b0."""


def similarity_transform(from_points, to_points) -> Affine:
    """Least-squares similarity from_points -> to_points (Umeyama), as dlib computes it.

    Points are (x, y) pairs; the arithmetic is dlib's find_similarity_transform in doubles.
    """
    n = len(from_points)
    if n < 2 or n != len(to_points):
        raise ChipInputError(f"need two equally long lists of at least 2 points, got {n} and {len(to_points)}")
    mfx = mfy = mtx = mty = 0.0
    for (fx, fy), (tx, ty) in zip(from_points, to_points, strict=False):
        mfx += fx
        mfy += fy
        mtx += tx
        mty += ty
    mfx /= n
    mfy /= n
    mtx /= n
    mty /= n
    sigma_from = 0.0
    c00 = c01 = c10 = c11 = 0.0
    for (fx, fy), (tx, ty) in zip(from_points, to_points, strict=False):
        dfx, dfy = fx - mfx, fy - mfy
        dtx, dty = tx - mtx, ty - mty
        sigma_from += dfx * dfx + dfy * dfy
        c00 += dtx * dfx
        c01 += dtx * dfy
        c10 += dty * dfx
        c11 += dty * dfy
    sigma_from /= n
    # dlib divides a floating matrix by multiplying with the reciprocal
    inv_n = 1.0 / n
    c00, c01, c10, c11 = c00 * inv_n, c01 * inv_n, c10 * inv_n, c11 * inv_n

    u, d, v = svd_golub_reinsch([[c00, c01], [c10, c11]])
    s0 = s1 = 1.0
    det_cov = c00 * c11 - c01 * c10
    det_u = u[0][0] * u[1][1] - u[0][1] * u[1][0]
    det_v = v[0][0] * v[1][1] - v[0][1] * v[1][0]
    if det_cov < 0 or (det_cov == 0 and det_u * det_v < 0):
        if d[1] < d[0]:
            s1 = -1.0
        else:
            s0 = -1.0
    r = [[(u[i][0] * s0) * v[j][0] + (u[i][1] * s1) * v[j][1] for j in range(2)] for i in range(2)]
    c = 1.0
    if sigma_from != 0:
        c = (1.0 / sigma_from) * (d[0] * s0 + d[1] * s1)
    # dlib moves the scalar c outside the product r·mean_from
    t0 = mtx - (r[0][0] * mfx + r[0][1] * mfy) * c
    t1 = mty - (r[1][0] * mfx + r[1][1] * mfy) * c
    return ((r[0][0] * c, r[0][1] * c, t0), (r[1][0] * c, r[1][1] * c, t1))


def _pinv(p: list[list[float]]) -> list[list[float]]:
    """dlib's pinv for a square or tall matrix: v·diag(1/w)·uᵀ with tiny w rounded to zero."""
    rows, cols = len(p), len(p[0])
    u, w, v = svd_golub_reinsch(p)
    eps = _EPS * max(rows, cols) * max(w)
    inv_w = [0.0 if (-eps < x < eps) else 1.0 / x for x in w]
    scaled = [[v[i][j] * inv_w[j] for j in range(cols)] for i in range(cols)]
    out = []
    for i in range(cols):
        row = []
        for j in range(rows):
            acc = scaled[i][0] * u[j][0]
            for k in range(1, cols):
                acc += scaled[i][k] * u[j][k]
            row.append(acc)
        out.append(row)
    return out


@functools.lru_cache(maxsize=64)
def _pinv_of_points(from_points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, ...], ...]:
    # the source points are usually fixed (chip corners, the unit square), so this is cached
    n = len(from_points)
    p = [[x for x, _ in from_points], [y for _, y in from_points], [1.0] * n]
    if n > 3:
        # pinv of a wide matrix is taken through its transpose
        pt = _pinv([list(col) for col in zip(*p, strict=False)])
        return tuple(tuple(col) for col in zip(*pt, strict=False))
    return tuple(tuple(row) for row in _pinv(p))


def affine_transform(from_points, to_points) -> Affine:
    """Least-squares affine map from_points -> to_points, as dlib's find_affine_transform."""
    n = len(from_points)
    if n < 3 or n != len(to_points):
        raise ChipInputError(f"need two equally long lists of at least 3 points, got {n} and {len(to_points)}")
    pinv_p = _pinv_of_points(tuple((float(x), float(y)) for x, y in from_points))
    q = [[float(x) for x, _ in to_points], [float(y) for _, y in to_points]]
    m: list[tuple[float, float, float]] = []
    for i in range(2):
        row = []
        for j in range(3):
            acc = q[i][0] * pinv_p[0][j]
            for k in range(1, n):
                acc += q[i][k] * pinv_p[k][j]
            row.append(acc)
        m.append((row[0], row[1], row[2]))
    return (m[0], m[1])


def apply_affine(tform: Affine, x: float, y: float) -> tuple[float, float]:
    (m00, m01, b0), (m10, m11, b1) = tform
    return (m00 * x + m01 * y) + b0, (m10 * x + m11 * y) + b1


def _rotate_point(cx: float, cy: float, px: float, py: float, sin_a: float, cos_a: float) -> tuple[float, float]:
    dx, dy = px - cx, py - cy
    return (cos_a * dx - sin_a * dy) + cx, (sin_a * dx + cos_a * dy) + cy


# ----------------------------------------------------------------------------------------
# chip geometry


@dataclass(frozen=True)
class ChipTransform:
    """dlib's chip_details: the rotated rectangle (left, top, right, bottom), angle and size.

    `rect` is dlib's drectangle (inclusive right/bottom, so width = right - left + 1).
    """

    rect: tuple[float, float, float, float]
    angle: float
    rows: int
    cols: int

    def corners(self) -> tuple[tuple[float, float], ...]:
        """Rotated rectangle corners in the image: top-left, top-right, bottom-left, bottom-right."""
        return _rotated_corners(self.rect, self.angle)

    def chip_to_image(self) -> Affine:
        """Affine map from chip pixel (col, row) to image (x, y), without any pyramid level."""
        tl, tr, bl, _ = self.corners()
        return affine_transform([(0, 0), (self.cols - 1, 0), (0, self.rows - 1)], [tl, tr, bl])

    def image_to_chip(self) -> Affine:
        """Affine map from image (x, y) to chip pixel (col, row) (dlib's get_mapping_to_chip)."""
        tl, tr, _, br = self.corners()
        return affine_transform([tl, tr, br], [(0, 0), (self.cols - 1, 0), (self.cols - 1, self.rows - 1)])


def _rotated_corners(rect, angle):
    left, top, right, bottom = rect
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    sin_a, cos_a = math.sin(angle), math.cos(angle)
    return tuple(
        _rotate_point(cx, cy, px, py, sin_a, cos_a)
        for px, py in ((left, top), (right, top), (left, bottom), (right, bottom))
    )


def _landmark_points(landmarks5) -> list[tuple[float, float]]:
    pts = np.asarray(landmarks5)
    if pts.shape != (5, 2):
        raise ChipInputError(f"landmarks5 must have shape (5, 2), got {pts.shape}")
    if not np.issubdtype(pts.dtype, np.number) or not np.all(np.isfinite(pts)):
        raise ChipInputError("landmarks5 must hold finite numbers")
    # dlib's full_object_detection stores integer points
    if not np.array_equal(pts, np.round(pts)):
        raise ChipInputError("landmarks5 must be integer pixel positions (as dlib's shape predictor gives)")
    return [(float(x), float(y)) for x, y in pts.astype(np.int64)]


def chip_transform(landmarks5, size: int = 150, padding: float = 0.25) -> ChipTransform:
    """dlib.get_face_chip_details(det, size, padding) for a 5-point detection."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ChipInputError(f"size must be a positive integer, got {size!r}")
    if not isinstance(padding, (int, float, np.floating, np.integer)) or not padding >= 0:
        raise ChipInputError(f"padding must be a number >= 0, got {padding!r}")
    size = int(size)
    # dlib.get_face_chip takes padding as a C float
    pad = float(np.float32(padding))
    to_points = _landmark_points(landmarks5)
    # dlib divides the template point (a matrix expression there) by multiplying with the reciprocal
    inv = 1.0 / (2 * pad + 1)
    from_points = [(((x + pad) * inv) * size, ((y + pad) * inv) * size) for x, y in TEMPLATE_5]
    tform = similarity_transform(from_points, to_points)
    m00, m10 = tform[0][0], tform[1][0]
    angle = math.atan2(m10, m00)
    scale = math.sqrt(m00 * m00 + m10 * m10)
    cx, cy = apply_affine(tform, size / 2.0, size / 2.0)
    # centered_drect: a drectangle of width w spans w - 1 between its inclusive edges
    w = size * scale - 1
    h = size * scale - 1
    return ChipTransform((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), angle, size, size)


# ----------------------------------------------------------------------------------------
# pyramid_down<2> and sampling


def _rect_area(left, top, right, bottom) -> float:
    if top > bottom or left > right:
        return 0.0
    return (right - left + 1) * (bottom - top + 1)


def _rect_down(rect):
    # pyramid_down<2>::point_down(p) = p/2 - (1.25, 0.75)
    left, top, right, bottom = rect
    x0, y0 = left / 2.0 - 1.25, top / 2.0 - 0.75
    x1, y1 = right / 2.0 - 1.25, bottom / 2.0 - 0.75
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def pyramid_down2(img: np.ndarray) -> np.ndarray:
    """dlib's pyramid_down<2>: 5x5 binomial (1 4 6 4 1) sums, every other pixel, integer /256.

    Output pixel (i, j) is the window centred on input (2i+2, 2j+2); the size is
    ((rows-3)//2, (cols-3)//2), and images of 8 or fewer rows/cols give an empty one.
    OpenCV's pyrDown forms the same weighted sums centred on (2i, 2j) and divides by 256;
    in float32 every step is exact (integers up to 65280, then a power-of-two division), so
    truncating its output equals dlib's integer shift.
    """
    rows, cols = img.shape[:2]
    if rows <= 8 or cols <= 8:
        return np.zeros((0, 0) + img.shape[2:], dtype=img.dtype)
    out_rows, out_cols = (rows - 3) // 2, (cols - 3) // 2
    down = cv2.pyrDown(img.astype(np.float32))
    return down[1 : 1 + out_rows, 1 : 1 + out_cols].astype(img.dtype)


# offsets of the four bilinear neighbours and the three channels in a flat rgb image
_CHANNELS = np.arange(3, dtype=np.intp)[None, :, None]


def _bilinear(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """dlib's interpolate_bilinear for rgb images with a black background, truncating to uint8."""
    rows, cols = img.shape[:2]
    left = np.floor(xs)
    top = np.floor(ys)
    # dlib needs both neighbours inside the image, so the last row/column is never sampled
    inside = (left >= 0) & (top >= 0) & (left < cols - 1) & (top < rows - 1)
    out = np.zeros(xs.shape + (3,), dtype=np.uint8)
    if inside.all():
        xv, yv, lv, tv = xs.ravel(), ys.ravel(), left.ravel(), top.ravel()
    elif inside.any():
        xv, yv, lv, tv = xs[inside], ys[inside], left[inside], top[inside]
    else:
        return out
    flat = np.ascontiguousarray(img).reshape(-1)
    base = (tv.astype(np.intp) * cols + lv.astype(np.intp)) * 3
    corners = np.array([0, 3, 3 * cols, 3 * cols + 3], dtype=np.intp)[:, None, None]
    # (4 neighbours: tl, tr, bl, br) x (3 channels) x points; uint8 promotes exactly to double
    px = flat.take(base[None, None, :] + corners + _CHANNELS)
    lr = xv - lv
    tb = yv - tv
    # dlib's expression, in its order: (1-tb)*((1-lr)*tl + lr*tr) + tb*((1-lr)*bl + lr*br)
    value = (1 - tb) * ((1 - lr) * px[0] + lr * px[1]) + tb * ((1 - lr) * px[2] + lr * px[3])
    np.clip(value, 0, 255, out=value)
    # dlib's assign_pixel: a C cast, i.e. truncation
    samples = value.T.astype(np.uint8)
    if inside.all():
        out.reshape(-1, 3)[:] = samples
    else:
        out[inside] = samples
    return out


@dataclass(frozen=True)
class ChipPlan:
    """How dlib samples one chip: the source crop, the pyramid level and the chip->source map."""

    crop: tuple[int, int, int, int]  # left, top, right, bottom in the image (inclusive)
    pyramid_depth: int  # pyramid_down<2> levels built from the crop
    level: int  # -1 = sample the crop itself, else that pyramid level
    tform: Affine  # chip (col, row) -> coordinates in the sampled image


def plan_chip(image_shape: tuple[int, ...], chip: ChipTransform) -> ChipPlan:
    """dlib's extract_image_chips decisions for one chip (crop, pyramid depth, level, map)."""
    rows, cols = image_shape[:2]
    chip_size = chip.rows * chip.cols
    depth = 0
    grow = 2.0
    rect = _rect_down(chip.rect)
    while _rect_area(*rect) > chip_size:
        rect = _rect_down(rect)
        depth += 1
        # each level halves the image; 2 extra pixels avoid border effects of the crop
        grow = grow * 2 + 2
    corners = chip.corners()
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    left, top = max(min(xs) - grow, 0.0), max(min(ys) - grow, 0.0)
    right, bottom = min(max(xs) + grow, float(cols - 1)), min(max(ys) + grow, float(rows - 1))
    crop = (_round_half_up(left), _round_half_up(top), _round_half_up(right), _round_half_up(bottom))
    if crop[0] > crop[2] or crop[1] > crop[3]:
        crop = (0, 0, -1, -1)

    level = -1
    l, t, r, b = chip.rect
    rect = (l + -crop[0], t + -crop[1], r + -crop[0], b + -crop[1])
    while _rect_area(*_rect_down(rect)) > chip_size:
        level += 1
        rect = _rect_down(rect)
    tl, tr, bl, _ = _rotated_corners(rect, chip.angle)
    tform = affine_transform([(0, 0), (chip.cols - 1, 0), (0, chip.rows - 1)], [tl, tr, bl])
    return ChipPlan(crop, depth, level, tform)


def _check_rgb(rgb_image) -> np.ndarray:
    if not isinstance(rgb_image, np.ndarray):
        raise ChipInputError(f"image must be a numpy array, got {type(rgb_image).__name__}")
    if rgb_image.dtype != np.uint8 or rgb_image.ndim != 3 or rgb_image.shape[2] != 3:
        raise ChipInputError(f"image must be an RGB uint8 array (H, W, 3), got {rgb_image.dtype} {rgb_image.shape}")
    return rgb_image


def extract_chip_at(rgb_image: np.ndarray, chip: ChipTransform) -> np.ndarray:
    """dlib.extract_image_chip(img, chip_details) for an RGB uint8 image."""
    img = _check_rgb(rgb_image)
    left, top, right, bottom = chip.rect
    if chip.angle == 0 and chip.rows == bottom - top + 1 and chip.cols == right - left + 1:
        return _copy_chip(img, chip)
    plan = plan_chip(img.shape, chip)
    cl, ct, cr, cb = plan.crop
    source = img[max(ct, 0) : cb + 1, max(cl, 0) : cr + 1]
    for _ in range(plan.level + 1):
        source = pyramid_down2(source)
    (m00, m01, b0), (m10, m11, b1) = plan.tform
    c = np.arange(chip.cols, dtype=np.float64)[None, :]
    r = np.arange(chip.rows, dtype=np.float64)[:, None]
    xs = (m00 * c + m01 * r) + b0
    ys = (m10 * c + m11 * r) + b1
    return _bilinear(source, xs, ys)


def _copy_chip(img: np.ndarray, chip: ChipTransform) -> np.ndarray:
    # dlib's fast path for an unrotated, unscaled chip: a plain copy, zero outside the image
    left, top = (_round_half_up(v) for v in chip.rect[:2])
    out = np.zeros((chip.rows, chip.cols, 3), dtype=np.uint8)
    rows, cols = img.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + chip.rows, rows), min(left + chip.cols, cols)
    if y0 < y1 and x0 < x1:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = img[y0:y1, x0:x1]
    return out


def extract_chip(rgb_image: np.ndarray, landmarks5, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """The aligned (size, size, 3) uint8 chip dlib.get_face_chip(img, det, size, padding) returns."""
    _check_rgb(rgb_image)
    return extract_chip_at(rgb_image, chip_transform(landmarks5, size, padding))
