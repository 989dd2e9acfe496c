"""Frame sources: cameras, video files and network streams through OpenCV, as RGB frames.

    with open_source("0") as source:        # camera 0; "clip.avi" a file; "rtsp://..." a stream
        while (rgb := source.read()) is not None:
            ...                              # RGB uint8 (height, width, 3)

A source is opened by open() (or `with`), read() gives the next frame or None at the end of a
file, and close() releases the device; close() is idempotent and runs on every error path, and
a source that stops mid-way releases its device before raising. Open and read a source in one
thread (the capture worker's): some camera backends require it.

Errors (app.capture.errors): InvalidSourceError for a malformed specification,
SourceUnavailableError when the source cannot be opened or never delivers a frame,
SourceStoppedError when a camera or stream that was delivering frames stops.

`live` sources (cameras, streams, and files read with paced=True) deliver frames in real time,
so a consumer that is slower than the source drops frames rather than falling behind; a plain
file is read as fast as it decodes, every frame.
"""

from __future__ import annotations

import os
import re
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from urllib.request import url2pathname

import cv2
import numpy as np

from .devices import default_backend, device_node_missing, quiet_opencv
from .errors import CaptureError, InvalidSourceError, SourceStoppedError, SourceUnavailableError

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt")
_DEVICE_NODE = re.compile(r"/dev/video(\d+)")
# A camera may fail its first reads while it starts; one that delivered frames is given a few
# failed reads in a row before it counts as stopped.
FIRST_FRAME_TIMEOUT_S = 5.0
FAILED_READS_BEFORE_STOP = 5
_RETRY_PAUSE_S = 0.02
STREAM_TIMEOUT_MS = 5000  # opening and reading a network stream


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR / BGRA / grey frame (8 or 16 bit) as contiguous RGB uint8."""
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise CaptureError(f"unsupported frame type {frame.dtype}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    if frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def redacted_url(url: str) -> str:
    """The URL without user name and password, for messages and logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class FrameSource(ABC):
    """Where frames come from. Subclasses implement _open/_read/_release."""

    live = False  # frames arrive in real time (drop when busy) rather than on demand

    def __init__(self, description: str):
        self.description = description  # "camera 0", "video file clip.avi", "stream rtsp://host/x"
        self.frames_read = 0

    @property
    @abstractmethod
    def is_open(self) -> bool: ...

    @abstractmethod
    def open(self) -> FrameSource:
        """Open (idempotent) and return self; SourceUnavailableError when it cannot be opened."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame, RGB uint8 (height, width, 3); None at the end of a file."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file (idempotent)."""

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the frames, when known."""
        return None

    @property
    def fps(self) -> float | None:
        """Frames per second the source reports, when it reports one."""
        return None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<{type(self).__name__} {self.description} {'open' if self.is_open else 'closed'}>"


class OpenCvSource(FrameSource):
    """A cv2.VideoCapture behind the FrameSource interface."""

    def __init__(self, description: str):
        super().__init__(description)
        self._capture = None
        self._size: tuple[int, int] | None = None
        self._ended = False

    @abstractmethod
    def _new_capture(self):
        """A new cv2.VideoCapture (or an object with the same read/isOpened/get/release methods)."""

    def _unavailable(self) -> str:
        return f"{self.description} cannot be opened"

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def open(self) -> OpenCvSource:
        if self._capture is not None:
            return self
        self._check_before_open()
        capture = None
        try:
            with quiet_opencv():
                capture = self._new_capture()
            if capture is None or not capture.isOpened():
                raise SourceUnavailableError(self._unavailable())
            self._capture, capture = capture, None
            self.frames_read = 0
            self._ended = False
            self._size = None
            self._configure(self._capture)
        except cv2.error as exc:
            self.close()
            raise SourceUnavailableError(f"{self._unavailable()}: {exc}") from None
        except BaseException:
            self.close()
            raise
        finally:
            if capture is not None:
                capture.release()
        return self

    def _check_before_open(self) -> None:
        """Raise SourceUnavailableError for what can be told without OpenCV."""

    def _configure(self, capture) -> None:
        """Settings applied right after opening."""

    def _grab(self):
        if self._capture is None:
            raise CaptureError(f"{self.description} is not open: call open() first, or use it in a with block")
        try:
            ok, frame = self._capture.read()
        except cv2.error:
            ok, frame = False, None
        return frame if ok and frame is not None and frame.size else None

    def _delivered(self, frame: np.ndarray) -> np.ndarray:
        self.frames_read += 1
        rgb = to_rgb(frame)
        self._size = (rgb.shape[1], rgb.shape[0])
        return rgb

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def __del__(self):
        # a safety net only: owners close explicitly (a camera left open stays busy for other programs)
        try:
            self.close()
        except Exception:
            pass

    def _property(self, prop: int) -> float:
        if self._capture is None:
            return 0.0
        try:
            return float(self._capture.get(prop))
        except cv2.error:
            return 0.0

    @property
    def frame_size(self) -> tuple[int, int] | None:
        if self._size is not None:
            return self._size
        w, h = int(self._property(cv2.CAP_PROP_FRAME_WIDTH)), int(self._property(cv2.CAP_PROP_FRAME_HEIGHT))
        return (w, h) if w > 0 and h > 0 else None

    @property
    def fps(self) -> float | None:
        value = self._property(cv2.CAP_PROP_FPS)
        return value if 0 < value < 1000 else None


class _LiveSource(OpenCvSource):
    """Cameras and streams: slow first frames are waited for; a source that stops is an error."""

    live = True

    def __init__(self, description: str, first_frame_timeout_s: float = FIRST_FRAME_TIMEOUT_S,
                 failed_reads_before_stop: int = FAILED_READS_BEFORE_STOP):
        super().__init__(description)
        self.first_frame_timeout_s = first_frame_timeout_s
        self.failed_reads_before_stop = failed_reads_before_stop

    def read(self) -> np.ndarray | None:
        started = time.monotonic()
        failures = 0
        while True:
            frame = self._grab()
            if frame is not None:
                return self._delivered(frame)
            failures += 1
            if self.frames_read == 0:
                if time.monotonic() - started >= self.first_frame_timeout_s:
                    self.close()
                    raise SourceUnavailableError(
                        f"{self.description} opened but delivered no frame within {self.first_frame_timeout_s:g} s "
                        f"(is another program using it?)")
            elif failures >= self.failed_reads_before_stop:
                read = self.frames_read
                self.close()
                raise SourceStoppedError(f"{self.description} stopped delivering frames after {read} frame(s) "
                                         f"(unplugged, or the connection dropped)")
            time.sleep(_RETRY_PAUSE_S)


class DeviceSource(_LiveSource):
    """A camera by index, through the platform's capture backend (see devices.default_backend)."""

    def __init__(self, index: int, backend: int | None = None, *, width: int | None = None,
                 height: int | None = None, fps: float | None = None, **timing):
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidSourceError(f"camera index must be a whole number >= 0, got {index!r}")
        super().__init__(f"camera {index}", **timing)
        self.index = index
        self.backend = default_backend() if backend is None else backend
        self.requested = (width, height, fps)

    def _check_before_open(self) -> None:
        if device_node_missing(self.index, self.backend):
            raise SourceUnavailableError(f"camera {self.index} not found: /dev/video{self.index} does not exist "
                                         f"(is the camera connected?)")

    def _unavailable(self) -> str:
        return (f"camera {self.index} cannot be opened (not connected, in use by another program, "
                f"or no permission to use it)")

    def _new_capture(self):
        return cv2.VideoCapture(self.index, self.backend)

    def _configure(self, capture) -> None:
        width, height, fps = self.requested
        # requests only: the driver picks the nearest mode it has
        if width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(width))
        if height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height))
        if fps:
            capture.set(cv2.CAP_PROP_FPS, float(fps))


class StreamSource(_LiveSource):
    """A network stream (rtsp://, http:// MJPEG, ...) through FFmpeg, with open/read timeouts."""

    def __init__(self, url: str, timeout_ms: int = STREAM_TIMEOUT_MS, **timing):
        super().__init__(f"stream {redacted_url(url)}", **timing)
        self.url = url
        self.timeout_ms = int(timeout_ms)

    def _unavailable(self) -> str:
        return f"{self.description} cannot be opened (unreachable, wrong address, or not a video stream)"

    def _new_capture(self):
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms,
                                                           cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms])


class FileSource(OpenCvSource):
    """A video file, every frame in order; None at its end.

    paced=True delivers frames at the file's frame rate, like a camera (for demos and benches).
    """

    def __init__(self, path: str | os.PathLike, *, paced: bool = False):
        self.path = Path(path)
        super().__init__(f"video file {self.path}")
        self.paced = paced
        self.live = paced
        self._next_due: float | None = None

    def _check_before_open(self) -> None:
        if not self.path.exists():
            raise SourceUnavailableError(f"{self.description}: no such file")
        if self.path.is_dir():
            raise SourceUnavailableError(f"{self.description} is a folder, not a video file")
        if not os.access(self.path, os.R_OK):
            raise SourceUnavailableError(f"{self.description} cannot be read (no permission)")

    def _unavailable(self) -> str:
        return f"{self.description} cannot be opened as a video (unknown format, or damaged)"

    def _new_capture(self):
        return cv2.VideoCapture(str(self.path))

    def _configure(self, capture) -> None:
        self._next_due = None

    def read(self) -> np.ndarray | None:
        if self._ended:
            return None
        frame = self._grab()
        if frame is None:
            self._ended = True
            return None
        if self.paced:
            self._wait_for_frame_time()
        return self._delivered(frame)

    def _wait_for_frame_time(self) -> None:
        now = time.monotonic()
        if self._next_due is None:
            self._next_due = now
        elif self._next_due > now:
            time.sleep(self._next_due - now)
        self._next_due = max(self._next_due, now) + 1.0 / (self.fps or 30.0)


def source_for(spec: str | int | os.PathLike, *, backend: int | None = None, paced: bool = False) -> FrameSource:
    """A source (not yet opened) for what the operator typed.

    "0", "1", ... (or an int, or /dev/videoN on Linux) is a camera index; "rtsp://", "http://" and
    the other STREAM_SCHEMES are streams; "file://..." and anything else is a video file path.
    """
    if isinstance(spec, bool):
        raise InvalidSourceError(f"not a camera or video source: {spec!r}")
    if isinstance(spec, int):
        return DeviceSource(spec, backend)
    if isinstance(spec, os.PathLike):
        return FileSource(spec, paced=paced)
    if not isinstance(spec, str):
        raise InvalidSourceError(f"not a camera or video source: {spec!r}")
    text = spec.strip()
    if not text:
        raise InvalidSourceError("no camera or video source given: use a camera index (0, 1, ...), "
                                 "a video file or a stream URL")
    if re.fullmatch(r"[0-9]+", text):
        return DeviceSource(int(text), backend)
    if re.fullmatch(r"-[0-9]+", text):
        raise InvalidSourceError(f"camera index must be a whole number >= 0, got {text}")
    node = _DEVICE_NODE.fullmatch(text)
    if node and sys.platform.startswith("linux"):
        return DeviceSource(int(node.group(1)), backend)
    if "://" in text:
        scheme = urlsplit(text).scheme.lower()
        if scheme == "file":
            return FileSource(url2pathname(urlsplit(text).path), paced=paced)
        if scheme in STREAM_SCHEMES:
            return StreamSource(text)
        raise InvalidSourceError(f"unknown stream type {scheme!r} in {redacted_url(text)}: "
                                 f"use one of {', '.join(s + '://' for s in STREAM_SCHEMES)}")
    return FileSource(text, paced=paced)


def open_source(spec: str | int | os.PathLike, *, backend: int | None = None, paced: bool = False) -> FrameSource:
    """source_for(spec) opened; close it (or use `with`)."""
    return source_for(spec, backend=backend, paced=paced).open()
