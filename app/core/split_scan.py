"""The compressed tier's scan: int8 codes split into a head and a tail, read head first.

Each face's code (`int8_scan`) is held as two unsigned arrays, the first `head_dims(dim)`
coordinates and the rest, each shifted by +128 (so 0..255), plus the squared norm of each part's
signed code. The squared distance between two codes is the head's part plus the tail's, and each
part is ||c_q||^2 + ||c_x||^2 - 2 <c_q, c_x>: a dot product, which onnxruntime's integer GEMM
(MatMulInteger, uint8 x int8 into int32) computes many faces per call. simsimd's per-pair
kernel spends more time per face than reading its bytes takes, so it hardly gains from fewer bytes
(README, "Fifth round" and "Sixth round"; `bench/bench_int8_kernels.py` re-measures).

A GEMM row holds `g` faces side by side (A is (n / g, g * k)), the query sits g times on the block
diagonal of B (g * k, g). Which g is fastest depends on the CPU: MLAS picks its kernels by
instruction set; eight faces a row were chosen on an Intel host with AMX, and on an AMD host with
AVX-512 VNNI eight ran the head scan about 2.5x slower than two (README, "Sixth round"). So
`group_for` measures each of GROUPS once per process, on random codes, and keeps the fastest;
every g gives the same integers.

A search needs only the faces whose code is within some reach of the query's. The head's part
alone is at most the whole distance, so a scan of the heads (half the bytes) rules out every face
whose head is already too far; only the faces left have their tails read. The answer is the same
set, with the same integer distances, as a scan of whole codes: exact by construction.

Integer sums stay exact: a dot product is at most dim * 255 * 127 (< 2^31 up to 66,000
coordinates; `all_distances` sums twice that in int32: up to 33,000), and distances are returned
as int64.
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from . import int8_scan

GROUPS = (1, 2, 4, 8)  # faces per GEMM row that `group_for` tries
CALIBRATION_FACES = 1 << 16  # random heads each of GROUPS is timed on (in all 50-60 ms with the session, once)
CHUNK = 1 << 18  # faces per GEMM call (a multiple of every group): its output stays in cache
PARALLEL_MIN_FACES = 1 << 18  # from here on two threads scan a half each
_GATHER_SHARE = 1 / 8  # near heads in a chunk up to which their tails are gathered, not all scanned

_lock = threading.Lock()
_session_cache: Any = None
_pool: ThreadPoolExecutor | None = None
_groups: dict[int, int] = {}  # head or tail width -> the group measured fastest for it


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads, so the pool it inherits would never run its
    work, and onnxruntime's session is not fork-safe: the child makes its own on first use (the
    measured groups stay: same machine)."""
    global _lock, _session_cache, _pool
    _lock = threading.Lock()
    _session_cache = None
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def head_dims(dim: int) -> int:
    """How many leading coordinates form the head: half of them."""
    return dim // 2


def unsigned(codes: np.ndarray) -> np.ndarray:
    """int8 codes as uint8 (c + 128): the form MatMulInteger's fast uint8 x int8 kernel reads."""
    return np.bitwise_xor(np.asarray(codes, np.int8).view(np.uint8), np.uint8(0x80))


def signed(codes: np.ndarray) -> np.ndarray:
    """The inverse of `unsigned`."""
    return np.bitwise_xor(np.asarray(codes, np.uint8), np.uint8(0x80)).view(np.int8)


def squared_norms(codes: np.ndarray) -> np.ndarray:
    """||c||^2 of each signed int8 code row, int32."""
    c = np.asarray(codes, np.int8)
    if c.shape[1] == 0:
        return np.zeros(len(c), np.int32)
    return np.einsum("ij,ij->i", c.astype(np.int32), c.astype(np.int32)).astype(np.int32)


def split_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(head, head_sq, tail, tail_sq) of signed int8 code rows, as `within` and the tier hold them:
    each part unsigned, with the squared norm of its signed code."""
    c = np.asarray(codes, np.int8)
    h = head_dims(c.shape[1])
    return unsigned(c[:, :h]), squared_norms(c[:, :h]), unsigned(c[:, h:]), squared_norms(c[:, h:])


# MatMulInteger(A uint8 [rows, width], B int8 [width, group]) -> int32 [rows, group], opset 13, serialized:
# what onnx.helper builds (tests/core/test_split_scan.py checks it), kept as bytes so that the first
# search need not import onnx (0.6 s)
CODE_DOTS_MODEL = (
    b"\x08\x08\x12\trekurator:\x80\x01\n\x18\n\x01A\n\x01B\x12\x01Y\"\rMatMulInteger\x12\tcode_dotsZ"
    b"\x1c\n\x01A\x12\x17\n\x15\x08\x02\x12\x11\n\x06\x12\x04rows\n\x07\x12\x05widthZ\x1d\n\x01B\x12"
    b"\x18\n\x16\x08\x03\x12\x12\n\x07\x12\x05width\n\x07\x12\x05groupb\x1c\n\x01Y\x12\x17\n\x15\x08"
    b"\x06\x12\x11\n\x06\x12\x04rows\n\x07\x12\x05groupB\x04\n\x00\x10\r"
)


def _session() -> Any:
    """The MatMulInteger session (one thread: the scan splits its work itself), built once."""
    global _session_cache
    with _lock:
        if _session_cache is None:
            import onnxruntime as ort  # lazy: startup and small collections never build one

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _session_cache = ort.InferenceSession(CODE_DOTS_MODEL, options, providers=["CPUExecutionProvider"])
    return _session_cache


def _workers() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(2, thread_name_prefix="code-scan")
    return _pool


def group_for(k: int) -> int:
    """Faces per GEMM row for parts of `k` coordinates: the fastest of GROUPS on this machine,
    measured on first use (each timed three times on CALIBRATION_FACES random codes, interleaved,
    best of three) and kept for the process."""
    with _lock:
        known = _groups.get(k)
    if known is not None:
        return known
    chosen = _fastest_group(k) if k else 1
    with _lock:
        return _groups.setdefault(k, chosen)


def _fastest_group(k: int) -> int:
    rng = np.random.default_rng(k)
    rows = rng.integers(0, 256, (CALIBRATION_FACES, k), dtype=np.uint8)
    parts = {g: _Part(rng.integers(-127, 128, k, dtype=np.int8), g) for g in GROUPS}
    best = dict.fromkeys(GROUPS, math.inf)
    for part in parts.values():
        part.gemm(rows)  # the session's first call of a shape allocates
    for _ in range(3):
        for g, part in parts.items():
            t0 = time.perf_counter()
            part.gemm(rows)
            best[g] = min(best[g], time.perf_counter() - t0)
    return min(GROUPS, key=best.__getitem__)


def chosen_groups() -> dict[int, int]:
    """The groups measured so far in this process, by part width (for benches and logs)."""
    with _lock:
        return dict(_groups)


class _Part:
    """One part (head or tail) of a query's code, ready for the GEMM, `group` faces a row
    (None: `group_for` its width)."""

    def __init__(self, code: np.ndarray, group: int | None = None):
        self.code = np.ascontiguousarray(code, np.int8)
        k = len(self.code)
        self.k = k
        self.group = g = group or group_for(k)
        self.sq = int(np.dot(self.code.astype(np.int64), self.code.astype(np.int64)))
        self.shift = 128 * int(self.code.astype(np.int64).sum())  # <u_x, c_q> - <c_x, c_q>
        self.block = np.zeros((k * g, g), np.int8)
        for i in range(g):
            self.block[i * k : (i + 1) * k, i] = self.code

    def gemm(self, rows: np.ndarray) -> np.ndarray:
        """<u_x, c_q> (unsigned code rows) as int32, for the first len(rows) - len(rows) % group rows."""
        g = self.group
        whole = len(rows) - len(rows) % g
        if not whole or not self.k:
            return np.zeros(whole, np.int32)
        a = rows[:whole].reshape(whole // g, self.k * g)
        return _session().run(None, {"A": a, "B": self.block})[0].reshape(whole)

    def distances(self, rows: np.ndarray, norms: np.ndarray) -> np.ndarray:
        """||c_q - c_x||^2 over this part, int64."""
        d = np.empty(len(rows), np.int64)
        y = self.gemm(rows)
        d[: len(y)] = y
        d[len(y) :] = rows[len(y) :].astype(np.int64) @ self.code.astype(np.int64)
        d -= self.shift
        d *= -2
        d += norms
        d += self.sq
        return d

    def near(self, rows: np.ndarray, norms: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, int64 distances over this part) of the rows whose distance is at most `limit`.

        In int32, in place on the GEMM's output: ||c_x||^2 - 2 <u_x, c_q> <= limit - ||c_q||^2 - 2 shift.
        """
        offset = self.sq + 2 * self.shift
        bound = min(max(limit - offset, -(1 << 31)), (1 << 31) - 1)
        y = self.gemm(rows)
        whole = len(y)
        np.multiply(y, -2, out=y)
        y += norms[:whole]
        found = np.flatnonzero(y <= bound)
        part = y[found].astype(np.int64) + offset
        if whole < len(rows):
            rest = self.distances(rows[whole:], norms[whole:])
            more = np.flatnonzero(rest <= limit)
            found, part = np.concatenate([found, more + whole]), np.concatenate([part, rest[more]])
        return found, part


def _split(n: int) -> list[tuple[int, int]]:
    if n < PARALLEL_MIN_FACES or (os.cpu_count() or 1) < 2:
        return [(0, n)]
    half = (n // 2) // GROUPS[-1] * GROUPS[-1] or n // 2  # a multiple of every group: no rows left over
    return [(0, half), (half, n)]


def _tail_distances(tail: np.ndarray, rows: np.ndarray, code: np.ndarray) -> np.ndarray:
    """||c_q - c_x||^2 over the tail for a few rows (simsimd per row, or numpy), int64."""
    if tail.shape[1] == 0 or len(rows) == 0:
        return np.zeros(len(rows), np.int64)
    gathered = np.take(tail, rows, axis=0)  # 2-3x faster than fancy indexing for whole rows
    np.bitwise_xor(gathered, np.uint8(0x80), out=gathered)
    out: np.ndarray = np.empty(len(rows), int8_scan.sum_dtype(tail.shape[1]))
    int8_scan.squared_code_distances(gathered.view(np.int8), code, out, threads=1)
    return out.astype(np.int64)


def within(
    head: np.ndarray,
    head_sq: np.ndarray,
    tail: np.ndarray,
    tail_sq: np.ndarray,
    code: np.ndarray,
    reach_sq: float,
    group: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(positions, squared code distances) of every face whose code is within sqrt(reach_sq).

    `head` and `tail` are the unsigned parts of the first n faces, `head_sq` and `tail_sq` the
    squared norms of their signed parts; `code` the query's signed int8 code. A chunk where more
    than an eighth of the heads are near has its tails scanned whole (GEMM) instead of gathered.
    `group`: faces per GEMM row (None: the one measured fastest here).
    """
    n = len(head)
    h = head.shape[1]
    top = np.floor(reach_sq)
    if not np.isfinite(top) or top >= 1 << 62:
        top = float(1 << 62)
    limit = int(top)
    g = group or group_for(h)  # one group for both parts: their GEMM outputs line up
    head_part, tail_part = _Part(code[:h], g), _Part(code[h:], g)

    def scan(span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        found_pos, found_sq = [], []
        for lo in range(span[0], span[1], CHUNK):
            hi = min(span[1], lo + CHUNK)
            near, part = head_part.near(head[lo:hi], head_sq[lo:hi], limit)
            if len(near) > (hi - lo) * _GATHER_SHARE:  # most heads are near: scan the tails whole
                whole = part + tail_part.distances(tail[lo:hi], tail_sq[lo:hi])[near]
            elif len(near):
                whole = part + _tail_distances(tail, lo + near, tail_part.code)
            else:
                continue
            keep = whole <= limit
            found_pos.append(near[keep] + lo)
            found_sq.append(whole[keep])
        if not found_pos:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(found_pos).astype(np.int64), np.concatenate(found_sq)

    spans = _split(n)
    parts = [scan(spans[0])] if len(spans) == 1 else list(_workers().map(scan, spans))
    return np.concatenate([p for p, _ in parts]), np.concatenate([s for _, s in parts])


def all_distances(
    head: np.ndarray,
    head_sq: np.ndarray,
    tail: np.ndarray,
    tail_sq: np.ndarray,
    code: np.ndarray,
    out: np.ndarray,
    group: int | None = None,
) -> np.ndarray:
    """The squared code distance from `code` to every face into `out` (len(head)); returns `out`."""
    h = head.shape[1]
    g = group or group_for(h)  # one group for both parts: their GEMM outputs line up
    head_part, tail_part = _Part(code[:h], g), _Part(code[h:], g)

    offset = head_part.sq + tail_part.sq + 2 * (head_part.shift + tail_part.shift)

    def scan(span: tuple[int, int]) -> None:
        for lo in range(span[0], span[1], CHUNK):
            hi = min(span[1], lo + CHUNK)
            y = head_part.gemm(head[lo:hi])  # in int32 (|sums| < dim * 2 * 255 * 127), in place
            y += tail_part.gemm(tail[lo:hi])
            mid = lo + len(y)
            np.multiply(y, -2, out=y)
            y += head_sq[lo:mid]
            y += tail_sq[lo:mid]
            out[lo:mid] = y
            out[lo:mid] += offset
            if mid < hi:
                out[mid:hi] = head_part.distances(head[mid:hi], head_sq[mid:hi]) + tail_part.distances(
                    tail[mid:hi], tail_sq[mid:hi]
                )

    spans = _split(len(head))
    if len(spans) == 1:
        scan(spans[0])
    else:
        list(_workers().map(scan, spans))
    return out
