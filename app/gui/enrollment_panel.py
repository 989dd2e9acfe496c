"""The webcam enrollment panel: source, live preview with the operator's hint, and the controls.

The panel only shows things and says what the operator asked for (signals); the flow (capture
session, checks, enrollment, undo) is EnrollmentController's. States:
IDLE (no source open), OPENING, PREVIEW (source open), COLLECTING, ENROLLING (checking whose
face it is, or storing it). Pause applies while a source is open.

The window's Undo and Redo (Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y) work here too (add_history_actions);
in a text field they undo the typing first, while there is typing to undo.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QImage, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
)

from app.capture.frame_hints import FrameHint
from app.capture.frame_selection import DEFAULT_FRAMES
from app.core.association_plan import MAX_FACES_PER_USER

from .frame_preview import FramePreview

VIDEO_FILTER = "Videos (*.avi *.mp4 *.mkv *.mov *.webm *.mjpg *.m4v);;All files (*)"
PAUSED_HINT = "Paused — press Resume or Start to go on."


def _history_key(event: QKeyEvent) -> str | None:
    """"undo" or "redo" for the window's history shortcuts, else None."""
    if event.matches(QKeySequence.StandardKey.Undo):
        return "undo"
    if event.matches(QKeySequence.StandardKey.Redo):
        return "redo"
    combo = event.keyCombination()
    mods = combo.keyboardModifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if combo.key() == Qt.Key.Key_Z and mods == (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
        return "redo"
    if combo.key() == Qt.Key.Key_Y and mods == Qt.KeyboardModifier.ControlModifier:
        return "redo"
    return None


class PanelState(Enum):
    IDLE = "idle"
    OPENING = "opening"
    PREVIEW = "preview"
    COLLECTING = "collecting"
    ENROLLING = "enrolling"


class EnrollmentPanel(QDialog):
    open_requested = Signal(str)  # the source as typed or picked
    close_source_requested = Signal()
    find_cameras_requested = Signal()
    start_requested = Signal()
    stop_requested = Signal()
    pause_toggled = Signal(bool)
    enroll_captured_requested = Signal()
    hint_changed = Signal(str)  # the hint text shown, each time it changes

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("enrollmentPanel")
        self.setWindowTitle("Enroll from camera")
        self.setModal(False)
        self.state = PanelState.IDLE

        self.title = QLabel()
        self.title.setObjectName("enrollTitle")
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("sourceCombo")
        self.source_combo.setEditable(True)
        self.source_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.source_combo.setAccessibleName("Camera, video file or stream URL")
        self.source_combo.lineEdit().setPlaceholderText("camera index (0, 1, …), video file or rtsp:// URL")
        self.source_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.setObjectName("browseButton")
        self.find_button = QPushButton("&Find cameras")
        self.find_button.setObjectName("findCamerasButton")
        self.open_button = QPushButton("&Open")
        self.open_button.setObjectName("openButton")
        self.close_source_button = QPushButton("Stop ca&mera")
        self.close_source_button.setObjectName("closeSourceButton")

        self.preview = FramePreview()
        self.hint_label = QLabel("Open a camera or a video to see the picture.")
        self.hint_label.setObjectName("hintLabel")
        self.hint_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.hint_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.hint_label.setFont(font)
        self.progress = QProgressBar()
        self.progress.setObjectName("captureProgress")
        self.progress.setFormat("%v / %m good frames")
        self.progress.setRange(0, DEFAULT_FRAMES)
        self.progress.setValue(0)
        self.fps_label = QLabel()
        self.fps_label.setObjectName("fpsLabel")

        self.user_combo = QComboBox()
        self.user_combo.setObjectName("userCombo")
        self.user_combo.setEditable(True)
        self.user_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.user_combo.setAccessibleName("User to enroll")
        self.user_combo.lineEdit().setPlaceholderText("pick a user or type a new UserId")
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("thresholdSpin")
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setDecimals(1)
        self.threshold.setSingleStep(1.0)
        self.threshold.setAccessibleName("User match threshold")
        self.frames = QSpinBox()
        self.frames.setObjectName("framesSpin")
        self.frames.setRange(1, MAX_FACES_PER_USER)
        self.frames.setValue(DEFAULT_FRAMES)
        self.frames.setAccessibleName("Good frames to capture")

        self.start_button = QPushButton("&Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("&Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton("S&top")
        self.stop_button.setObjectName("stopButton")
        self.enroll_captured_button = QPushButton("&Enroll captured frames")
        self.enroll_captured_button.setObjectName("enrollCapturedButton")
        self.sitting_label = QLabel()
        self.sitting_label.setObjectName("sittingLabel")
        self.sitting_label.setAccessibleName("People enrolled in this sitting")
        self.status = QLabel()
        self.status.setObjectName("enrollStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)

        source_row = QHBoxLayout()
        source_row.addWidget(self.source_combo, 1)
        for b in (self.browse_button, self.find_button, self.open_button, self.close_source_button):
            source_row.addWidget(b)
        form = QFormLayout()
        # every label names its field with a mnemonic (a label given as text to a row of several
        # widgets would show its "&" instead)
        form.addRow(self._label("&Camera or video:", self.source_combo, "sourceLabel"), source_row)
        form.addRow(self._label("&User:", self.user_combo, "userLabel"), self.user_combo)
        settings_row = QHBoxLayout()
        settings_row.addWidget(self.threshold)
        settings_row.addWidget(self._label("Fr&ames:", self.frames, "framesLabel"))
        settings_row.addWidget(self.frames)
        settings_row.addStretch(1)
        settings_row.addWidget(self.sitting_label)
        form.addRow(self._label("Match t&hreshold:", self.threshold, "thresholdLabel"), settings_row)
        controls = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.enroll_captured_button):
            controls.addWidget(b)
        controls.addStretch(1)
        controls.addWidget(self.fps_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.progress)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(760, 720)

        self.browse_button.clicked.connect(self._on_browse)
        self.find_button.clicked.connect(self.find_cameras_requested)
        self.open_button.clicked.connect(self._on_open)
        self.source_combo.lineEdit().returnPressed.connect(self._on_open)
        self.close_source_button.clicked.connect(self.close_source_requested)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.enroll_captured_button.clicked.connect(self.enroll_captured_requested)
        self.frames.valueChanged.connect(self._on_frames_changed)
        self.user_combo.editTextChanged.connect(self._update_enabled)
        self.source_combo.editTextChanged.connect(self._update_enabled)
        for edit in (self.source_combo, self.user_combo, self.threshold, self.frames):
            edit.installEventFilter(self)
            for child in edit.findChildren(QLineEdit):
                child.installEventFilter(self)
        self._capture_user = ""  # whom the frames being captured (or waiting) are of
        self.source_open = False  # a camera or video is open (set by the controller)
        self.set_state(PanelState.IDLE)
        self.set_captured_waiting(0)
        self.set_sitting([])

    def _label(self, text: str, buddy, name: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName(name)
        label.setBuddy(buddy)
        return label

    def add_history_actions(self, undo: QAction, redo: QAction) -> None:
        """The window's Undo and Redo, so that their shortcuts work while this panel is the active window."""
        self.addActions([undo, redo])

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # A text field claims Ctrl+Z for its own typing, even with nothing typed to undo; then the
        # window's Undo (the enrollment) gets it
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            which = _history_key(event)
            if which is not None:
                edit = obj if isinstance(obj, QLineEdit) else obj.findChild(QLineEdit)
                own = edit is not None and (edit.isUndoAvailable() if which == "undo" else edit.isRedoAvailable())
                if not own:
                    event.ignore()
                    return True
        return super().eventFilter(obj, event)

    # -- what the operator entered -------------------------------------------------------------------
    def source_spec(self) -> str:
        """The picked camera's index, or the text as typed (file path, URL, index)."""
        text = self.source_combo.currentText().strip()
        i = self.source_combo.currentIndex()
        if i >= 0 and self.source_combo.itemText(i) == text and self.source_combo.itemData(i) is not None:
            return str(self.source_combo.itemData(i))
        return text

    def set_source_text(self, text: str) -> None:
        self.source_combo.setEditText(text)

    def user_id(self) -> str:
        return self.user_combo.currentText().strip()

    def set_users(self, user_ids, current: str | None = None) -> None:
        typed = self.user_id()
        edit = self.user_combo.lineEdit()
        cursor = edit.cursorPosition()
        self.user_combo.blockSignals(True)
        self.user_combo.clear()
        self.user_combo.addItems(list(user_ids))
        self.user_combo.blockSignals(False)
        text = typed if current is None else current
        if text != self.user_combo.currentText():
            self.user_combo.setEditText(text)
        edit.setCursorPosition(min(cursor, len(text)))
        self._update_enabled()

    def next_person(self) -> None:
        """The queue: the User field cleared and focused for whoever comes next."""
        self.user_combo.setEditText("")  # also clears the field's own undo history
        self.user_combo.setFocus(Qt.FocusReason.OtherFocusReason)
        self.progress.setValue(0)

    def set_sitting(self, user_ids) -> None:
        """The people enrolled since the panel was opened for this collection (undone ones not counted)."""
        n = len(user_ids)
        self.sitting_label.setText("No one enrolled yet in this sitting" if not n else
                                   f"Enrolled in this sitting: {n} {'person' if n == 1 else 'people'}")
        self.sitting_label.setToolTip(", ".join(user_ids))

    def set_cameras(self, devices) -> None:
        """Cameras found by the probe, listed first; what the operator typed is kept."""
        typed = self.source_combo.currentText()
        self.source_combo.clear()
        for d in devices:
            self.source_combo.addItem(f"Camera {d.index} — {d.width}×{d.height} ({d.backend})", d.index)
        self.source_combo.setEditText(typed if typed or not devices else self.source_combo.itemText(0))
        self.find_button.setEnabled(True)
        self.find_button.setText("&Find cameras")

    def set_probing(self) -> None:
        self.find_button.setEnabled(False)
        self.find_button.setText("Looking…")

    # -- what is going on ----------------------------------------------------------------------------
    def set_state(self, state: PanelState) -> None:
        self.state = state
        open_ = state in (PanelState.PREVIEW, PanelState.COLLECTING, PanelState.ENROLLING)
        for w in (self.user_combo, self.threshold, self.frames):
            w.setEnabled(state in (PanelState.IDLE, PanelState.PREVIEW))
        if not open_ and self.pause_button.isChecked():
            self.pause_button.setChecked(False)
        if state is PanelState.COLLECTING:
            self.progress.setRange(0, self.frames.value())
            self.progress.setValue(0)
        self._update_enabled()

    def _update_enabled(self, *_args) -> None:
        """Only what can act now is enabled."""
        state = self.state
        open_ = state in (PanelState.PREVIEW, PanelState.COLLECTING, PanelState.ENROLLING)
        has_source = bool(self.source_combo.currentText().strip())
        self.open_button.setEnabled(state is not PanelState.OPENING and has_source)
        live = self.source_open or state is PanelState.OPENING
        self.close_source_button.setEnabled(live)
        paused_collecting = state is PanelState.COLLECTING and self.pause_button.isChecked()
        can_start = state in (PanelState.IDLE, PanelState.PREVIEW) and bool(self.user_id()) and (open_ or has_source)
        self.start_button.setEnabled(can_start or paused_collecting)  # Start while paused resumes
        self.stop_button.setEnabled(state is PanelState.COLLECTING)
        self.pause_button.setEnabled(open_ and self.source_open)

    def set_source_open(self, is_open: bool) -> None:
        self.source_open = is_open
        self._update_enabled()

    def set_captured_waiting(self, count: int, user_id: str = "") -> None:
        """Frames kept by a capture that ended short (or was stopped), bound to the user they were
        captured for, which the operator may enroll."""
        self.enroll_captured_button.setVisible(count > 0)
        self.enroll_captured_button.setEnabled(count > 0)
        frames = f"{count} frame{'s' if count != 1 else ''}"
        self.enroll_captured_button.setText(f"&Enroll {frames} of {user_id}" if user_id else f"&Enroll {frames}")
        if count:
            self.show_capture_user(user_id)
            self.progress.setValue(count)
        elif self.state is not PanelState.COLLECTING:
            self.show_capture_user("")

    def show_capture_user(self, user_id: str) -> None:
        """Whom the frames being captured, or waiting to be enrolled, are of: on the progress bar."""
        self._capture_user = user_id
        self.progress.setFormat(f"%v / %m good frames of {user_id}" if user_id else "%v / %m good frames")

    def set_collection(self, collection_id: str) -> None:
        self.title.setText(f"Enroll a person into collection <b>{collection_id}</b>")
        self.setWindowTitle(f"Enroll from camera — {collection_id}")

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def show_hint(self, text: str) -> None:
        if text != self.hint_label.text():
            self.hint_label.setText(text)
            self.hint_changed.emit(text)

    @Slot(QImage)
    def show_frame(self, image: QImage) -> None:
        previous = self.preview.fps
        self.preview.set_image(image)
        if self.preview.fps != previous and self.preview.fps > 0:
            self.fps_label.setText(f"{self.preview.fps:.0f} fps")

    def show_verdict(self, verdict) -> None:
        if self.pause_button.isChecked():
            return  # the analysis of a frame read before Pause: the hint says paused
        self.preview.set_faces(verdict.faces, verdict.hint)
        if verdict.target:  # collecting
            self.progress.setValue(verdict.kept)
            if verdict.accepted:
                self.show_hint(f"captured {verdict.kept} of {verdict.target}")
            elif verdict.hint is not FrameHint.DONE:
                self.show_hint(verdict.text)
        else:
            self.show_hint(verdict.text)

    def source_closed(self, hint: str = "", keep_progress: bool = False) -> None:
        """No picture any more: nothing of the old one's hint or progress stays over "No picture"
        (keep_progress: captured frames are still waiting or being enrolled: their count stays)."""
        self.preview.clear()
        self.fps_label.clear()
        self.show_hint(hint or "Open a camera or a video to see the picture.")
        self.set_source_open(False)
        if not keep_progress and not self.enroll_captured_button.isVisible():
            self.progress.setValue(0)
            self.show_capture_user("")

    def show_paused(self, paused: bool) -> None:
        self.preview.reset_fps()  # the paused time is not part of the next reading
        self.fps_label.setText("paused" if paused else "")
        self.show_hint(PAUSED_HINT if paused else "")
        self._update_enabled()

    # -- slots ---------------------------------------------------------------------------------------
    def browse_folder(self) -> str:
        """Where Browse starts: the folder of the path typed (or of the file it names), if it exists."""
        typed = self.source_combo.currentText().strip()
        if not typed or typed.isdigit() or "://" in typed:
            return ""
        path = Path(typed).expanduser()
        for candidate in (path, *path.parents):
            if candidate.is_dir() and str(candidate) not in (".", ""):
                return str(candidate)
        return ""

    @Slot(int)
    def _on_frames_changed(self, frames: int) -> None:
        if self.state is not PanelState.COLLECTING and not self.enroll_captured_button.isVisible():
            self.progress.setRange(0, frames)
            self.progress.setValue(0)

    @Slot()
    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Enroll from a video file", self.browse_folder(), VIDEO_FILTER)
        if path:
            self.set_source_text(path)
            self.open_requested.emit(path)

    @Slot()
    def _on_open(self) -> None:
        self.open_requested.emit(self.source_spec())

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("&Resume" if paused else "&Pause")
        self.show_paused(paused)
        self.pause_toggled.emit(paused)
