"""The webcam enrollment panel: source, live preview with the operator's hint, and the controls.

The panel only shows things and says what the operator asked for (signals); the flow (capture
session, owner check, enrollment, undo) is EnrollmentController's. States:
IDLE (no source open), OPENING, PREVIEW (source open), COLLECTING, ENROLLING (checking whose
face it is, or storing it). Pause applies while a source is open.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
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
        self.close_source_button = QPushButton("Stop &camera")
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
        form.addRow("&Camera or video:", source_row)
        form.addRow("&User:", self.user_combo)
        settings_row = QHBoxLayout()
        settings_row.addWidget(self.threshold)
        frames_label = QLabel("&Frames:")
        frames_label.setBuddy(self.frames)
        settings_row.addWidget(frames_label)
        settings_row.addWidget(self.frames)
        settings_row.addStretch(1)
        form.addRow("Match &threshold:", settings_row)
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
        self.set_state(PanelState.IDLE)
        self.set_captured_waiting(0)

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
        self.user_combo.clear()
        self.user_combo.addItems(list(user_ids))
        self.user_combo.setEditText(current or typed)

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
        self.open_button.setEnabled(state is not PanelState.OPENING)
        self.close_source_button.setEnabled(open_ or state is PanelState.OPENING)
        self.start_button.setEnabled(state in (PanelState.IDLE, PanelState.PREVIEW))
        self.stop_button.setEnabled(state is PanelState.COLLECTING)
        self.pause_button.setEnabled(open_)
        for w in (self.user_combo, self.threshold, self.frames):
            w.setEnabled(state in (PanelState.IDLE, PanelState.PREVIEW))
        if not open_ and self.pause_button.isChecked():
            self.pause_button.setChecked(False)
        if state is PanelState.COLLECTING:
            self.progress.setRange(0, self.frames.value())
            self.progress.setValue(0)

    def set_captured_waiting(self, count: int) -> None:
        """Frames kept by a capture that ended short, which the operator may enroll."""
        self.enroll_captured_button.setVisible(count > 0)
        self.enroll_captured_button.setEnabled(count > 0)
        self.enroll_captured_button.setText(f"&Enroll {count} captured frame{'s' if count != 1 else ''}")

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
        if self.preview.fps != previous:
            self.fps_label.setText(f"{self.preview.fps:.0f} fps")

    def show_verdict(self, verdict) -> None:
        self.preview.set_faces(verdict.faces, verdict.hint)
        if verdict.target:  # collecting
            self.progress.setValue(verdict.kept)
            if verdict.accepted:
                self.show_hint(f"captured {verdict.kept} of {verdict.target}")
            elif verdict.hint is not FrameHint.DONE:
                self.show_hint(verdict.text)
        else:
            self.show_hint(verdict.text)

    def source_closed(self) -> None:
        self.preview.clear()
        self.fps_label.clear()

    # -- slots ---------------------------------------------------------------------------------------
    @Slot()
    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Enroll from a video file", "", VIDEO_FILTER)
        if path:
            self.set_source_text(path)
            self.open_requested.emit(path)

    @Slot()
    def _on_open(self) -> None:
        self.open_requested.emit(self.source_spec())

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("&Resume" if paused else "&Pause")
        self.pause_toggled.emit(paused)
