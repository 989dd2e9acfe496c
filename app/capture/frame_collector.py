"""Running frame selection beside a capture loop, and the capture loop itself.

EnrollmentCollector is what a capture worker (a GUI QThread, the CLI) feeds:
- submit(rgb) returns at once: the frame is handed to the collector's analysis thread when
  that thread is idle, and dropped (counted in `dropped`) when it is busy. Frames are never
  queued, so analysis runs at whatever rate the CPU allows and always on a recent frame.
- process(rgb) analyses on the caller's thread and returns the verdict (files, tests).
Each verdict goes to `on_verdict` (called on the analysis thread; a Qt worker re-emits it as a
signal) and is kept as `last_verdict`. An analysis error stops the collector: it goes to
`on_error` and is raised again by the next submit().

capture_frames() is the whole loop for a FrameSource: read, hand over, stop when N frames are
kept, the source ends or stops, a time or frame budget runs out, or should_stop() says so.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD

from .errors import CaptureError, SourceStoppedError
from .frame_hints import FrameHint
from .frame_selection import (
    DEFAULT_FRAMES,
    DEFAULT_SELECTION_RULES,
    CapturedFrame,
    FrameSelector,
    FrameVerdict,
    SelectionRules,
    as_rgb_frame,
)


class EnrollmentCollector:
    def __init__(self, analyzer, frames: int = DEFAULT_FRAMES, *,
                 same_person_threshold: float = DEFAULT_USER_MATCH_THRESHOLD,
                 rules: SelectionRules = DEFAULT_SELECTION_RULES,
                 on_verdict: Callable[[FrameVerdict], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None):
        self.selector = FrameSelector(analyzer, frames, same_person_threshold, rules)
        self.on_verdict = on_verdict
        self.on_error = on_error
        self.last_verdict: FrameVerdict | None = None
        self.error: BaseException | None = None
        self.analysed = 0
        self.dropped = 0
        self.hint_counts: Counter = Counter()  # hint code -> frames
        self._lock = threading.Condition()
        self._analysis = threading.Lock()  # one consider() at a time, whichever thread calls it
        self._pending: tuple[np.ndarray, int, float] | None = None  # (rgb, frame index, time captured)
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- state -------------------------------------------------------------------------------
    @property
    def target(self) -> int:
        return self.selector.target

    @property
    def done(self) -> bool:
        return self.selector.done

    @property
    def captured(self) -> list[CapturedFrame]:
        with self._analysis:
            return self.selector.captured

    @property
    def busy(self) -> bool:
        return self._busy

    def reset(self) -> None:
        """Forget the kept frames (another person, or the operator starts over)."""
        with self._analysis:
            self.selector.reset()

    # -- feeding -----------------------------------------------------------------------------
    def submit(self, rgb, frame_index: int = 0) -> bool:
        """Hand a frame to the analysis thread; False (frame dropped) when it is busy or done."""
        rgb = as_rgb_frame(rgb)
        with self._lock:
            if self.error is not None:
                raise self.error
            if self._closed:
                raise CaptureError("the enrollment collector is closed")
            if self._busy or self.selector.done:
                self.dropped += 1
                return False
            # a copy: the capture side may reuse its buffer while this frame is analysed
            self._pending = (np.array(rgb, copy=True), frame_index, time.time())
            self._busy = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="enrollment-analysis", daemon=True)
                self._thread.start()
            self._lock.notify_all()
        return True

    def process(self, rgb, frame_index: int = 0) -> FrameVerdict:
        """Analyse on this thread and return the verdict."""
        with self._analysis:
            verdict = self.selector.consider(rgb, frame_index)
        self._deliver(verdict)
        return verdict

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no frame is being analysed; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._busy, timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the analysis thread (a frame being analysed is finished first)."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the analysis thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                rgb, frame_index, captured_at = self._pending
                self._pending = None
            try:
                with self._analysis:
                    verdict = self.selector.consider(rgb, frame_index, captured_at)
            except BaseException as exc:  # reported, and the collector stops taking frames
                with self._lock:
                    self.error = exc
                    self._busy = False
                    self._lock.notify_all()
                if self.on_error is not None:
                    self.on_error(exc)
                return
            try:
                self._deliver(verdict)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _deliver(self, verdict: FrameVerdict) -> None:
        self.analysed += 1
        self.hint_counts[verdict.hint.code] += 1
        self.last_verdict = verdict
        if self.on_verdict is not None:
            self.on_verdict(verdict)


# How a capture ended
COMPLETE = "complete"
END_OF_STREAM = "end_of_stream"
SOURCE_STOPPED = "source_stopped"
TIME_LIMIT = "time_limit"
FRAME_LIMIT = "frame_limit"
STOPPED = "stopped"

_ENDINGS = {
    COMPLETE: "enough good frames",
    END_OF_STREAM: "the video ended",
    SOURCE_STOPPED: "the source stopped",
    TIME_LIMIT: "the time limit ran out",
    FRAME_LIMIT: "the frame limit was reached",
    STOPPED: "capture was stopped",
}


@dataclass
class CaptureOutcome:
    captured: list[CapturedFrame]
    requested: int
    ended: str  # COMPLETE, END_OF_STREAM, SOURCE_STOPPED, TIME_LIMIT, FRAME_LIMIT or STOPPED
    frames_read: int
    frames_analysed: int
    frames_dropped: int
    elapsed_s: float
    hint_counts: dict = field(default_factory=dict)  # hint code -> analysed frames
    error: CaptureError | None = None  # the SourceStoppedError when ended == SOURCE_STOPPED

    @property
    def complete(self) -> bool:
        return len(self.captured) >= self.requested

    def message(self) -> str:
        """One plain-language line on how the capture went."""
        text = (f"{_ENDINGS[self.ended]} after {self.frames_read} frame(s): "
                f"{len(self.captured)} of {self.requested} good frame(s) captured")
        if self.error is not None:
            text += f" ({self.error})"
        misses = [(code, n) for code, n in sorted(self.hint_counts.items(), key=lambda kv: -kv[1])
                  if code not in (FrameHint.GOOD.code, FrameHint.DONE.code)]
        if not self.complete and misses:
            labels = {h.code: h.text for h in FrameHint}
            text += "; most often: " + ", ".join(f"{labels[code]} ({n})" for code, n in misses[:3])
        return text


def capture_frames(source, analyzer, frames: int = DEFAULT_FRAMES, *,
                   same_person_threshold: float = DEFAULT_USER_MATCH_THRESHOLD,
                   rules: SelectionRules = DEFAULT_SELECTION_RULES,
                   max_seconds: float | None = None, max_frames: int | None = None, realtime: bool | None = None,
                   on_verdict: Callable[[FrameVerdict], None] | None = None,
                   on_frame: Callable[[np.ndarray, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, clock: Callable[[], float] = time.monotonic
                   ) -> CaptureOutcome:
    """Read `source` until `frames` good, varied frames of one face are kept (or it ends).

    realtime (default: source.live) analyses beside the reading and drops frames while busy;
    otherwise every frame is analysed in turn. on_frame(rgb, frame_index) sees every frame read
    (on this thread: a preview), on_verdict every analysed one (on the analysis thread when
    realtime). A source that is not open is opened here and
    closed before returning; an open one is left open. A source that stops mid-way ends the
    capture (ended=SOURCE_STOPPED, error set) with the frames kept until then.
    SourceUnavailableError (nothing could be read) and analysis errors are raised.
    """
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    realtime = source.live if realtime is None else realtime
    collector = EnrollmentCollector(analyzer, frames, same_person_threshold=same_person_threshold, rules=rules,
                                    on_verdict=on_verdict)
    owned = not source.is_open
    started = clock()
    ended, error, read = None, None, 0
    try:
        if owned:
            source.open()
        while ended is None:
            if collector.done:
                ended = COMPLETE
            elif should_stop is not None and should_stop():
                ended = STOPPED
            elif max_seconds is not None and clock() - started >= max_seconds:
                ended = TIME_LIMIT
            elif max_frames is not None and read >= max_frames:
                ended = FRAME_LIMIT
            else:
                try:
                    rgb = source.read()
                except SourceStoppedError as exc:
                    ended, error = SOURCE_STOPPED, exc
                    break
                if rgb is None:
                    ended = END_OF_STREAM
                    break
                read += 1
                if on_frame is not None:
                    on_frame(rgb, read)
                if realtime:
                    collector.submit(rgb, read)
                else:
                    collector.process(rgb, read)
        if realtime:
            collector.wait_idle()  # the frame in analysis may be the one that completes the set
            if collector.error is not None:
                raise collector.error
        if collector.done:
            ended, error = COMPLETE, None  # how the source ended no longer matters
    finally:
        collector.close()
        if owned:
            source.close()
    return CaptureOutcome(collector.captured, frames, ended, read, collector.analysed, collector.dropped,
                          clock() - started, dict(collector.hint_counts), error)
