"""The camera side of webcam enrollment: a worker object in its own QThread that owns the source.

CaptureWorker.run() is one loop on the worker thread. Per frame read:
- a copy goes to the preview at most DISPLAY_FPS times a second, through a one-slot mailbox:
  a newer frame replaces one the GUI has not taken yet, so frames never queue up;
- while collecting, an EnrollmentCollector takes it (live sources: dropped while its analysis
  is busy; a file read at full speed: every frame, in turn);
- otherwise a quick analysis without descriptors, a few times a second, gives the boxes and the
  operator's hint.
The GUI steers the loop with thread-safe calls (start_collecting, stop_collecting, set_paused,
request_stop) that the loop reads between frames. The source is opened, read and closed on the
worker thread (some camera backends insist) and closed on every way out of the loop.

CaptureSession is the GUI-side face: it owns the thread, relays the worker's signals through
its own bound slots, and tells when the thread has really finished (`ended`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from app.capture.errors import SourceStoppedError
from app.capture.frame_collector import COMPLETE, END_OF_STREAM, SOURCE_STOPPED, STOPPED, CaptureOutcome, EnrollmentCollector
from app.capture.frame_hints import frame_hint
from app.capture.frame_selection import DEFAULT_SELECTION_RULES, FrameVerdict
from app.capture.sources import FileSource

DISPLAY_FPS = 30.0
HINT_INTERVAL_S = 0.2  # the preview's own analysis: enough for boxes and hints, cheap on 2 cores
MAX_DISPLAY_SIDE = 960  # larger camera frames are shrunk before they cross to the GUI thread
PAUSE_POLL_S = 0.05
FAILED = "failed"  # how the loop ended when it raised (the exception goes out through `failed`)


class FrameMailbox:
    """The latest preview frame waiting for the GUI thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._image: QImage | None = None

    def put(self, image: QImage) -> bool:
        """Leave a frame; True when the box was empty (the GUI must be told), False when it
        replaced a frame the GUI has not taken yet (a signal for that one is on its way)."""
        with self._lock:
            was_empty = self._image is None
            self._image = image
            return was_empty

    def take(self) -> QImage | None:
        with self._lock:
            image, self._image = self._image, None
            return image


def frame_image(rgb: np.ndarray, max_side: int = MAX_DISPLAY_SIDE) -> QImage:
    """An RGB frame as a QImage that owns its pixels (shrunk to max_side)."""
    height, width = rgb.shape[:2]
    scale = max_side / max(width, height)
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    # the QImage only borrows the array's buffer: copy() gives it its own before the array goes
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


@dataclass
class _Collection:
    """One run of the EnrollmentCollector inside the loop."""

    collector: EnrollmentCollector
    requested: int
    realtime: bool
    started: float = field(default_factory=time.monotonic)
    frames_read: int = 0

    def feed(self, rgb: np.ndarray, frame_index: int) -> None:
        self.frames_read += 1
        if self.realtime:
            self.collector.submit(rgb, frame_index)
        else:
            self.collector.process(rgb, frame_index)

    def outcome(self, ended: str, error=None) -> CaptureOutcome:
        if self.realtime:
            self.collector.wait_idle()  # the frame in analysis may be the one that completes the set
        if self.collector.error is not None:
            raise self.collector.error
        if self.collector.done:
            ended, error = COMPLETE, None
        c = self.collector
        return CaptureOutcome(c.captured, self.requested, ended, self.frames_read, c.analysed, c.dropped,
                              time.monotonic() - self.started, dict(c.hint_counts), error)


class CaptureWorker(QObject):
    frame_ready = Signal()  # a frame waits in the mailbox
    verdict = Signal(object)  # FrameVerdict: collecting (kept/target set) or the preview's hint (target 0)
    status = Signal(str)
    opened = Signal(str)  # the source, as the operator should read it
    collected = Signal(object)  # CaptureOutcome: a collection ended (complete, stopped, source ended)
    failed = Signal(object)  # the exception that ended the loop
    finished = Signal(str, str)  # how the loop ended (END_OF_STREAM, SOURCE_STOPPED, STOPPED, FAILED), and why

    def __init__(self, source, load_analyzer, mailbox: FrameMailbox, display_fps: float = DISPLAY_FPS):
        super().__init__()
        self.source = source
        self._load_analyzer = load_analyzer  # called on the worker thread: the first call may load the models
        self.mailbox = mailbox
        # a little under the frame time: a 30 fps camera's frames arrive with some jitter, and a
        # strict 1/30 s would skip every other one
        self._display_interval = 0.8 / display_fps
        self._lock = threading.Lock()
        self._requests: list[tuple] = []
        self._paused = threading.Event()
        self._quit = threading.Event()
        self._keep_collection = False  # on quit, a collection under way hands its frames over (`collected`)
        self._collection: _Collection | None = None
        self._last_shown = 0.0
        self._last_hint = 0.0
        self.frames_read = 0
        self.frames_shown = 0
        # cameras and streams go on producing frames while paused; a file (even read at its
        # frame rate) waits where it is
        self._streaming = source.live and not isinstance(source, FileSource)

    # -- called from the GUI thread -------------------------------------------------------------
    def start_collecting(self, frames: int, threshold: float) -> None:
        with self._lock:
            self._requests.append(("start", int(frames), float(threshold)))

    def stop_collecting(self) -> None:
        """End the collection; `collected` then brings what was kept so far."""
        with self._lock:
            self._requests.append(("stop",))

    def set_paused(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def request_stop(self, keep_collection: bool = False) -> None:
        """End the loop; the source is closed on the way out. A collection in progress is dropped,
        or with keep_collection ends as stopped: `collected` brings what it kept, before `finished`."""
        if keep_collection:
            self._keep_collection = True
        self._quit.set()

    # -- the worker thread ---------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        ending, message = STOPPED, ""
        thread = QThread.currentThread()
        try:
            ending, message = self._loop()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI, which shows it
            ending, message = FAILED, str(exc)
            self.failed.emit(exc)
        finally:
            collection, self._collection = self._collection, None
            if collection is not None:
                collection.collector.close()
            self.source.close()
            self.finished.emit(ending, message)
            app = QCoreApplication.instance()
            if app is not None:  # hand the object back so it can be freed on the GUI thread
                self.moveToThread(app.thread())
            thread.quit()

    def _loop(self) -> tuple[str, str]:
        self.status.emit(f"Opening {self.source.description}…")
        self.source.open()
        size = self.source.frame_size
        self.opened.emit(self.source.description + (f" ({size[0]}×{size[1]})" if size else ""))
        analyzer = None
        while not self._quit.is_set():
            if analyzer is not None:
                self._apply_requests(analyzer)
            if self._collection is not None and self._collection.collector.done:
                self._end_collection(COMPLETE)
            paused = self._paused.is_set()
            if paused and not self._streaming:
                self._quit.wait(PAUSE_POLL_S)
                continue
            try:
                rgb = self._read()
            except SourceStoppedError as exc:
                if self._collection is not None:
                    self._end_collection(SOURCE_STOPPED, exc)
                return SOURCE_STOPPED, str(exc)
            if rgb is None:
                if self._collection is not None:
                    self._end_collection(END_OF_STREAM)
                return END_OF_STREAM, f"{self.source.description} ended after {self.frames_read} frame(s)"
            if paused:
                continue  # a camera is still read, so its buffer holds no stale frames on resume
            self._show(rgb)
            if analyzer is None:
                self.status.emit("Loading the face models…")
                analyzer = self._load_analyzer()
                self.status.emit("")
                self._apply_requests(analyzer)
            if self._collection is not None:
                self._collection.feed(rgb, self.frames_read)
            elif time.monotonic() - self._last_hint >= HINT_INTERVAL_S:
                self._last_hint = time.monotonic()
                self.verdict.emit(self._hint(analyzer, rgb, self.frames_read))
        if self._collection is not None and self._keep_collection:
            self._end_collection(STOPPED)
        return STOPPED, ""

    def _read(self) -> np.ndarray | None:
        rgb = self.source.read()
        if rgb is not None:
            self.frames_read += 1
        return rgb

    def _show(self, rgb: np.ndarray) -> None:
        now = time.monotonic()
        if now - self._last_shown < self._display_interval:
            return
        self._last_shown = now
        self.frames_shown += 1
        if self.mailbox.put(frame_image(rgb)):
            self.frame_ready.emit()

    def _hint(self, analyzer, rgb: np.ndarray, frame_index: int) -> FrameVerdict:
        started = time.perf_counter()
        faces = analyzer.analyze_rgb(rgb, describe=False, thumbnails=False)
        height, width = rgb.shape[:2]
        hint, _face = frame_hint(faces, width, height, DEFAULT_SELECTION_RULES.hints)
        return FrameVerdict(hint, tuple(faces), frame_index, width, height, 0, 0, (time.perf_counter() - started) * 1000.0)

    def _apply_requests(self, analyzer) -> None:
        with self._lock:
            requests, self._requests = self._requests, []
        for request in requests:
            if request[0] == "start" and self._collection is None:
                _kind, frames, threshold = request
                collector = EnrollmentCollector(analyzer, frames, same_person_threshold=threshold,
                                                on_verdict=self._on_collector_verdict)
                self._collection = _Collection(collector, frames, realtime=self.source.live)
            elif request[0] == "stop" and self._collection is not None:
                self._end_collection(STOPPED)

    def _on_collector_verdict(self, verdict: FrameVerdict) -> None:
        # the collector's analysis thread (live sources) or this one: either way a queued signal
        self.verdict.emit(verdict)

    def _end_collection(self, ended: str, error=None) -> None:
        collection, self._collection = self._collection, None
        assert collection is not None  # called only while a collection runs
        try:
            outcome = collection.outcome(ended, error)
        finally:
            collection.collector.close()
        self.collected.emit(outcome)


class CaptureSession(QObject):
    """One source's worker and thread, as the GUI sees them. `ended` comes once the thread is done."""

    frame = Signal(QImage)
    verdict = Signal(object)
    status = Signal(str)
    opened = Signal(str)
    collected = Signal(object)
    failed = Signal(object)
    ended = Signal(str, str)  # ending, message

    def __init__(self, source, load_analyzer, parent: QObject | None = None, display_fps: float = DISPLAY_FPS):
        super().__init__(parent)
        self.source = source
        self.mailbox = FrameMailbox()
        self.ending: tuple[str, str] | None = None
        self.capture_thread = QThread(self)
        self.capture_thread.setObjectName(f"capture:{source.description}")
        self.worker = CaptureWorker(source, load_analyzer, self.mailbox, display_fps)
        self.worker.moveToThread(self.capture_thread)
        self.capture_thread.started.connect(self.worker.run)
        self.worker.frame_ready.connect(self._on_frame_ready)
        self.worker.verdict.connect(self._on_verdict)
        self.worker.status.connect(self._on_status)
        self.worker.opened.connect(self._on_opened)
        self.worker.collected.connect(self._on_collected)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_worker_finished)
        self.capture_thread.finished.connect(self._on_thread_finished)

    @property
    def running(self) -> bool:
        return self.capture_thread.isRunning()

    def start(self) -> None:
        self.capture_thread.start()

    def stop(self, keep_collection: bool = False) -> None:
        """Ask the loop to end; returns at once (`ended` follows; with keep_collection, `collected` first
        when a collection was under way)."""
        self.worker.request_stop(keep_collection)

    def wait(self, msecs: int = 15_000) -> bool:
        """Block until the thread is done (the window is closing); True if it ended in time.

        The loop ends within one frame read (a camera or stream gives up after its timeouts)
        plus one analysis.
        """
        self.worker.request_stop()
        return self.capture_thread.wait(msecs)

    # relays: bound slots of this GUI-thread object, so the worker's signals arrive queued
    @Slot()
    def _on_frame_ready(self) -> None:
        image = self.mailbox.take()
        if image is not None:
            self.frame.emit(image)

    @Slot(object)
    def _on_verdict(self, verdict) -> None:
        self.verdict.emit(verdict)

    @Slot(str)
    def _on_status(self, text: str) -> None:
        self.status.emit(text)

    @Slot(str)
    def _on_opened(self, description: str) -> None:
        self.opened.emit(description)

    @Slot(object)
    def _on_collected(self, outcome) -> None:
        self.collected.emit(outcome)

    @Slot(object)
    def _on_failed(self, exc) -> None:
        self.failed.emit(exc)

    @Slot(str, str)
    def _on_worker_finished(self, ending: str, message: str) -> None:
        self.ending = (ending, message)

    @Slot()
    def _on_thread_finished(self) -> None:
        # QThread.finished is emitted just BEFORE the thread ends: wait for the end (a moment), so
        # that whoever hears `ended` may delete this session and its QThread
        self.capture_thread.wait()
        ending, message = self.ending or (STOPPED, "")
        self.ended.emit(ending, message)
