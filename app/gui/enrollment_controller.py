"""The webcam enrollment flow for the window: capture session, owner check, enroll, undo, results.

1. Open: source_for(spec) on the GUI thread (a malformed spec is refused at once), then a
   CaptureSession whose worker thread opens and reads the source.
2. Start: the worker collects N good, varied frames (the threshold is also the same-person
   bar between them). A collection that ends short (video over, camera gone, Stop) keeps its
   frames and says why; the operator may enroll them or start again.
3. owner_check in a Task: when the face already belongs to another user the operator is told
   so BEFORE anything is written, and chooses to enroll anyway or cancel.
4. enroll() in a Task; its result becomes ONE EnrollCommand on the window's undo stack, the
   association shows in the results panel as a drag and drop does, and the engine journal
   (hence the JSON report) holds CreateUser, IndexFaces per frame and AssociateFaces.

The capture keeps previewing during 3 and 4. Closing the panel stops the capture without
waiting (the thread ends within a frame read); closing the window waits for it. Check and
enroll Tasks belong to the window's TaskList, so an enrollment already under way completes
even when the panel closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QMessageBox

from app.capture.devices import probe_devices
from app.capture.enrollment import enroll, owner_check
from app.capture.errors import CaptureError
from app.capture.frame_collector import END_OF_STREAM, SOURCE_STOPPED
from app.capture.sources import source_for
from app.core.validation import validate_request

from . import message_boxes
from .association_panel import remembered_threshold
from .association_preview import AssociationRequest
from .capture_worker import CaptureSession
from .curation_jobs import AssociationOutcome
from .enrollment_command import EnrollCommand
from .enrollment_panel import EnrollmentPanel, PanelState
from .settings import KEY_THRESHOLD, app_settings
from .workers import Task

KEY_SOURCE = "enrollment/source"
KEY_FRAMES = "enrollment/frames"
CLOSE_WAIT_MS = 15_000  # a camera or stream read gives up within its own timeouts (5 s)


@dataclass
class PendingEnrollment:
    """Frames captured for a user, on their way to the owner check and enroll()."""

    collection_id: str
    user_id: str
    threshold: float
    frames: list
    outcome: object  # the CaptureOutcome


def _probe(worker=None):
    return probe_devices()


def _owner_check(engine, pending: PendingEnrollment, worker=None):
    return owner_check(engine, pending.collection_id, pending.user_id, pending.frames, pending.threshold)


def _enroll(engine, pending: PendingEnrollment, worker=None):
    return enroll(engine, pending.collection_id, pending.user_id, pending.frames, pending.threshold)


class EnrollmentController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.engine = window.engine
        self.collection_id: str | None = None
        self.session: CaptureSession | None = None
        self.pending: PendingEnrollment | None = None
        self.owner_box: QMessageBox | None = None
        self.busy = False  # an owner check or enrollment Task is running
        self.pace_files = True  # False: a video file is read as fast as analysis goes, every frame analysed
        self._collect_on_open: tuple[int, float] | None = None
        self._user_id, self._threshold = "", 0.0  # of the collection in progress
        self._owner_pending: PendingEnrollment | None = None
        self.owner_enroll_button = None
        self._stopping: list[CaptureSession] = []  # sessions told to stop whose threads are still ending
        self.panel = EnrollmentPanel(window)
        p = self.panel
        p.open_requested.connect(self.open_source)
        p.close_source_requested.connect(self.close_source)
        p.find_cameras_requested.connect(self.find_cameras)
        p.start_requested.connect(self.start)
        p.stop_requested.connect(self.stop)
        p.pause_toggled.connect(self._on_pause_toggled)
        p.enroll_captured_requested.connect(self.enroll_captured)
        p.finished.connect(self._on_panel_finished)
        s = app_settings()
        p.set_source_text(str(s.value(KEY_SOURCE, "") or ""))
        try:
            p.frames.setValue(int(s.value(KEY_FRAMES, p.frames.value())))
        except (TypeError, ValueError):
            pass
        window.installEventFilter(self)

    # -- opening and closing ---------------------------------------------------------------------------
    def open_panel(self, collection_id: str | None) -> EnrollmentPanel | None:
        w = self.window
        if collection_id is None:
            w.statusBar().showMessage("Create or select a collection to enroll into first.", 5000)
            return None
        if collection_id != self.collection_id:
            if self.session is not None:
                self._retire_session()
                self.panel.show_status(f"Capture stopped: now enrolling into {collection_id}.")
            self._drop_pending()
            self.collection_id = collection_id
        p = self.panel
        p.set_collection(collection_id)
        users = w.users_model.user_ids() if w.current_collection() == collection_id else []
        p.set_users(users, w.current_user() if users else None)
        if self.session is None and not self.busy:
            p.threshold.setValue(remembered_threshold())
        if p.isVisible():  # behind the window: bring it forward (a window being shown comes up in front)
            p.raise_()
            p.activateWindow()
        else:
            p.show()
        if p.source_combo.count() == 0 and p.find_button.isEnabled():
            self.find_cameras()
        return p

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    def shutdown(self, msecs: int = CLOSE_WAIT_MS) -> bool:
        """The window is closing: stop every capture and wait for its thread; True if all ended."""
        if self.owner_box is not None:
            self.owner_box.close()
        self._collect_on_open = None
        if self.session is not None:
            self._retire_session()
        ok = True
        for session in list(self._stopping):
            ok = session.wait(msecs) and ok
        self.panel.close()
        return ok

    @Slot(int)
    def _on_panel_finished(self, _result: int) -> None:
        if self.owner_box is not None:
            self.owner_box.close()  # closing the panel answers "cancel"
        if self.session is not None:
            self._retire_session()
        self._collect_on_open = None
        self.panel.set_state(PanelState.ENROLLING if self.busy else PanelState.IDLE)

    # -- the source ------------------------------------------------------------------------------------
    @Slot()
    def find_cameras(self) -> None:
        self.panel.set_probing()
        task = Task(_probe, "Looking for cameras", None, self.window)
        task.succeeded.connect(self._cameras_found)
        task.failed.connect(self._cameras_failed)
        self.window.tasks.start(task)

    @Slot(object)
    def _cameras_found(self, devices) -> None:
        self.panel.set_cameras(devices)
        if not devices and not self.panel.status.text():
            self.panel.show_status("No camera found. Type a camera index, a video file or a stream URL.")

    @Slot(object)
    def _cameras_failed(self, exc) -> None:
        self.panel.set_cameras([])
        self.panel.show_status(f"Looking for cameras failed: {message_boxes.plain_words(exc)}")

    @Slot(str)
    def open_source(self, spec: str) -> CaptureSession | None:
        """Open `spec` (switching from the source open now, if any) and preview it."""
        p = self.panel
        if self.collection_id is None:
            return None
        try:
            source = source_for(spec, paced=self.pace_files)
        except CaptureError as exc:
            message_boxes.show_error(p, "Opening the camera", exc)
            p.show_status(f"Not started: {exc}")
            self._collect_on_open = None
            return None
        if spec != p.source_spec():  # opened by the program rather than typed: show what is read
            p.set_source_text(spec)
        if self.session is not None:
            self._retire_session()
        app_settings().setValue(KEY_SOURCE, spec)
        session = CaptureSession(source, partial(self.engine.analyzer_for_collection, self.collection_id), self)
        session.frame.connect(p.show_frame)
        session.verdict.connect(self._on_verdict)
        session.status.connect(self._on_status)
        session.opened.connect(self._on_opened)
        session.collected.connect(self._on_collected)
        session.failed.connect(self._on_failed)
        session.ended.connect(self._on_session_ended)
        self.session = session
        if self._collect_on_open is not None:
            session.worker.start_collecting(*self._collect_on_open)
        p.set_state(PanelState.COLLECTING if self._collect_on_open else PanelState.OPENING)
        self._collect_on_open = None
        p.show_status(f"Opening {source.description}…")
        session.start()
        return session

    @Slot()
    def close_source(self) -> None:
        if self.session is not None:
            self._retire_session()
            self.panel.show_status("Camera stopped.")
        self.panel.set_state(PanelState.ENROLLING if self.busy else PanelState.IDLE)

    def _retire_session(self) -> None:
        """Stop the current session without waiting; it is dropped once its thread has ended."""
        session, self.session = self.session, None
        assert session is not None  # called only with a session open
        session.stop()
        session.frame.disconnect(self.panel.show_frame)  # its last frames must not paint over a new source
        self._stopping.append(session)
        self.panel.source_closed()

    @Slot(str, str)
    def _on_session_ended(self, ending: str, message: str) -> None:
        session = self.sender()
        if session in self._stopping:
            self._stopping.remove(session)
        session.deleteLater()
        if session is not self.session:
            return  # retired earlier: the operator already moved on
        self.session = None
        p = self.panel
        p.source_closed()
        p.set_state(PanelState.ENROLLING if self.busy else PanelState.IDLE)
        # the hint line, not the status line: that one keeps the enrollment's outcome
        if ending == END_OF_STREAM:
            p.show_hint(f"The video ended ({message}).")
        elif ending == SOURCE_STOPPED:
            p.show_hint(message)
            message_boxes.show_error(p, "Reading the camera", RuntimeError(message))
        else:
            p.show_hint("")

    @Slot(str)
    def _on_opened(self, description: str) -> None:
        if self.sender() is self.session:
            if self.panel.state is PanelState.OPENING:
                self.panel.set_state(PanelState.ENROLLING if self.busy else PanelState.PREVIEW)
            self.panel.show_status(f"Reading {description}.")

    @Slot(str)
    def _on_status(self, text: str) -> None:
        if self.sender() is self.session and text:
            self.panel.show_hint(text)

    @Slot(object)
    def _on_verdict(self, verdict) -> None:
        if self.sender() is self.session:
            self.panel.show_verdict(verdict)

    @Slot(object)
    def _on_failed(self, exc) -> None:
        if self.sender() is not self.session:
            return
        action = "Opening the camera" if isinstance(exc, CaptureError) else "Capturing frames"
        message_boxes.show_error(self.panel, action, exc)
        self.panel.show_status(f"{action} failed: {message_boxes.plain_words(exc)}")

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        if self.session is not None:
            self.session.worker.set_paused(paused)

    # -- capturing ---------------------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        p = self.panel
        if self.busy or self.collection_id is None:
            return
        user_id = p.user_id()
        try:
            if not user_id:
                raise ValueError("Pick a user or type a new UserId to enroll.")
            validate_request("CreateUser", {"CollectionId": self.collection_id, "UserId": user_id})
        except Exception as exc:  # noqa: BLE001 - a typed message naming the member
            message_boxes.show_error(p, "Starting the enrollment", exc)
            return
        threshold, frames = float(p.threshold.value()), int(p.frames.value())
        s = app_settings()
        s.setValue(KEY_THRESHOLD, threshold)  # shared with the association preview
        s.setValue(KEY_FRAMES, frames)
        self._drop_pending()
        self._user_id, self._threshold = user_id, threshold
        p.show_status(f"Capturing {frames} good frame(s) of {user_id}…")
        if self.session is None:
            self._collect_on_open = (frames, threshold)
            self.open_source(p.source_spec())
            return
        self.session.worker.start_collecting(frames, threshold)
        p.set_state(PanelState.COLLECTING)

    @Slot()
    def stop(self) -> None:
        if self.session is not None and self.panel.state is PanelState.COLLECTING:
            self.session.worker.stop_collecting()

    @Slot(object)
    def _on_collected(self, outcome) -> None:
        if self.sender() is not self.session or self.collection_id is None:
            return
        p = self.panel
        self.pending = PendingEnrollment(self.collection_id, self._user_id, self._threshold, list(outcome.captured),
                                         outcome)
        p.progress.setValue(len(outcome.captured))
        p.set_state(PanelState.PREVIEW)
        if outcome.complete:
            self._check_owner()
            return
        text = outcome.message()[0].upper() + outcome.message()[1:] + "."
        if outcome.captured:
            text += f" Enroll the {len(outcome.captured)} captured frame(s), or Start again."
        else:
            text += " Nothing was enrolled."
            self.pending = None
        p.show_status(text)
        p.set_captured_waiting(len(self.pending.frames) if self.pending else 0)

    @Slot()
    def enroll_captured(self) -> None:
        if self.pending is not None and not self.busy:
            self._check_owner()

    def _drop_pending(self) -> None:
        self.pending = None
        self.panel.set_captured_waiting(0)

    # -- owner check and enrollment ------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        p = self.panel
        if busy:
            p.set_captured_waiting(0)
            p.set_state(PanelState.ENROLLING)
        else:
            p.set_state(PanelState.PREVIEW if self.session is not None else PanelState.IDLE)

    def _task_context(self) -> PendingEnrollment:
        """The pending enrollment of the Task whose signal is being handled."""
        task = self.sender()
        assert isinstance(task, Task)
        return task.context

    def _check_owner(self) -> None:
        pending = self.pending
        assert pending is not None  # frames are waiting to be enrolled
        self._set_busy(True)
        self.panel.show_status(f"Checking whether this face already belongs to another user of "
                               f"{pending.collection_id}…")
        task = Task(partial(_owner_check, self.engine, pending), f"Checking the face for {pending.user_id}", pending,
                    self.window)
        task.succeeded.connect(self._owner_checked)
        task.failed.connect(self._enrollment_failed)
        self.window.tasks.start(task)

    @Slot(object)
    def _owner_checked(self, check) -> None:
        pending = self._task_context()
        if not check.known_elsewhere:
            self._run_enroll(pending)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Rekurator",
                          f"This face already belongs to user {check.other_user_id}.", QMessageBox.StandardButton.NoButton,
                          self.panel)
        box.setObjectName("ownerWarning")
        others = ", ".join(f"{m['UserId']} ({m['Similarity']:.1f})" for m in check.matches)
        box.setInformativeText(f"The captured frames match {others} at threshold {check.threshold:g}. "
                               f"Enroll them as {pending.user_id} anyway?")
        self.owner_enroll_button = box.addButton(f"Enroll as {pending.user_id}", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.panel.show_status(f"Not enrolled yet: {check.message()}.")
        self.owner_box = box
        self._owner_pending = pending
        box.finished.connect(self._on_owner_answer)
        box.open()

    @Slot(int)
    def _on_owner_answer(self, _result: int) -> None:
        box, self.owner_box = self.owner_box, None
        pending, self._owner_pending = self._owner_pending, None
        if box is None:
            return
        go = box.clickedButton() is self.owner_enroll_button
        box.deleteLater()
        if go and pending is not None:
            self._run_enroll(pending)
            return
        self._set_busy(False)
        self._drop_pending()
        self.panel.show_status("Not enrolled: cancelled because the face belongs to another user.")

    def _run_enroll(self, pending: PendingEnrollment) -> None:
        self._set_busy(True)
        self.panel.show_status(f"Enrolling {len(pending.frames)} frame(s) as {pending.user_id}…")
        task = Task(partial(_enroll, self.engine, pending), f"Enrolling {pending.user_id}", pending, self.window)
        task.succeeded.connect(self._enrolled)
        task.failed.connect(self._enrollment_failed)
        self.window.tasks.start(task)

    @Slot(object)
    def _enrolled(self, result) -> None:
        pending = self._task_context()
        w = self.window
        if result.user_created:
            self.users_changed(result.collection_id, [result.user_id], [])
        w.undo_stack.push(EnrollCommand(self.engine, self, result, pending.frames))
        request = AssociationRequest(result.collection_id, result.user_id, tuple(result.face_ids), result.threshold, False)
        w.results_panel.show_association(AssociationOutcome(request, result.association))
        w.show_results()
        self.faces_changed(result.collection_id, result.face_ids, [result.user_id])
        if self.pending is pending:
            self.pending = None
        self._set_busy(False)
        n_ok, n_bad = len(result.associated_face_ids), len(result.unsuccessful)
        text = (f"Enrolled {result.user_id}{' (new user)' if result.user_created else ''}: "
                f"{len(result.face_ids)} frame(s) stored, {n_ok} associated, {n_bad} not associated")
        if result.skipped_frames:
            text += f", {len(result.skipped_frames)} frame(s) not stored (quality)"
        self.panel.show_status(text + ". Undo (Ctrl+Z) takes it all back.")

    @Slot(object)
    def _enrollment_failed(self, exc) -> None:
        pending = self._task_context()
        self._set_busy(False)
        self.panel.show_status(f"Not enrolled: {message_boxes.plain_words(exc)}")
        self.panel.set_captured_waiting(len(pending.frames) if self.pending is pending else 0)
        # enroll() may have stored faces before failing (see its docstring): show what is there now
        self.users_changed(pending.collection_id, [pending.user_id], [])
        self.window.report_error(f"Enrolling {pending.user_id}", exc)
        self.window.workspace.reload_faces()

    # -- the undo command's sink -----------------------------------------------------------------------------
    def faces_changed(self, collection_id: str, face_ids, user_ids) -> None:
        self.window.workspace.faces_changed(collection_id, list(face_ids), list(user_ids))

    def users_changed(self, collection_id: str, created, deleted) -> None:
        w = self.window
        if collection_id != w.current_collection():
            return
        for user_id in deleted:
            w.users_model.remove(user_id)
        if any(u not in w.users_model.user_ids() for u in created):
            w.workspace.reread_users()  # in the background: the new user and its place in ListUsers' order

    def command_failed(self, action: str, error: Exception) -> None:
        self.window.report_error(action, error)
