"""The curation window: collections, their users, the face grid, and the panels around them.

The window owns the widgets and the models; the controllers own the flows (workspace_controller:
loading and creating; curation_controller: associating, undo; similarity, import, source photo,
enrollment). Every backend call runs through `self.runner` (operation_runner.py), never here on
the GUI thread. The commands are declared once in window_actions.py.
"""

from __future__ import annotations

import gc
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from app.core import capabilities as caps
from app.core.backend import Backend
from app.workflows.journal_report import last_journal_seq

if TYPE_CHECKING:
    from .enrollment_controller import EnrollmentController
from app.core.errors import ResourceNotFoundException

from . import message_boxes
from .collection_model import CollectionListModel
from .curation_controller import CurationController
from .face_grid import FaceGridView
from .face_model import FaceFilter, FaceListModel
from .grid_controls import GridControls
from .help_menu import build_help_menu
from .import_controller import ImportController
from .import_panel import ImportPanel
from .operation_runner import OperationRunner
from .palette import THEMES, apply_theme
from .panes import pane, tool_button
from .photo_viewer import SourcePhotoController
from .reason_text import count
from .results_panel import ResultsPanel
from .search_panel import SearchPanel
from .settings import KEY_GEOMETRY, KEY_SPLITTER, KEY_STATE, KEY_THEME, app_settings
from .similarity_controller import SimilarityController
from .thumbnail_loader import ThumbnailLoader
from .user_list_view import UserListView
from .user_model import UserListModel
from .window_actions import ActionAttributes, build_actions, update_enabled
from .window_commands import WindowCommands
from .window_docks import DockAttributes, build_docks
from .window_menus import build_menus
from .workers import TaskList
from .workspace_controller import WorkspaceController

FILTER_LABELS = [(FaceFilter.ALL, "All faces"), (FaceFilter.UNASSIGNED, "Unassigned faces"),
                 (FaceFilter.USER, "Faces of the selected user")]


class MainWindow(QMainWindow, ActionAttributes, DockAttributes):
    # the docks (window_docks.py)
    results_panel: ResultsPanel
    search_panel: SearchPanel
    import_panel: ImportPanel
    undo_view: QUndoView
    results_dock: QDockWidget
    history_dock: QDockWidget
    search_dock: QDockWidget
    import_dock: QDockWidget

    def __init__(self, engine: Backend, page_size: int = 500, parent=None):
        super().__init__(parent)
        self._start_up_frozen = False
        self.setObjectName("mainWindow")
        self.engine = engine
        self.capabilities = caps.capabilities_of(engine)  # a remote endpoint offers less than a workspace
        self.setWindowTitle(f"Rekurator — {engine.workspace}")
        self.undo_stack = QUndoStack(self)
        self.tasks = TaskList(self)
        self.workspace: WorkspaceController  # made once the views exist (below)
        self.runner = OperationRunner(self.tasks, self.current_collection, self.report_error, self)
        self.thumbnails = ThumbnailLoader(engine.face_thumbnails, parent=self)
        self.thumbnails.failed.connect(self._on_thumbnail_failure)
        self.collections_model = CollectionListModel(engine, self)
        self.users_model = UserListModel(engine, self)
        self.face_model = FaceListModel(engine, self.thumbnails, page_size, self)
        self._build_views()
        self.workspace = WorkspaceController(self)
        self.curation = CurationController(self)
        self.similarity = SimilarityController(self)
        self.source_photo = SourcePhotoController(self)
        self.enrollment: EnrollmentController | None = None  # made when the panel is first opened
        self.view_menu: QMenu  # made by build_menus
        self.previous_crash_box: QMessageBox | None = None  # the notice of a crash in the previous run
        self.commands = WindowCommands(self)
        self._build_actions()
        build_menus(self)
        build_docks(self)
        self.importer = ImportController(self)
        build_help_menu(self)
        GridControls(self)
        self._build_status_bar()
        self._restore_settings()
        self.session_start_seq: int | None = None  # read in the background, before any edit can run
        self.runner.run("Reading the journal", lambda _worker: last_journal_seq(engine), self.commands.journal_seq_read)
        self.workspace.reload_collections()

    # -- building ------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.collections_view = QListView()
        self.collections_view.setObjectName("collectionList")
        self.collections_view.setAccessibleName("Collections")
        self.collections_view.setModel(self.collections_model)
        self.collections_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.collections_view.selectionModel().currentChanged.connect(self._on_collection_changed)
        self.users_view = UserListView()
        self.users_view.setModel(self.users_model)
        self.users_view.selectionModel().currentChanged.connect(self._on_user_changed)

        self.face_grid = FaceGridView(self.thumbnails.size)
        self.face_grid.setModel(self.face_model)
        self.face_grid.selectionModel().selectionChanged.connect(self._on_face_selection_changed)
        self.face_model.page_added.connect(self.update_state)
        self.filter_combo = QComboBox()
        self.filter_combo.setObjectName("faceFilter")
        self.filter_combo.setAccessibleName("Face filter")
        for value, label in FILTER_LABELS:
            self.filter_combo.addItem(label, value.value)
        self.filter_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.order_label = QLabel()
        self.order_label.setObjectName("orderLabel")
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setVisible(False)
        faces_pane = QWidget()
        fl = QVBoxLayout(faces_pane)
        fl.setContentsMargins(2, 2, 2, 2)
        self.faces_bar = bar = QHBoxLayout()
        show = QLabel("<b>Faces</b>  Show:")
        show.setBuddy(self.filter_combo)
        bar.addWidget(show)
        bar.addWidget(self.filter_combo)
        bar.addWidget(self.order_label, 1)
        fl.addLayout(bar)
        fl.addWidget(self.empty_hint)
        fl.addWidget(self.face_grid, 1)
        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.setObjectName("leftSplitter")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(faces_pane)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 900])
        self.setCentralWidget(self.splitter)
        room = self.screen().availableGeometry()  # at 150 % or 200 % a 1280 x 800 window may not fit
        self.resize(min(1280, room.width()), min(800, room.height()))

    def _build_actions(self) -> None:
        handlers = self.commands.handlers()
        self.actions_by_name, self.unavailable = build_actions(self, handlers, self.capabilities)
        self.act_quit.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Quit))
        self.act_undo.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        self.act_delete_faces.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.face_grid.addAction(self.act_delete_faces)
        self.act_source_photo.setCheckable(True)
        self.act_filters = [self.act_show_all_faces, self.act_show_unassigned_faces, self.act_show_user_faces]
        self.undo_stack.indexChanged.connect(self.update_history_actions)
        self.update_history_actions()
        self.theme_group = QActionGroup(self)
        self.act_themes = {}
        for theme in THEMES:
            act = QAction(theme.capitalize(), self, checkable=True)
            act.triggered.connect(partial(self.set_theme, theme))
            self.theme_group.addAction(act)
            self.act_themes[theme] = act
        self.left.addWidget(pane("Collections", self.collections_view,
                                  [tool_button(self.act_new_collection), tool_button(self.act_delete_collection)]))
        self.left.addWidget(pane("Users", self.users_view, [tool_button(self.act_new_user), tool_button(self.act_delete_user)]))

    def _build_status_bar(self) -> None:
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busyBar")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setVisible(False)
        self.busy_label = QLabel()
        self.statusBar().addPermanentWidget(self.busy_label)
        missing = [text for capability, text in ((caps.THUMBNAILS, "no face crops"),
                                                 (caps.ASSOCIATION_PREVIEW, "no association preview"),
                                                 (caps.WORKSPACE_JOURNAL, "session reports only"))
                   if capability not in self.capabilities]
        if missing:  # what this backend lacks, always in view
            limits = QLabel(f"{self.engine.workspace}: {', '.join(missing)}")
            limits.setObjectName("backendLimits")
            limits.setToolTip("\n".join(self.unavailable.values()))
            self.statusBar().addPermanentWidget(limits)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.tasks.changed.connect(self._on_tasks_changed)

    # -- settings --------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = app_settings()
        geometry, state, splitter = s.value(KEY_GEOMETRY), s.value(KEY_STATE), s.value(KEY_SPLITTER)
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        theme = str(s.value(KEY_THEME, "system"))
        self.set_theme(theme if theme in THEMES else "system", remember=False)

    def save_settings(self) -> None:
        s = app_settings()
        s.setValue(KEY_GEOMETRY, self.saveGeometry())
        s.setValue(KEY_STATE, self.saveState())
        s.setValue(KEY_SPLITTER, self.splitter.saveState())
        self.workspace.save_pins()
        s.sync()

    def set_theme(self, theme: str, *_checked, remember: bool = True) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        applied = apply_theme(app, theme)
        self.act_themes[applied].setChecked(True)
        if remember:
            app_settings().setValue(KEY_THEME, applied)

    # -- selection -------------------------------------------------------------------------------
    def current_collection(self) -> str | None:
        return self.workspace.collection_id

    def current_user(self) -> str | None:
        index = self.users_view.currentIndex()
        return self.users_model.entry(index.row()).user_id if index.isValid() else None

    def current_face(self) -> str | None:
        index = self.face_grid.currentIndex()
        if index.isValid() and self.face_grid.selectionModel().isSelected(index):
            return self.face_model.entry(index.row()).face_id
        ids = self.selected_face_ids()
        return ids[0] if ids else None

    def selected_face_ids(self) -> list[str]:
        return self.face_model.face_ids(self.face_grid.selectionModel().selectedIndexes())

    def select_collection(self, collection_id: str) -> None:
        row = self.collections_model.row_of(collection_id)
        if row is not None:
            self.collections_view.setCurrentIndex(self.collections_model.index(row))

    def select_user(self, user_id: str | None) -> None:
        row = self.users_model.row_of(user_id) if user_id else None
        index = self.users_model.index(row) if row is not None else QModelIndex()
        self.users_view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def select_faces(self, face_ids) -> None:
        sel = self.face_grid.selectionModel()
        sel.clearSelection()
        first = None
        for fid in face_ids:
            row = self.face_model.row_of(fid)
            if row is not None:
                index = self.face_model.index(row)
                sel.select(index, QItemSelectionModel.SelectionFlag.Select)
                first = first or index
        if first is not None:
            sel.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.face_grid.scrollTo(first)

    @Slot(str)
    def select_face(self, face_id: str) -> None:
        if self.face_model.row_of(face_id) is None:
            self.statusBar().showMessage("That face is not in the grid now (another filter, or not loaded yet).", 5000)
            return
        self.select_faces([face_id])
        self.face_grid.setFocus()

    @Slot(QModelIndex, QModelIndex)
    def _on_collection_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        cid = self.collections_model.entry(current.row()).collection_id if current.isValid() else None
        if cid != self.current_collection():
            self.workspace.show_collection(cid)

    @Slot(QModelIndex, QModelIndex)
    def _on_user_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        if self.face_filter() is FaceFilter.USER:
            self.workspace.reload_faces()
        else:
            self.workspace.refresh_rejected()
        self.update_state()

    @Slot()
    def _on_face_selection_changed(self) -> None:
        n = len(self.face_grid.selectionModel().selectedIndexes())
        self.statusBar().showMessage(f"{count(n, 'face')} selected" if n else "", 3000)
        self.update_state()
        self.source_photo.follow()

    def update_state(self, *_args) -> None:
        """The actions' enablement and the empty-grid hint, from what is selected and loaded now."""
        update_enabled(self.actions_by_name, self.unavailable, collection=self.current_collection() is not None,
                       user=self.current_user() is not None, faces=self.face_grid.selectionModel().hasSelection())
        if self.collections_model.rowCount() == 0:
            text = "This workspace has no collection yet. Create one with File ▸ New collection (Ctrl+Shift+N)."
        elif (self.face_model.rowCount() == 0 and self.face_model.face_filter is FaceFilter.ALL
              and not self.face_model.loading and self.current_collection() is not None):
            text = "This collection has no faces yet. Import photos with File ▸ Import photos (Ctrl+I)."
        else:
            text = ""
        self.empty_hint.setText(text)
        self.empty_hint.setVisible(bool(text))

    def update_history_actions(self, *_args) -> None:
        stack, busy = self.undo_stack, self.curation.history_busy
        self.act_undo.setEnabled(stack.canUndo() and not busy)
        self.act_redo.setEnabled(stack.canRedo() and not busy)
        self.act_undo.setText(f"&Undo {stack.undoText()}" if stack.canUndo() else "&Undo")
        self.act_redo.setText(f"&Redo {stack.redoText()}" if stack.canRedo() else "&Redo")

    # -- loading and refreshing (see WorkspaceController) ------------------------------------------
    def face_filter(self) -> FaceFilter:
        return FILTER_LABELS[max(0, self.filter_combo.currentIndex())][0]

    def set_filter(self, face_filter: FaceFilter, *_checked) -> None:
        i = [f for f, _label in FILTER_LABELS].index(FaceFilter(face_filter))
        if i == self.filter_combo.currentIndex():
            self.workspace.reload_faces()
        else:
            self.filter_combo.setCurrentIndex(i)  # reloads through the signal

    @Slot(int)
    def _on_filter_changed(self, _index: int) -> None:
        self.workspace.reload_faces()

    def export_report(self, path, scope: str = "session"):
        return self.commands.export_report(path, scope)

    def import_photos(self, paths):
        return self.commands.import_photos(paths)

    def report_error(self, action: str, exc: BaseException) -> None:
        """Show an error in plain words; if a user or collection vanished, re-read what is there."""
        message_boxes.show_error(self, action, exc)
        if isinstance(exc, ResourceNotFoundException):
            self.workspace.reread_users()

    @Slot(str)
    def _on_thumbnail_failure(self, message: str) -> None:
        self.statusBar().showMessage(message, 6000)

    def show_results(self) -> None:
        self.results_dock.show()
        self.results_dock.raise_()

    # -- focus, status and closing -----------------------------------------------------------------
    def focus_pane(self, pane: str, *_checked) -> None:
        {"collections": self.collections_view, "users": self.users_view, "faces": self.face_grid}[pane].setFocus()

    @Slot(int, str)
    def _on_tasks_changed(self, count: int, name: str) -> None:
        self.busy_bar.setVisible(count > 0)
        self.busy_label.setText(f"{name}…" if count else "")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._start_up_frozen:
            self._start_up_frozen = True
            # what exists once the window is up lives for the whole session: out of the collector's
            # way, a full collection no longer walks it (halves the longest stall scrolling a big grid)
            QTimer.singleShot(0, gc.freeze)

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.tasks.stop_all()
        self.thumbnails.shutdown()
        super().closeEvent(event)

    def quit_soon(self, msecs: int) -> None:
        QTimer.singleShot(msecs, self, self.close)
