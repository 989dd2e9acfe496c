"""Frame sources through the real OpenCV capture API, and their error paths."""

import glob
import socket
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from app.capture import devices
from app.capture.devices import probe_devices
from app.capture.errors import CaptureError, InvalidSourceError, SourceStoppedError, SourceUnavailableError
from app.capture.sources import DeviceSource, FileSource, StreamSource, open_source, redacted_url, source_for, to_rgb

from .video_frames import write_video


@pytest.fixture
def colour_video(tmp_path):
    """Six 640x480 frames: pure red, green, blue, twice over (RGB order)."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)] * 2
    frames = [np.full((480, 640, 3), c, np.uint8) for c in colours]
    return write_video(tmp_path / "colours.avi", frames, fps=10.0), colours


def test_a_file_gives_rgb_frames_in_order_then_none(colour_video):
    path, colours = colour_video
    with open_source(str(path)) as source:
        assert source.is_open and not source.live
        assert source.frame_size == (640, 480) and source.fps == pytest.approx(10.0)
        frames = []
        while (rgb := source.read()) is not None:
            frames.append(rgb)
        assert source.read() is None  # the end stays the end
    assert not source.is_open
    assert len(frames) == len(colours) and source.frames_read == len(colours)
    for rgb, colour in zip(frames, colours):
        assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
        assert np.abs(rgb.reshape(-1, 3).mean(axis=0) - colour).max() < 8  # RGB, not OpenCV's BGR


def test_paced_file_is_live_and_keeps_the_frame_rate(colour_video):
    path, _ = colour_video
    with FileSource(path, paced=True) as source:
        assert source.live
        started = time.monotonic()
        for _ in range(4):
            assert source.read() is not None
        assert time.monotonic() - started >= 0.25  # 3 intervals at 10 fps


@pytest.mark.parametrize("spec, kind, detail", [
    ("0", DeviceSource, 0), (" 2 ", DeviceSource, 2), (1, DeviceSource, 1),
    ("rtsp://cam.local/stream", StreamSource, "rtsp://cam.local/stream"),
    ("HTTP://cam.local/mjpg", StreamSource, "HTTP://cam.local/mjpg"),
    ("clip.avi", FileSource, "clip.avi"), ("file:///tmp/clip.avi", FileSource, "/tmp/clip.avi"),
])
def test_source_specifications(spec, kind, detail):
    source = source_for(spec)
    assert type(source) is kind and not source.is_open
    assert {DeviceSource: lambda s: s.index, StreamSource: lambda s: s.url,
            FileSource: lambda s: str(s.path)}[kind](source) == detail


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 device nodes are Linux's")
def test_a_linux_device_node_is_a_camera_index():
    source = source_for("/dev/video3")
    assert type(source) is DeviceSource and source.index == 3 and source.live


@pytest.mark.parametrize("spec, message", [
    ("", "no camera or video source given"), ("-1", "whole number >= 0"), (-3, "whole number >= 0"),
    ("gopher://x/y", "unknown stream type 'gopher'"), (True, "not a camera or video source"),
    (2.5, "not a camera or video source"),
])
def test_malformed_specifications(spec, message):
    with pytest.raises(InvalidSourceError, match=message):
        source_for(spec)


def test_missing_or_unreadable_files(tmp_path):
    with pytest.raises(SourceUnavailableError, match="no such file"):
        open_source(str(tmp_path / "missing.avi"))
    with pytest.raises(SourceUnavailableError, match="is a folder"):
        open_source(str(tmp_path))
    junk = tmp_path / "junk.avi"
    junk.write_text("not a video")
    source = source_for(str(junk))
    with pytest.raises(SourceUnavailableError, match="cannot be opened as a video"):
        source.open()
    assert not source.is_open


def test_a_camera_index_with_no_camera_is_unavailable():
    missing = next(i for i in range(40, 64) if not glob.glob(f"/dev/video{i}"))
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=f"camera {missing} "):
        open_source(str(missing))
    assert time.monotonic() - started < 2.0


def test_an_unreachable_stream_is_unavailable_and_hides_credentials():
    # port 9 on the loopback interface: nothing listens, the connection is refused at once
    with pytest.raises(SourceUnavailableError) as info:
        open_source("rtsp://admin:secret@127.0.0.1:9/live")
    assert "127.0.0.1:9" in str(info.value) and "secret" not in str(info.value) and "admin" not in str(info.value)
    assert redacted_url("http://u:p@host:8080/a?b=1") == "http://host:8080/a?b=1"
    assert redacted_url("rtsp://host/a") == "rtsp://host/a"


def test_a_stream_that_never_answers_gives_up_after_its_timeout():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)  # connections are accepted by the kernel, and never answered
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailableError, match="cannot be opened"):
            StreamSource(f"http://127.0.0.1:{server.getsockname()[1]}/video", timeout_ms=400).open()
        assert time.monotonic() - started < 3.0
    finally:
        server.close()


def test_probe_devices_is_bounded_and_finds_none_here():
    started = time.monotonic()
    found = probe_devices()
    assert time.monotonic() - started < 5.5
    if not glob.glob("/dev/video*"):
        assert found == []


def test_probe_devices_gives_up_on_a_driver_that_hangs(monkeypatch):
    release = threading.Event()
    opened = []

    class HangingCapture:
        def __init__(self, index, backend):
            opened.append(index)
            release.wait(5)  # a driver stuck in open()

        def isOpened(self):
            return True

        def get(self, prop):
            return 640.0

        def getBackendName(self):
            return "FAKE"

        def release(self):
            pass

    monkeypatch.setattr(devices.cv2, "VideoCapture", HangingCapture)
    monkeypatch.setattr(devices, "device_node_missing", lambda index, backend: False)
    try:
        started = time.monotonic()
        assert probe_devices(4, timeout_s=0.1, total_timeout_s=0.25) == []
        assert time.monotonic() - started < 1.0
        assert 1 <= len(opened) <= 3  # later indices were not even tried once the total ran out
    finally:
        release.set()


class ScriptedCapture:
    """A VideoCapture stand-in: `script` says, read by read, a frame (True) or a failure (False)."""

    def __init__(self, script, opens=True):
        self.script = list(script)
        self.opens = opens
        self.released = 0

    def isOpened(self):
        return self.opens and not self.released

    def read(self):
        if self.script and self.script.pop(0):
            return True, np.zeros((4, 6, 3), np.uint8)
        return False, None

    def get(self, prop):
        return 0.0

    def set(self, prop, value):
        return True

    def release(self):
        self.released += 1


class ScriptedCamera(DeviceSource):
    def __init__(self, capture, **timing):
        super().__init__(0, cv2.CAP_ANY, **timing)
        self.capture = capture

    def _check_before_open(self):
        pass

    def _new_capture(self):
        return self.capture


def test_a_camera_that_stops_mid_way_is_released_and_says_so():
    capture = ScriptedCapture([True, True, False, True] + [False] * 10)
    source = ScriptedCamera(capture, failed_reads_before_stop=3).open()
    assert source.read().shape == (4, 6, 3) and source.read() is not None
    assert source.read() is not None  # one failed read in between is retried
    with pytest.raises(SourceStoppedError, match="camera 0 stopped delivering frames after 3 frame"):
        source.read()
    assert capture.released == 1 and not source.is_open
    source.close()  # closing again is harmless
    assert capture.released == 1


def test_a_camera_that_never_delivers_is_unavailable_and_released():
    capture = ScriptedCapture([False] * 1000)
    source = ScriptedCamera(capture, first_frame_timeout_s=0.1).open()
    with pytest.raises(SourceUnavailableError, match="delivered no frame"):
        source.read()
    assert capture.released == 1 and not source.is_open


def test_a_camera_that_does_not_open_is_released():
    capture = ScriptedCapture([], opens=False)
    with pytest.raises(SourceUnavailableError, match="camera 0 cannot be opened"):
        ScriptedCamera(capture).open()
    assert capture.released == 1


def test_with_block_releases_on_error():
    capture = ScriptedCapture([True] * 5)
    with pytest.raises(RuntimeError):
        with ScriptedCamera(capture) as source:
            source.read()
            raise RuntimeError("the consumer failed")
    assert capture.released == 1


def test_reading_a_closed_source_is_an_error(colour_video):
    with pytest.raises(CaptureError, match="not open"):
        FileSource(colour_video[0]).read()


def test_to_rgb_handles_grey_bgra_and_16_bit():
    assert to_rgb(np.full((2, 2), 7, np.uint8)).shape == (2, 2, 3)
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0] = 200  # blue
    assert tuple(to_rgb(bgra)[0, 0]) == (0, 0, 200)
    assert to_rgb(np.full((2, 2, 3), 256 * 9, np.uint16)).max() == 9
