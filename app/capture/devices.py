"""Which cameras are there: the OpenCV backend per platform, and a bounded probe of device indices.

Probing opens each candidate index once and releases it at once. Opening a camera can block
for seconds on some drivers, so every open runs in its own daemon thread with a deadline: a
probe never takes much longer than `total_timeout_s`, and an index that did not answer in
time is left out (its thread still releases the device when the driver returns).
On Linux an index whose /dev/videoN node does not exist is skipped without calling OpenCV,
so a machine without cameras answers [] at once.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import cv2


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    width: int  # the device's current frame size (what it delivers without asking for another)
    height: int
    backend: str  # OpenCV's backend name, e.g. "V4L2"


def default_backend() -> int:
    """The OpenCV capture backend for cameras on this platform."""
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "win32":
        # DirectShow: Media Foundation (OpenCV's default there) can take many seconds to open a camera
        return cv2.CAP_DSHOW
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


def device_node_missing(index: int, backend: int) -> bool:
    """True when Linux has no /dev/videoN for `index` (so V4L2 cannot open it)."""
    if not sys.platform.startswith("linux") or backend not in (cv2.CAP_V4L2, cv2.CAP_ANY):
        return False
    return os.path.isdir("/dev") and not os.path.exists(f"/dev/video{index}")


@contextmanager
def quiet_opencv():
    """OpenCV logs a WARN line for every source it cannot open; our own error says it better."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def _probe_one(index: int, backend: int, found: dict) -> None:
    capture = None
    try:
        with quiet_opencv():
            capture = cv2.VideoCapture(index, backend)
        if capture.isOpened():
            found[index] = DeviceInfo(index, int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                      int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), capture.getBackendName())
    except cv2.error:
        pass  # a driver that throws on open: not a usable camera
    finally:
        if capture is not None:
            capture.release()


def probe_devices(max_index: int = 8, *, backend: int | None = None, timeout_s: float = 2.0,
                  total_timeout_s: float = 5.0) -> list[DeviceInfo]:
    """Cameras among indices 0..max_index-1 that open, in index order.

    One index at a time (opening several cameras at once upsets some drivers), each given at
    most `timeout_s`, all together at most `total_timeout_s`.
    """
    if max_index < 0:
        raise ValueError(f"max_index must be >= 0, got {max_index}")
    backend = default_backend() if backend is None else backend
    deadline = time.monotonic() + total_timeout_s
    devices = []
    for index in range(max_index):
        if device_node_missing(index, backend):
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        found: dict = {}
        thread = threading.Thread(target=_probe_one, args=(index, backend, found), name=f"probe-camera-{index}",
                                  daemon=True)
        thread.start()
        thread.join(min(timeout_s, remaining))
        if index in found:
            devices.append(found[index])
    return devices
