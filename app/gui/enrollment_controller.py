"""The webcam enrollment flow for the window: capture session, checks, enroll, undo, results.

A queue of people, one after the other:
1. Open: source_for(spec) on the GUI thread (a malformed spec is refused at once), then a
   CaptureSession whose worker thread opens and reads the source.
2. Start: the worker collects N good, varied frames (the threshold is also the same-person
   bar between them) FOR the user named when Start was pressed: the frames are bound to that
   user, and the panel shows whom they are of. A collection that ends short (video over, camera
   gone, Stop, the source switched or stopped) keeps its frames and says why; the operator may
   enroll them or start again. If the User field names someone else by then, the panel asks.
3. check_enrollment() in the operation runner, before anything is written: whose face it is
   (another user's? the operator is warned) and, for an existing user, whether the user would
   take the frames, asked of the engine's plan (PlanAssociation's rule on the faces the frames
   would index). Frames the user would not take are never stored without the operator's yes:
   when none would be taken the panel says so ("These frames do not look like katy: 11 < 75")
   and offers a new user, storing them anyway, or cancelling; when some would, only those are
   stored.
4. enroll() in the runner; its result becomes ONE EnrollCommand on the window's undo stack, the
   association shows in the results panel as a drag and drop does, and the engine journal
   (hence the JSON report) holds CreateUser, IndexFaces per frame and AssociateFaces. After an
   enrollment that associated faces the User field clears and takes focus for the next person,
   and the panel counts the people enrolled in this sitting.

No backend call runs on the GUI thread: the checks, the enrollment and the undo/redo go through
the window's operation runner; the capture thread loads the analyzer. The capture keeps
previewing during 3 and 4. Closing the panel stops the capture without waiting (the thread ends
within a frame read); closing the window waits for it. An enrollment already under way completes
even when the panel closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.capture.devices import probe_devices
from app.capture.enrollment import FramesDoNotMatch, check_enrollment, enroll
from app.capture.errors import CaptureError
from app.capture.frame_collector import END_OF_STREAM, SOURCE_STOPPED
from app.capture.sources import DeviceSource, FileSource, source_for
from app.core.validation import validate_request

from . import message_boxes
from .association_panel import remembered_threshold
from .association_preview import AssociationRequest
from .capture_worker import CaptureSession
from .curation_jobs import AssociationOutcome
from .enrollment_command import EnrollCommand
from .enrollment_panel import EnrollmentPanel, PanelState
from .settings import KEY_THRESHOLD, app_settings

KEY_SOURCE = "enrollment/source"
KEY_FRAMES = "enrollment/frames"
CLOSE_WAIT_MS = 15_000  # a camera or stream read gives up within its own timeouts (5 s)


@dataclass
class PendingEnrollment:
    """Frames captured for a user, on their way to the checks and enroll()."""

    collection_id: str
    user_id: str  # whom they were captured for (or whom the operator said they show)
    threshold: float
    frames: list
    outcome: object  # the CaptureOutcome


def source_noun(source) -> str:
    """What the operator opened, in words for titles: "video file", "camera" or "stream"."""
    if isinstance(source, FileSource):
        return "video file"
    if isinstance(source, DeviceSource):
        return "camera"
    return "stream"


def _spec_noun(spec: str) -> str:
    """The same, for what was typed (a spec refused before any source was made)."""
    spec = spec.strip()
    if not spec or spec.lstrip("+-").isdigit():
        return "camera"
    return "stream" if "://" in spec else "video file"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _probe(worker=None):
    return probe_devices()


def _check(engine, pending: PendingEnrollment, worker=None):
    return check_enrollment(engine, pending.collection_id, pending.user_id, pending.frames, pending.threshold)


def _enroll(engine, pending: PendingEnrollment, only_matching: bool, worker=None):
    return enroll(engine, pending.collection_id, pending.user_id, pending.frames, pending.threshold,
                  only_matching=only_matching)


class EnrollmentController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.engine = window.engine
        self.runner = window.runner
        self.collection_id: str | None = None
        self.session: CaptureSession | None = None
        self.pending: PendingEnrollment | None = None
        self.owner_box: QMessageBox | None = None
        self.match_box: QMessageBox | None = None  # "these frames do not look like …"
        self.user_box: QMessageBox | None = None  # "these frames were captured for …"
        self.new_user_dialog: QInputDialog | None = None
        self.busy = False  # a check or an enrollment is running
        self.pace_files = True  # False: a video file is read as fast as analysis goes, every frame analysed
        self._collect_on_open: tuple[int, float] | None = None
        self._user_id, self._threshold = "", 0.0  # of the collection in progress
        self._handover: CaptureSession | None = None  # stopped mid-collection: its frames are still to come
        self._transient_status = False  # the status line says what is going on now, not an outcome
        self.sitting: list[EnrollCommand] = []  # this sitting's enrollments (for the count of people)
        self.owner_enroll_button = None
        self.match_new_user_button = None
        self.match_store_button = None
        self.user_field_button = None
        self.user_captured_button = None
        self._stopping: list[CaptureSession] = []  # sessions told to stop whose threads are still ending
        self.panel = EnrollmentPanel(window)
        p = self.panel
        p.add_history_actions(window.act_undo, window.act_redo)
        p.open_requested.connect(self.open_source)
        p.close_source_requested.connect(self.close_source)
        p.find_cameras_requested.connect(self.find_cameras)
        p.start_requested.connect(self.start)
        p.stop_requested.connect(self.stop)
        p.pause_toggled.connect(self._on_pause_toggled)
        p.enroll_captured_requested.connect(self.enroll_captured)
        p.finished.connect(self._on_panel_finished)
        users = window.users_model
        for signal in (users.modelReset, users.rowsInserted, users.rowsRemoved):
            signal.connect(self._sync_users)
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
                self._retire_session(keep_frames=False)
                self.panel.show_status(f"Capture stopped: now enrolling into {collection_id}.")
            self._drop_pending()
            self.collection_id = collection_id
            self.sitting = []
            self.panel.set_sitting([])
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
        self._close_boxes()
        self._collect_on_open = None
        if self.session is not None:
            self._retire_session(keep_frames=False)
        ok = True
        for session in list(self._stopping):
            ok = session.wait(msecs) and ok
        self.panel.close()
        return ok

    def _close_boxes(self) -> None:
        for box in (self.owner_box, self.match_box, self.user_box, self.new_user_dialog):
            if box is not None:
                box.close()

    @Slot(int)
    def _on_panel_finished(self, _result: int) -> None:
        self._close_boxes()  # closing the panel answers "cancel"
        if self.session is not None:
            self._retire_session(keep_frames=False)
        self._collect_on_open = None
        self.panel.set_state(PanelState.ENROLLING if self.busy else PanelState.IDLE)

    @Slot()
    def _sync_users(self) -> None:
        """The panel's user list follows the window's (users created or deleted, here or elsewhere)."""
        w = self.window
        if self.collection_id is not None and w.current_collection() == self.collection_id:
            self.panel.set_users(w.users_model.user_ids())

    # -- the status line -------------------------------------------------------------------------------
    def _status(self, text: str, transient: bool = False) -> None:
        """`transient`: says what is going on now ("Reading …", "Capturing …"), and goes when it stops."""
        self._transient_status = transient
        self.panel.show_status(text)

    def _source_gone(self, hint: str = "") -> None:
        self.panel.source_closed(hint, keep_progress=self.busy or self.pending is not None)
        if self._transient_status and not self.busy:
            self._status("No camera or video open.")

    # -- the source ------------------------------------------------------------------------------------
    @Slot()
    def find_cameras(self) -> None:
        self.panel.set_probing()
        self.runner.run("Looking for cameras", _probe, self._cameras_found, self._cameras_failed, owner=self.panel)

    def _cameras_found(self, devices) -> None:
        self.panel.set_cameras(devices)
        if not devices and not self.panel.status.text():
            self._status("No camera found. Type a camera index, a video file or a stream URL.")

    def _cameras_failed(self, exc) -> None:
        self.panel.set_cameras([])
        self._status(f"Looking for cameras failed: {message_boxes.plain_words(exc)}")

    @Slot(str)
    def open_source(self, spec: str) -> CaptureSession | None:
        """Open `spec` (switching from the source open now, if any) and preview it."""
        p = self.panel
        if self.collection_id is None:
            return None
        try:
            source = source_for(spec, paced=self.pace_files)
        except CaptureError as exc:
            message_boxes.show_error(p, f"Opening the {_spec_noun(spec)}", exc)
            self._status(f"Not started: {exc}")
            self._collect_on_open = None
            return None
        if spec != p.source_spec():  # opened by the program rather than typed: show what is read
            p.set_source_text(spec)
        if self.session is not None:
            self._retire_session(keep_frames=True)
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
        if self._collect_on_open is None:
            self._status(f"Opening {source.description}…", transient=True)
        self._collect_on_open = None
        p.set_source_open(True)
        session.start()
        return session

    @Slot()
    def close_source(self) -> None:
        if self.session is not None:
            self._retire_session(keep_frames=True)
            if not self._handover:
                self._status("Camera stopped.")
        self.panel.set_state(PanelState.ENROLLING if self.busy else PanelState.IDLE)

    def _retire_session(self, keep_frames: bool) -> None:
        """Stop the current session without waiting; it is dropped once its thread has ended.

        keep_frames: a collection under way ends as if stopped, and its frames come back
        (`collected`) to be offered for enrollment, as Stop does; otherwise they are dropped.
        """
        session, self.session = self.session, None
        assert session is not None  # called only with a session open
        collecting = self.panel.state is PanelState.COLLECTING
        if keep_frames and collecting:
            self._handover = session
            self._status(f"Capture stopped: keeping the frames captured so far of {self._user_id}…", transient=True)
        session.stop(keep_collection=keep_frames and collecting)
        session.frame.disconnect(self.panel.show_frame)  # its last frames must not paint over a new source
        self._stopping.append(session)
        self._source_gone("Camera stopped." if collecting else "")

    @Slot(str, str)
    def _on_session_ended(self, ending: str, message: str) -> None:
        session = self.sender()
        if session in self._stopping:
            self._stopping.remove(session)
        if session is self._handover:
            self._handover = None  # it ended without handing frames over (it failed): nothing to wait for
        session.deleteLater()
        if session is not self.session:
            return  # retired earlier: the operator already moved on
        self.session = None
        p = self.panel
        p.set_state(PanelState.ENROLLING if self.busy else PanelState.IDLE)
        # the hint line, not the status line: that one keeps the enrollment's outcome
        noun = source_noun(session.source)
        if ending == END_OF_STREAM:
            self._source_gone(f"The video ended ({message}).")
        elif ending == SOURCE_STOPPED:
            self._source_gone(message)
            message_boxes.show_error(p, f"Reading the {noun}", RuntimeError(message))
        else:
            self._source_gone()

    @Slot(str)
    def _on_opened(self, description: str) -> None:
        if self.sender() is self.session:
            if self.panel.state is PanelState.OPENING:
                self.panel.set_state(PanelState.ENROLLING if self.busy else PanelState.PREVIEW)
            if self.panel.state is not PanelState.COLLECTING and not self.busy:
                self._status(f"Reading {description}.", transient=True)

    @Slot(str)
    def _on_status(self, text: str) -> None:
        if self.sender() is self.session and text and not self.panel.pause_button.isChecked():
            self.panel.show_hint(text)

    @Slot(object)
    def _on_verdict(self, verdict) -> None:
        if self.sender() is self.session:
            self.panel.show_verdict(verdict)

    @Slot(object)
    def _on_failed(self, exc) -> None:
        session = self.sender()
        if session is not self.session:
            return
        noun = source_noun(session.source)
        action = f"Opening the {noun}" if isinstance(exc, CaptureError) else "Capturing frames"
        message_boxes.show_error(self.panel, action, exc)
        self._status(f"{action} failed: {message_boxes.plain_words(exc)}")

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        if self.session is not None:
            self.session.worker.set_paused(paused)

    # -- capturing ---------------------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        p = self.panel
        if p.state is PanelState.COLLECTING and p.pause_button.isChecked():
            p.pause_button.setChecked(False)  # Start while paused resumes
            return
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
        dropped = self.pending
        self._drop_pending()
        self._handover = None
        self._user_id, self._threshold = user_id, threshold
        text = f"Capturing {_plural(frames, 'good frame')} of {user_id}…"
        if dropped is not None:
            text += f" ({_plural(len(dropped.frames), 'captured frame')} of {dropped.user_id} dropped.)"
        self._status(text, transient=True)
        if p.pause_button.isChecked():
            p.pause_button.setChecked(False)
        p.show_capture_user(user_id)
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
        session = self.sender()
        handed_over = session is self._handover and session is not None
        if (session is not self.session and not handed_over) or self.collection_id is None:
            return
        if handed_over:
            self._handover = None
        p = self.panel
        self.pending = PendingEnrollment(self.collection_id, self._user_id, self._threshold, list(outcome.captured),
                                         outcome)
        p.progress.setValue(len(outcome.captured))
        if not handed_over:
            p.set_state(PanelState.PREVIEW)
        if outcome.complete and not handed_over:
            self._check(self.pending)
            return
        text = outcome.message()[0].upper() + outcome.message()[1:] + "."
        if handed_over:
            how = "The camera was stopped" if self.session is None else "The source was switched"
            text = (f"{how} during the capture: {len(outcome.captured)} of {outcome.requested} good frame(s) of "
                    f"{self._user_id} captured.")
        if outcome.captured:
            text += (f" Enroll the {_plural(len(outcome.captured), 'captured frame')} of {self._user_id}, "
                     f"or Start again.")
        else:
            text += " Nothing was enrolled."
            self.pending = None
        self._status(text)
        self._show_waiting()

    def _show_waiting(self) -> None:
        pending = self.pending
        self.panel.set_captured_waiting(len(pending.frames) if pending else 0, pending.user_id if pending else "")

    @Slot()
    def enroll_captured(self) -> None:
        pending = self.pending
        if pending is None or self.busy:
            return
        typed = self.panel.user_id()
        if typed and typed != pending.user_id:
            self._ask_which_user(pending, typed)
            return
        self._check(pending)

    def _ask_which_user(self, pending: PendingEnrollment, typed: str) -> None:
        """The frames were captured for one user and the User field names another: ask, never guess."""
        n = _plural(len(pending.frames), "frame")
        box = QMessageBox(QMessageBox.Icon.Question, "Rekurator",
                          f"These {n} were captured for {pending.user_id}, but the User field says {typed}.",
                          QMessageBox.StandardButton.NoButton, self.panel)
        box.setObjectName("userChangedQuestion")
        box.setInformativeText(f"Whom do they show? Enroll them as {typed}, or as {pending.user_id}?")
        self.user_field_button = box.addButton(f"Enroll as {typed}", QMessageBox.ButtonRole.AcceptRole)
        self.user_captured_button = box.addButton(f"Enroll as {pending.user_id}", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.user_box = box
        box.finished.connect(partial(self._on_user_answer, pending, typed))
        box.open()

    def _on_user_answer(self, pending: PendingEnrollment, typed: str, _result: int) -> None:
        box, self.user_box = self.user_box, None
        if box is None:
            return
        clicked = box.clickedButton()
        box.deleteLater()
        if pending is not self.pending or self.busy:
            return
        if clicked is self.user_field_button:
            try:
                validate_request("CreateUser", {"CollectionId": pending.collection_id, "UserId": typed})
            except Exception as exc:  # noqa: BLE001 - a typed message naming the member
                message_boxes.show_error(self.panel, "Enrolling the captured frames", exc)
                return
            pending.user_id = typed
        elif clicked is self.user_captured_button:
            self.panel.user_combo.setEditText(pending.user_id)
        else:
            self._status(f"Not enrolled yet: {_plural(len(pending.frames), 'frame')} of {pending.user_id} waiting.")
            return
        self._show_waiting()
        self._check(pending)

    def _drop_pending(self) -> None:
        self.pending = None
        self.panel.set_captured_waiting(0)

    # -- checks and enrollment ------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        p = self.panel
        if busy:
            p.set_captured_waiting(0)
            p.set_state(PanelState.ENROLLING)
        else:
            p.set_state(PanelState.PREVIEW if self.session is not None else PanelState.IDLE)

    def _check(self, pending: PendingEnrollment) -> None:
        self._set_busy(True)
        self._status(f"Checking the frames of {pending.user_id} against {pending.collection_id}…", transient=True)
        self.panel.show_capture_user(pending.user_id)
        self.runner.run(f"Checking the frames of {pending.user_id}", partial(_check, self.engine, pending),
                        partial(self._checked, pending), partial(self._enrollment_failed, pending))

    def _checked(self, pending: PendingEnrollment, check) -> None:
        if not check.owner.known_elsewhere:
            self._check_match(pending, check.match)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Rekurator",
                          f"This face already belongs to user {check.owner.other_user_id}.",
                          QMessageBox.StandardButton.NoButton, self.panel)
        box.setObjectName("ownerWarning")
        others = ", ".join(f"{m['UserId']} ({m['Similarity']:.1f})" for m in check.owner.matches)
        box.setInformativeText(f"The captured frames match {others} at threshold {check.owner.threshold:g}. "
                               f"Enroll them as {pending.user_id} anyway?")
        self.owner_enroll_button = box.addButton(f"Enroll as {pending.user_id}", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self._status(f"Not enrolled yet: {check.owner.message()}.")
        self.owner_box = box
        box.finished.connect(partial(self._on_owner_answer, pending, check))
        box.open()

    def _on_owner_answer(self, pending: PendingEnrollment, check, _result: int) -> None:
        box, self.owner_box = self.owner_box, None
        if box is None:
            return
        go = box.clickedButton() is self.owner_enroll_button
        box.deleteLater()
        if go:
            self._check_match(pending, check.match)
            return
        self._set_busy(False)
        self._drop_pending()
        self._status("Not enrolled: cancelled because the face belongs to another user.")

    def _check_match(self, pending: PendingEnrollment, match) -> None:
        """Store only what the user would take (a MatchCheck); when it would take nothing, ask (nothing is
        written yet)."""
        if match.matching:
            self._run_enroll(pending, only_matching=True)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Rekurator", f"{match.message()}.",
                          QMessageBox.StandardButton.NoButton, self.panel)
        box.setObjectName("matchWarning")
        n = _plural(len(pending.frames), "frame")
        box.setInformativeText(f"Nothing has been stored. Enroll the {n} as a new person, store them under "
                               f"{pending.user_id} without associating them, or cancel and pick the right user.")
        self.match_new_user_button = box.addButton("New user…", QMessageBox.ButtonRole.AcceptRole)
        self.match_store_button = box.addButton(f"Store under {pending.user_id} anyway",
                                                QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(self.match_new_user_button)
        self._status(f"Not enrolled yet: {match.message()}.")
        self.match_box = box
        box.finished.connect(partial(self._on_match_answer, pending, match))
        box.open()

    def _on_match_answer(self, pending: PendingEnrollment, match, _result: int) -> None:
        box, self.match_box = self.match_box, None
        if box is None:
            return
        clicked = box.clickedButton()
        box.deleteLater()
        if clicked is self.match_store_button:
            self._run_enroll(pending, only_matching=False)  # the operator's explicit yes
            return
        self._set_busy(False)
        self._show_waiting()  # the frames stay, bound to the user they were captured for
        if clicked is self.match_new_user_button:
            self._ask_new_user(pending)
            return
        self._status(f"Not enrolled: {match.message()}. Pick the right user and enroll the "
                     f"{_plural(len(pending.frames), 'frame')}, or Start again.")

    def _ask_new_user(self, pending: PendingEnrollment) -> None:
        dialog = QInputDialog(self.panel)
        dialog.setObjectName("newUserDialog")
        dialog.setWindowTitle("Enroll as a new user")
        dialog.setLabelText(f"UserId of the person in these {_plural(len(pending.frames), 'frame')}:")
        dialog.setInputMode(QInputDialog.InputMode.TextInput)
        self.new_user_dialog = dialog
        dialog.finished.connect(partial(self._on_new_user, pending))
        dialog.open()

    def _on_new_user(self, pending: PendingEnrollment, result: int) -> None:
        dialog, self.new_user_dialog = self.new_user_dialog, None
        if dialog is None:
            return
        user_id = dialog.textValue().strip()
        dialog.deleteLater()
        if not result or not user_id or pending is not self.pending or self.busy:
            return
        try:
            validate_request("CreateUser", {"CollectionId": pending.collection_id, "UserId": user_id})
        except Exception as exc:  # noqa: BLE001 - a typed message naming the member
            message_boxes.show_error(self.panel, "Enrolling as a new user", exc)
            return
        pending.user_id = user_id
        self.panel.user_combo.setEditText(user_id)
        self._check(pending)  # whoever that is: the same checks again

    def _run_enroll(self, pending: PendingEnrollment, only_matching: bool) -> None:
        self._set_busy(True)
        self._status(f"Enrolling {_plural(len(pending.frames), 'frame')} as {pending.user_id}…", transient=True)
        self.panel.show_capture_user(pending.user_id)
        self.runner.run(f"Enrolling {pending.user_id}", partial(_enroll, self.engine, pending, only_matching),
                        partial(self._enrolled, pending), partial(self._enrollment_failed, pending))

    def _enrolled(self, pending: PendingEnrollment, result) -> None:
        w = self.window
        if result.user_created:
            self.users_changed(result.collection_id, [result.user_id], [])
        if self.pending is pending:
            self.pending = None
        self._set_busy(False)
        if not result.face_ids:  # every frame was taken out again (the workspace changed meanwhile)
            self._status(f"Not enrolled: none of the frames would be associated with {result.user_id} any more; "
                         f"nothing was stored.")
            return
        command = EnrollCommand(self.engine, self, result, result.frames)
        w.undo_stack.push(command)
        request = AssociationRequest(result.collection_id, result.user_id, tuple(result.face_ids), result.threshold, False)
        w.results_panel.show_association(AssociationOutcome(request, result.association))
        w.show_results()
        self.faces_changed(result.collection_id, result.face_ids, [result.user_id])
        n_ok, n_bad = len(result.associated_face_ids), len(result.unsuccessful)
        dropped = ""
        if result.unmatched_frames:
            low = [f["Confidence"] for f in result.unmatched_frames if "Confidence" in f]
            dropped = (f" {_plural(len(result.unmatched_frames), 'frame')} that did not look like {result.user_id}"
                       f"{f' ({max(low):.0f} < {result.threshold:g})' if low else ''} not stored.")
        if result.skipped_frames:
            dropped += f" {_plural(len(result.skipped_frames), 'frame')} not stored (quality)."
        if n_ok == 0:
            # stored on the operator's word, associated with no one: never "Enrolled"
            low = [f["Confidence"] for f in result.unsuccessful if f.get("Confidence") is not None]
            why = f" ({min(low):.0f}–{max(low):.0f} < {result.threshold:g})" if low else ""
            self._status(f"Nothing associated with {result.user_id}: {_plural(len(result.face_ids), 'frame')} stored "
                         f"as unassigned faces{why}.{dropped} Undo (Ctrl+Z) removes them.")
            return
        self.sitting.append(command)
        self._show_sitting()
        self.panel.next_person()
        text = (f"Enrolled {result.user_id}{' (new user)' if result.user_created else ''}: "
                f"{_plural(len(result.face_ids), 'frame')} stored, {n_ok} associated, {n_bad} not associated.{dropped}")
        self._status(text + " Next person: type a name and press Start. Undo (Ctrl+Z) takes this one back.")

    def _show_sitting(self) -> None:
        self.panel.set_sitting(list(dict.fromkeys(c.user_id for c in self.sitting if not c.undone)))

    def _enrollment_failed(self, pending: PendingEnrollment, exc) -> None:
        if isinstance(exc, FramesDoNotMatch):  # the workspace changed since the check: ask again
            self._check_match(pending, exc.check)
            return
        self._set_busy(False)
        self._status(f"Not enrolled: {message_boxes.plain_words(exc)}")
        self._show_waiting()
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
        self._sync_users()

    def enrollment_undone(self, command: EnrollCommand, undone: bool) -> None:
        """After the window's Undo (or Redo) of an enrollment: the panel and the Results panel say so."""
        w = self.window
        if undone:
            w.results_panel.show_deletion(command.collection_id,
                                          {"DeletedFaces": list(command.face_ids), "UnsuccessfulFaceDeletions": []})
            self._status(f"Undone: {command.text()} (its faces and photos erased"
                         f"{', and the user' if command.user_created else ''}). Redo (Ctrl+Shift+Z) puts it back.")
        else:
            request = AssociationRequest(command.collection_id, command.user_id, tuple(command.face_ids),
                                         command.threshold, False)
            w.results_panel.show_association(AssociationOutcome(request, command.association))
            self._status(f"Redone: {command.text()}.")
        if command in self.sitting:
            self._show_sitting()

    def command_failed(self, action: str, error: Exception) -> None:
        self.window.report_error(action, error)
