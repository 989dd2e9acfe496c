"""A process-wide memory budget for decoding and analysing large images.

A PNG of a few hundred kilobytes can declare 6324x6324 RGBA pixels at 16 bits (just under the
40-megapixel limit): 320 MB of samples once decoded, 120 MB as the RGB image the analysis works
on, 40 MB more as its grey copy. Eight such requests at once (the endpoint's default worker
count) would need gigabytes. So every image whose working set is large reserves its estimated
bytes here first, and waits while others hold the budget:

- `estimate(data)` reads the declared size from the header (nothing is decoded) and gives the
  bytes needed while decoding and the bytes held afterwards (the RGB image and its grey copy).
- `reserve(data)` is a context manager holding that share; the decoder shrinks it to the
  after-decoding share when the samples are freed. Reservations nest: an inner `reserve` or
  `decode_image` in the same context uses the outer one. It is a context variable, so a server
  can reserve in its connection thread and run the analysis in a worker with the same context
  (contextvars.copy_context().run), and a request waiting for memory does not hold a worker.
- Images under SMALL_IMAGE_BYTES (ordinary photos up to ~3 megapixels) never wait.
- A request that cannot get its share within the wait limit is answered ThrottlingException
  (retryable, as the service does when it is busy); one larger than the whole budget runs alone.

The budget is REKURATOR_IMAGE_MEMORY_MB (default 640) megabytes, for the whole process.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from app.core.errors import ThrottlingException

BUDGET_ENV = "REKURATOR_IMAGE_MEMORY_MB"
DEFAULT_BUDGET_MB = 640
# working sets below this never wait: a 3-megapixel photo is about 21 MB while decoding
SMALL_IMAGE_BYTES = 32 * 2**20
DEFAULT_WAIT_S = 60.0
# room for the detector's resized copy, the preview and the strip buffers of the conversion
_MARGIN_BYTES = 8 * 2**20
# a band of a large PNG: its inflated rows, the small PNG made of them, OpenCV's samples (4 MB each)
BAND_WORKING_BYTES = 24 * 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    decoding: int  # bytes while the decoder's samples and the RGB result both exist
    holding: int  # bytes after decoding: the RGB image and its grey copy
    pixel_bytes: int  # the part that grows with the pixel count (the rest is fixed working room)

    @property
    def small(self) -> bool:
        return self.pixel_bytes < SMALL_IMAGE_BYTES


_NOTHING = MemoryEstimate(0, 0, 0)


def estimate(data: bytes) -> MemoryEstimate:
    """The working set of decoding and analysing `data`, from its header; zero when unreadable.

    Unreadable or malformed data costs nothing here: decode_image rejects it before decoding.
    """
    size = _declared_size(data)
    if size is None:
        return _NOTHING
    width, height, sample_bytes, banded = size
    pixels = width * height
    rgb = 3 * pixels
    holding = rgb + pixels + _MARGIN_BYTES
    if banded:  # one band of samples at a time, written into the RGB result
        return MemoryEstimate(holding + BAND_WORKING_BYTES, holding, holding - _MARGIN_BYTES)
    rotated = rgb if data[:3] == b"\xff\xd8\xff" else 0  # an EXIF turn copies the image once more
    variable = pixels * sample_bytes + rgb + rotated
    return MemoryEstimate(variable + _MARGIN_BYTES, holding, variable)


def png_decodes_in_bands(depth: int, colour: int, interlace: int) -> bool:
    """Whether image_decode decodes a large PNG with these IHDR fields band by band."""
    return not interlace and colour in (0, 2, 4, 6) and depth in (8, 16)


def _declared_size(data: bytes) -> tuple[int, int, int, bool] | None:
    """(width, height, bytes per decoded pixel, decoded in bands) from a PNG or JPEG header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33 and data[12:16] == b"IHDR":
        width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", data[16:29])
        # OpenCV gives 1 channel for grey, else 3 or 4 (alpha or a palette with transparency)
        channels = 1 if colour == 0 else 4
        banded = png_decodes_in_bands(depth, colour, interlace)
        return width, height, channels * (2 if depth == 16 else 1), banded
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, int, bool] | None:
    pos, n = 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height, 3, False
        if marker == 0xDA or length < 2:
            return None
        pos += 2 + length
    return None


class MemoryBudget:
    """A counting semaphore over bytes, with shrinkable shares and a wait limit."""

    def __init__(self, limit_bytes: int):
        if limit_bytes < 1:
            raise ValueError(f"the image memory budget must be positive, got {limit_bytes}")
        self.limit = limit_bytes
        self.in_use = 0
        self.peak = 0
        self._changed = threading.Condition()

    def acquire(self, nbytes: int, wait_s: float) -> Share:
        deadline = time.monotonic() + wait_s
        with self._changed:
            # a request larger than the whole budget runs when it is alone
            while self.in_use and self.in_use + nbytes > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ThrottlingException(
                        f"Too many large images are being analysed at once (this process keeps "
                        f"{self.limit // 2**20} MB for them, ${BUDGET_ENV}); retry shortly"
                    )
                self._changed.wait(left)
            self.in_use += nbytes
            self.peak = max(self.peak, self.in_use)
        return Share(self, nbytes)

    def _give_back(self, nbytes: int) -> None:
        with self._changed:
            self.in_use -= nbytes
            self._changed.notify_all()


class Share:
    """Bytes held in a MemoryBudget; shrink() and release() may run in any thread."""

    def __init__(self, budget: MemoryBudget, nbytes: int):
        self._budget = budget
        self._lock = threading.Lock()
        self.nbytes = nbytes

    def shrink(self, nbytes: int) -> None:
        with self._lock:
            freed = self.nbytes - max(0, nbytes)
            if freed <= 0:
                return
            self.nbytes -= freed
        self._budget._give_back(freed)

    def release(self) -> None:
        self.shrink(0)


def _budget_from_environment() -> MemoryBudget:
    text = os.environ.get(BUDGET_ENV, "")
    try:
        megabytes = int(text) if text else DEFAULT_BUDGET_MB
    except ValueError:
        megabytes = DEFAULT_BUDGET_MB
    return MemoryBudget(max(1, megabytes) * 2**20)


BUDGET = _budget_from_environment()
_current: contextvars.ContextVar[Share | None] = contextvars.ContextVar("rekurator_image_share", default=None)


def current_share() -> Share | None:
    """The share reserved by an enclosing `reserve`, if any."""
    return _current.get()


@contextlib.contextmanager
def reserve(
    data: bytes, wait_s: float = DEFAULT_WAIT_S, budget: MemoryBudget | None = None
) -> Iterator[None]:
    """Hold the budget share of decoding and analysing `data` until the block ends."""
    if _current.get() is not None:
        yield  # an outer reservation covers this image
        return
    need = estimate(data)
    if need.small:
        yield
        return
    share = (budget or BUDGET).acquire(need.decoding, wait_s)
    token = _current.set(share)
    try:
        yield
    finally:
        _current.reset(token)
        share.release()
