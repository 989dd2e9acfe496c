"""The curation window: collections, their users, the face grid, and the panels around them."""

from __future__ import annotations

import gc

from functools import partial

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QLabel,
                               QListView, QMainWindow, QProgressBar, QSplitter, QToolButton, QUndoView,
                               QVBoxLayout, QWidget)

from app.core import capabilities as caps
from app.core.errors import ResourceNotFoundException
from app.workflows.journal_report import journal_report, last_journal_seq, write_report

from . import message_boxes
from .collection_model import CollectionListModel, describe_entry
from .curation_controller import CurationController
from .face_grid import FaceGridView
from .face_model import FaceFilter, FaceListModel
from .import_panel import ImportPanel
from .palette import THEMES, apply_theme
from .photo_viewer import SourcePhotoController
from .import_controller import ImportController
from .results_panel import ResultsPanel
from .search_panel import SearchPanel
from .similarity_controller import SimilarityController
from .settings import KEY_GEOMETRY, KEY_SPLITTER, KEY_STATE, KEY_THEME, app_settings, pins_key
from .thumbnail_loader import ThumbnailLoader
from .user_list_view import UserListView
from .user_model import UserListModel, count_faces, face_counts
from .window_menus import build_menus, disable_unavailable
from .operation_runner import OperationRunner
from .workers import Task, TaskList

FILTER_LABELS = [(FaceFilter.ALL, "All faces"), (FaceFilter.UNASSIGNED, "Unassigned faces"),
                 (FaceFilter.USER, "Faces of the selected user")]


def _pane(title: str, view: QWidget, buttons: list[QToolButton]) -> QWidget:
    pane = QWidget()
    layout = QVBoxLayout(pane)
    layout.setContentsMargins(2, 2, 2, 2)
    head = QHBoxLayout()
    label = QLabel(f"<b>{title}</b>")
    label.setBuddy(view)
    head.addWidget(label, 1)
    for b in buttons:
        head.addWidget(b)
    layout.addLayout(head)
    layout.addWidget(view)
    return pane


def _tool_button(action: QAction) -> QToolButton:
    b = QToolButton()
    b.setDefaultAction(action)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the same commands are in the menus, with shortcuts
    return b


class MainWindow(QMainWindow):
    def __init__(self, engine, page_size: int = 500, parent=None):
        super().__init__(parent)
        self._start_up_frozen = False
        self.setObjectName("mainWindow")
        self.engine = engine
        self.capabilities = caps.capabilities_of(engine)  # a remote endpoint offers less than a workspace
        self.session_start_seq = last_journal_seq(engine)
        self.setWindowTitle(f"Rekurator — {engine.workspace}")
        self.undo_stack = QUndoStack(self)
        self.tasks = TaskList(self)
        self.runner = OperationRunner(self.tasks, self.current_collection, self.report_error, self)
        self.thumbnails = ThumbnailLoader(engine.face_thumbnails, parent=self)
        self.thumbnails.failed.connect(self._on_thumbnail_failure)
        self.collections_model = CollectionListModel(engine, self)
        self.users_model = UserListModel(engine, self)
        self.face_model = FaceListModel(engine, self.thumbnails, page_size, self)
        self.curation = CurationController(self)
        self.similarity = SimilarityController(self)
        self.source_photo = SourcePhotoController(self)
        self.enrollment = None  # EnrollmentController, made when the panel is first opened
        self._build_views()
        self._build_actions()
        self.unavailable = disable_unavailable(self)
        build_menus(self)
        self._build_docks()
        self.importer = ImportController(self)
        self._build_status_bar()
        self._restore_settings()
        self.reload_collections()
        if self.collections_model.rowCount() == 0:
            QTimer.singleShot(0, self.importer, self.importer.offer_demo)

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
        self.users_view.faces_dropped.connect(self._on_faces_dropped)
        self.users_view.drop_refused.connect(self._on_drop_refused)

        self.face_grid = FaceGridView(self.thumbnails.size)
        self.face_grid.setModel(self.face_model)
        self.face_grid.pinned_key_pressed.connect(self._on_pinned_key)
        self.face_grid.selectionModel().selectionChanged.connect(self._on_face_selection_changed)

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
        bar = QHBoxLayout()
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
        # the collection and user panes are added once their actions exist (_build_actions)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(faces_pane)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 900])
        self.setCentralWidget(self.splitter)
        self.resize(1280, 800)

    def _action(self, text: str, slot, shortcut=None, name: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if name:
            action.setObjectName(name)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        K = QKeySequence
        a = self._action
        self.act_new_collection = a("&New collection…", self._ask_new_collection, "Ctrl+Shift+N", "newCollection")
        self.act_delete_collection = a("&Delete collection…", self._ask_delete_collection, None, "deleteCollection")
        # the importer is made after the docks it reports to: these forward to it
        self.act_import_files = a("&Import photos…", self._ask_import_files, "Ctrl+I", "importPhotos")
        self.act_import_folder = a("Import &folder…", self._ask_import_folder, "Ctrl+Shift+I", "importFolder")
        self.act_export_session = a("&Export session report…", partial(self._ask_export, "session"), "Ctrl+E",
                                    "exportSession")
        self.act_export_workspace = a("Export &workspace report…", partial(self._ask_export, "workspace"),
                                      "Ctrl+Shift+E", "exportWorkspace")
        self.act_quit = a("&Quit", self.close, K.StandardKey.Quit, "quit")
        # undo and redo run the backend work in the operation runner first, then move the stack
        self.act_undo = a("&Undo", self.curation.undo, K.keyBindings(K.StandardKey.Undo), "undo")
        self.act_redo = a("&Redo", self.curation.redo, [K("Ctrl+Shift+Z"), K("Ctrl+Y")], "redo")
        self.undo_stack.indexChanged.connect(self.update_history_actions)
        self.update_history_actions()
        self.act_new_user = a("New &user…", self._ask_new_user, "Ctrl+N", "newUser")
        self.act_delete_user = a("Delete user…", self._ask_delete_user, None, "deleteUser")
        self.act_pin_user = a("&Pin user to a number key", self._pin_current_user, "Ctrl+P", "pinUser",
                              "Pressing that number in the face grid associates the selected faces with the user")
        self.act_unpin_user = a("Unpin user", self._unpin_current_user, None, "unpinUser")
        self.act_enroll = a("&Enroll from camera…", self._open_enrollment, "Ctrl+Shift+C", "enrollFromCamera",
                            "Capture good frames of one face from a camera or video and enroll them as a user")
        self.act_associate = a("&Associate selected faces with user…", self._associate_selected, "Ctrl+Return",
                               "associate", "Preview, then associate the selected faces with the selected user")
        self.act_disassociate = a("&Disassociate selected faces", self._disassociate_selected, "Ctrl+D", "disassociate")
        self.act_not_this_person = a("&Not this person", self._not_this_person_selected, "Ctrl+Shift+D", "notThisPerson",
                                     "Mark the selected faces as not the selected user; hidden from its suggestions")
        self.act_delete_faces = a("Delete selected faces…", self._delete_selected, K.StandardKey.Delete, "deleteFaces")
        self.act_delete_faces.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.face_grid.addAction(self.act_delete_faces)
        sim = self.similarity
        self.act_search = a("Search &similar to selected face", sim.search_selected, "Ctrl+F", "searchSimilar")
        self.act_sort_face = a("Sort by similarity to selected &face", sim.sort_by_face, "Ctrl+Shift+F", "sortByFace")
        self.act_sort_user = a("Sort by similarity to selected &user", sim.sort_by_user, "Ctrl+Shift+U", "sortByUser")
        self.act_sort_index = a("Index &order", self.reload_faces, "Ctrl+Shift+O", "sortByIndex")
        self.act_source_photo = a("Show &source photo", self.source_photo.toggle, "Ctrl+T", "sourcePhoto",
                                  "The photo the current face came from, with the face's box drawn")
        self.act_source_photo.setCheckable(True)
        self.act_go_collections = a("Go to collections", partial(self._focus, "collections"), "Ctrl+Alt+1")
        self.act_go_users = a("Go to users", partial(self._focus, "users"), "Ctrl+Alt+2")
        self.act_go_faces = a("Go to faces", partial(self._focus, "faces"), "Ctrl+Alt+3")
        self.act_filters = []
        for n, (value, label) in enumerate(FILTER_LABELS, start=1):
            self.act_filters.append(a(f"Show {label.lower()}", partial(self.set_filter, value), f"Ctrl+{n}"))
        self.theme_group = QActionGroup(self)
        self.act_themes = {}
        for theme in THEMES:
            act = QAction(theme.capitalize(), self, checkable=True)
            act.triggered.connect(partial(self._on_theme_action, theme))
            self.theme_group.addAction(act)
            self.act_themes[theme] = act

        self.left.addWidget(_pane("Collections", self.collections_view,
                                  [_tool_button(self.act_new_collection), _tool_button(self.act_delete_collection)]))
        self.left.addWidget(_pane("Users", self.users_view,
                                  [_tool_button(self.act_new_user), _tool_button(self.act_delete_user)]))

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def _build_docks(self) -> None:
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.results_panel = ResultsPanel()
        self.results_dock = self._dock("Results", "resultsDock", self.results_panel, right)
        self.undo_view = QUndoView(self.undo_stack)
        self.undo_view.setObjectName("historyView")
        self.undo_view.setEmptyLabel("Window opened")
        # read-only: clicking an entry would move the stack on the GUI thread, without the backend
        self.undo_view.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.undo_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.history_dock = self._dock("History", "historyDock", self.undo_view, right)
        self.search_panel = SearchPanel()
        self.search_panel.face_activated.connect(self.select_face)
        self.search_dock = self._dock("Search", "searchDock", self.search_panel, right)
        self.import_panel = ImportPanel()
        self.import_dock = self._dock("Import", "importDock", self.import_panel, right)
        self.tabifyDockWidget(self.results_dock, self.search_dock)
        self.tabifyDockWidget(self.search_dock, self.import_dock)
        self.results_dock.raise_()

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
        self._save_pins()
        s.sync()

    def _save_pins(self) -> None:
        cid = self.users_model.collection_id
        if cid is None:
            return
        s = app_settings()
        s.setValue(pins_key(self.engine.workspace, cid), {str(k): u for k, u in self.users_model.pins().items()})

    def _load_pins(self, collection_id: str) -> dict[int, str]:
        raw = app_settings().value(pins_key(self.engine.workspace, collection_id), {}) or {}
        pins = {}
        for k, u in dict(raw).items():
            if str(k).isdigit() and isinstance(u, str):
                pins[int(k)] = u
        return pins

    def _on_theme_action(self, theme: str, *_checked) -> None:
        self.set_theme(theme)

    def set_theme(self, theme: str, remember: bool = True) -> None:
        applied = apply_theme(QApplication.instance(), theme)
        self.act_themes[applied].setChecked(True)
        if remember:
            app_settings().setValue(KEY_THEME, applied)

    # -- selection -------------------------------------------------------------------------------
    def current_collection(self) -> str | None:
        return self.users_model.collection_id

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
        self._save_pins()
        cid = self.collections_model.entry(current.row()).collection_id if current.isValid() else None
        try:
            self.users_model.load(cid, self._load_pins(cid) if cid else None, counts=False)
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"Reading the users of {cid}", exc)
            self.users_model.load(None)
        self._count_user_faces()
        self.reload_faces()
        self._update_actions()

    def _count_user_faces(self) -> None:
        """Face budgets ("n / 100") arrive from a worker: one ListFaces per user adds up in big collections."""
        cid, users = self.users_model.collection_id, self.users_model.uncounted()
        if cid is None or not users:
            return
        task = Task(partial(count_faces, self.engine, cid, users), f"Counting the faces of {len(users)} user(s)", cid,
                    self)
        task.succeeded.connect(self._user_counts_ready)
        task.failed.connect(self._user_counts_failed)
        self.tasks.start(task)

    @Slot(object)
    def _user_counts_ready(self, counts) -> None:
        if self.sender().context == self.users_model.collection_id:
            self.users_model.set_counts(counts)

    @Slot(object)
    def _user_counts_failed(self, exc) -> None:
        if self.sender().context == self.users_model.collection_id:
            self.report_error("Counting the faces of each user", exc)

    @Slot(QModelIndex, QModelIndex)
    def _on_user_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        if self._filter() is FaceFilter.USER:
            self.reload_faces()
        else:
            self.refresh_rejected()
        self._update_actions()

    @Slot()
    def _on_face_selection_changed(self) -> None:
        n = len(self.face_grid.selectionModel().selectedIndexes())
        self.statusBar().showMessage(f"{n} face(s) selected" if n else "", 3000)
        self._update_actions()
        self.source_photo.follow()

    def _update_actions(self) -> None:
        has_coll = self.current_collection() is not None
        has_user = self.current_user() is not None
        has_faces = self.face_grid.selectionModel().hasSelection()
        self.act_delete_collection.setEnabled(has_coll)
        self.act_new_user.setEnabled(has_coll)
        self.act_enroll.setEnabled(has_coll)
        self.act_import_files.setEnabled(has_coll)
        self.act_import_folder.setEnabled(has_coll)
        for act in (self.act_delete_user, self.act_pin_user, self.act_unpin_user, self.act_sort_user):
            act.setEnabled(has_user)
        self.act_associate.setEnabled(has_faces and has_user)
        self.act_not_this_person.setEnabled(has_faces and has_user)
        for act in (self.act_disassociate, self.act_delete_faces, self.act_search, self.act_sort_face):
            act.setEnabled(has_faces)
        for act in self.unavailable:
            act.setEnabled(False)

    # -- loading ---------------------------------------------------------------------------------
    def reload_collections(self, select: str | None = None) -> None:
        previous = select or self.current_collection()
        try:
            self.collections_model.load()
        except Exception as exc:  # noqa: BLE001
            self.report_error("Reading the collections", exc)
            return
        if self.collections_model.rowCount() == 0:
            self.users_model.load(None)
            self.face_model.load(None)
        else:
            row = self.collections_model.row_of(previous) if previous else None
            self.collections_view.setCurrentIndex(self.collections_model.index(row if row is not None else 0))
        self._update_empty_hint()
        self._update_actions()

    def _filter(self) -> FaceFilter:
        return FILTER_LABELS[max(0, self.filter_combo.currentIndex())][0]

    def set_filter(self, face_filter: FaceFilter, *_checked) -> None:
        i = [f for f, _label in FILTER_LABELS].index(FaceFilter(face_filter))
        if i == self.filter_combo.currentIndex():
            self.reload_faces()
        else:
            self.filter_combo.setCurrentIndex(i)  # reloads through the signal

    @Slot(int)
    def _on_filter_changed(self, _index: int) -> None:
        self.reload_faces()

    @Slot()
    def reload_faces(self) -> None:
        """Load the grid for the current collection, filter and user, in index order."""
        cid = self.current_collection()
        self.similarity.unhide_rows()
        try:
            self.face_model.load(cid, self._filter(), self.current_user())
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"Reading the faces of {cid}", exc)
            self.face_model.load(None)
        self.order_label.setText("in index order")
        self.refresh_rejected()
        self._update_empty_hint()

    def refresh_rejected(self) -> None:
        cid, uid = self.current_collection(), self.current_user()
        rejected = set()
        if cid and uid:
            try:
                rejected = self.engine.rejected_face_ids(cid, uid)
            except ResourceNotFoundException:
                rejected = set()
        self.face_model.set_rejected(rejected)

    def _update_empty_hint(self) -> None:
        if self.collections_model.rowCount() == 0:
            text = "This workspace has no collection yet. Create one with File ▸ New collection (Ctrl+Shift+N)."
        elif self.face_model.rowCount() == 0 and self.face_model.face_filter is FaceFilter.ALL:
            text = "This collection has no faces yet. Import photos with File ▸ Import photos (Ctrl+I)."
        else:
            text = ""
        self.empty_hint.setText(text)
        self.empty_hint.setVisible(bool(text))

    # -- after an edit: update only what it touched ---------------------------------------------
    def update_history_actions(self, *_args) -> None:
        stack, busy = self.undo_stack, self.curation.history_busy
        self.act_undo.setEnabled(stack.canUndo() and not busy)
        self.act_redo.setEnabled(stack.canRedo() and not busy)
        self.act_undo.setText(f"&Undo {stack.undoText()}" if stack.canUndo() else "&Undo")
        self.act_redo.setText(f"&Redo {stack.redoText()}" if stack.canRedo() else "&Redo")

    def apply_change_set(self, change_set: dict) -> None:
        """An edit's change set, applied to the models in place; what it does not tell is read in a worker."""
        cid = change_set["CollectionId"]
        missing_faces, uncounted = [], []
        if cid == self.current_collection():
            missing_faces = self.face_model.apply_change_set(change_set)
            uncounted = self.users_model.apply_user_changes(cid, change_set["UserChanges"])
            if any(u["UserId"] == self.current_user() for u in change_set["UserChanges"]):
                self.refresh_rejected()
        self.faces_changed(cid, missing_faces, uncounted)
        self._update_empty_hint()

    def faces_changed(self, collection_id: str, face_ids: list[str], user_ids: list[str]) -> None:
        """Re-read these faces, these users' counts and the collection's counts in a worker, then update in place."""
        self.runner.run("Refreshing the window", partial(read_changes, self.engine, collection_id, face_ids, user_ids),
                        partial(self._changes_read, collection_id, face_ids), partial(self._changes_failed, collection_id))

    def _changes_read(self, collection_id: str, face_ids: list[str], read: dict) -> None:
        if collection_id == self.current_collection():
            self.face_model.apply_faces(face_ids, read["faces"])
            self.users_model.update_counts(read["counts"])
        self.collections_model.set_entry(read["collection"])
        self._update_empty_hint()

    def _changes_failed(self, collection_id: str, exc: BaseException) -> None:
        if isinstance(exc, ResourceNotFoundException):
            self.reload_collections()
        else:
            self.report_error(f"Refreshing {collection_id}", exc)

    def report_error(self, action: str, exc: BaseException) -> None:
        """Show an error in plain words; if a user or collection vanished, re-read what is there."""
        message_boxes.show_error(self, action, exc)
        if isinstance(exc, ResourceNotFoundException):
            cid = self.current_collection()
            try:
                if cid is not None and self.collections_model.row_of(cid) is not None:
                    self.engine.describe_collection(CollectionId=cid)
                    # keep the faces and their selection; only the user list is re-read
                    user = self.current_user()
                    self.users_model.load(cid, self.users_model.pins())
                    self.select_user(user if user in self.users_model.user_ids() else None)
            except ResourceNotFoundException:
                self.reload_collections()

    @Slot(str)
    def _on_thumbnail_failure(self, message: str) -> None:
        self.statusBar().showMessage(message, 6000)

    def show_results(self) -> None:
        self.results_dock.show()
        self.results_dock.raise_()

    # -- curation commands -----------------------------------------------------------------------
    @Slot(str, object)
    def _on_faces_dropped(self, user_id: str, payload) -> None:
        if payload.collection_id != self.current_collection():
            message_boxes.show_error(self, f"Dropping faces on {user_id}", ValueError(
                f"The faces come from collection {payload.collection_id}, but {user_id} is a user of "
                f"{self.current_collection()}; faces can only go to users of their own collection."))
            return
        self.curation.associate(user_id, payload.face_ids)

    @Slot(str)
    def _on_drop_refused(self, why: str) -> None:
        message_boxes.show_error(self, "Dropping faces", ValueError(why))

    @Slot()
    def _associate_selected(self) -> None:
        user_id = self.current_user()
        if user_id is None:
            self.statusBar().showMessage("Select a user to associate the faces with.", 4000)
            return
        self.curation.associate(user_id, self.selected_face_ids())

    @Slot(int)
    def _on_pinned_key(self, key: int) -> None:
        user_id = self.users_model.pinned_user(key)
        if user_id is None:
            self.statusBar().showMessage(f"No user is pinned to {key}. Select a user and press Ctrl+P to pin it.", 5000)
            return
        self.curation.associate(user_id, self.selected_face_ids(), quick=True)

    @Slot()
    def _disassociate_selected(self) -> None:
        self.curation.disassociate(self.selected_face_ids())

    @Slot()
    def _not_this_person_selected(self) -> None:
        user_id = self.current_user()
        if user_id is None:
            self.statusBar().showMessage("Select the user these faces are not.", 4000)
            return
        self.curation.not_this_person(user_id, self.selected_face_ids())

    @Slot()
    def _delete_selected(self) -> None:
        self.curation.delete_faces(self.selected_face_ids())

    # -- collections and users -------------------------------------------------------------------
    @Slot()
    def _ask_new_collection(self) -> None:
        name = message_boxes.ask_text(self, "New collection", "Collection id (letters, digits, . _ -):")
        if name:
            self.create_collection(name)

    def create_collection(self, collection_id: str) -> bool:
        try:
            self.engine.create_collection(CollectionId=collection_id)
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"Creating collection {collection_id}", exc)
            return False
        self.collections_model.add(collection_id)
        self.select_collection(collection_id)
        self._update_empty_hint()
        return True

    @Slot()
    def _ask_delete_collection(self) -> None:
        cid = self.current_collection()
        if cid and message_boxes.confirm(self, "Delete collection", f"Delete collection {cid} with all its faces and "
                                         "users? This cannot be undone."):
            self.delete_collection(cid)

    def delete_collection(self, collection_id: str) -> bool:
        try:
            self.engine.delete_collection(CollectionId=collection_id)
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"Deleting collection {collection_id}", exc)
            return False
        self.undo_stack.clear()  # its commands name faces that no longer exist
        self.collections_model.remove(collection_id)
        if self.collections_model.rowCount():
            self.collections_view.setCurrentIndex(self.collections_model.index(0))
        else:
            self.users_model.load(None)
            self.face_model.load(None)
        self._update_empty_hint()
        self._update_actions()
        return True

    @Slot()
    def _ask_new_user(self) -> None:
        if self.current_collection() is None:
            return
        name = message_boxes.ask_text(self, "New user", "User id (letters, digits, . _ - :):")
        if name:
            self.create_user(name)

    def create_user(self, user_id: str) -> bool:
        cid = self.current_collection()
        try:
            self.engine.create_user(CollectionId=cid, UserId=user_id)
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"Creating user {user_id}", exc)
            return False
        row = self.users_model.add(user_id)
        self.users_view.setCurrentIndex(self.users_model.index(row))
        self.collections_model.refresh_counts(cid)
        return True

    @Slot()
    def _ask_delete_user(self) -> None:
        uid = self.current_user()
        if uid and message_boxes.confirm(self, "Delete user", f"Delete user {uid}? Its faces stay in the collection, "
                                         "unassigned. This cannot be undone."):
            self.delete_user(uid)

    def delete_user(self, user_id: str) -> bool:
        cid = self.current_collection()
        try:
            owned = [f["FaceId"] for f in self.engine.list_faces(CollectionId=cid, UserId=user_id, MaxResults=100)["Faces"]]
            self.engine.delete_user(CollectionId=cid, UserId=user_id)
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"Deleting user {user_id}", exc)
            return False
        self.users_model.remove(user_id)
        self.faces_changed(cid, owned, [])
        return True

    @Slot()
    def _pin_current_user(self) -> None:
        uid = self.current_user()
        if uid is None:
            return
        key = self.users_model.pin(uid)
        if key is None:
            self.statusBar().showMessage("All nine number keys are taken; unpin a user first.", 5000)
        else:
            self.statusBar().showMessage(f"{uid} is on key {key}: press {key} in the face grid to associate faces.", 5000)
            self._save_pins()

    @Slot()
    def _unpin_current_user(self) -> None:
        uid = self.current_user()
        if uid:
            self.users_model.unpin(uid)
            self._save_pins()

    @Slot()
    def _open_enrollment(self) -> None:
        if self.enrollment is None:
            # imported on first use: the window starts without the capture stack
            from .enrollment_controller import EnrollmentController

            self.enrollment = EnrollmentController(self)
        self.enrollment.open_panel(self.current_collection())

    # -- import (see ImportController) and reports --------------------------------------------------
    @Slot()
    def _ask_import_files(self) -> None:
        self.importer.ask_files()

    @Slot()
    def _ask_import_folder(self) -> None:
        self.importer.ask_folder()

    def import_photos(self, paths) -> Task | None:
        return self.importer.import_photos(paths)

    # -- reports ---------------------------------------------------------------------------------
    def _ask_export(self, scope: str, *_checked) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export report", f"rekurator-{scope}-report.json", "JSON (*.json)")
        if path:
            self.export_report(path, scope)

    def export_report(self, path, scope: str = "session"):
        if scope != "session" and self.act_export_workspace in self.unavailable:
            self.report_error("Exporting the workspace report", ValueError(self.unavailable[self.act_export_workspace]))
            return None
        try:
            report = journal_report(self.engine, since_seq=self.session_start_seq, kind="session") if scope == "session" \
                else journal_report(self.engine)
            written = write_report(report, path)
        except Exception as exc:  # noqa: BLE001
            self.report_error("Exporting the report", exc)
            return None
        self.statusBar().showMessage(f"Report written to {written} ({len(report['Operations'])} operations).", 6000)
        return written

    # -- keyboard focus --------------------------------------------------------------------------
    def _focus(self, pane: str, *_checked) -> None:
        {"collections": self.collections_view, "users": self.users_view, "faces": self.face_grid}[pane].setFocus()

    # -- status and closing ----------------------------------------------------------------------
    @Slot(int, str)
    def _on_tasks_changed(self, count: int, name: str) -> None:
        self.busy_bar.setVisible(count > 0)
        self.busy_label.setText(f"{name}…" if count else "")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._start_up_frozen:
            self._start_up_frozen = True
            # what exists once the window is up (modules, Qt wrappers, the engine) lives for the
            # whole session: out of the collector's way, a full collection no longer walks it,
            # which halves the longest event-loop stall while scrolling a large grid
            QTimer.singleShot(0, gc.freeze)

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.tasks.stop_all()
        self.thumbnails.shutdown()
        super().closeEvent(event)

    def quit_soon(self, msecs: int) -> None:
        QTimer.singleShot(msecs, self, self.close)


def read_changes(engine, collection_id: str, face_ids: list[str], user_ids: list[str], worker=None) -> dict:
    """What the window re-reads after an edit (runs in a worker)."""
    faces: dict[str, dict] = {}
    ids = list(dict.fromkeys(face_ids))
    for start in range(0, len(ids), 4096):
        chunk = ids[start : start + 4096]
        page = engine.list_faces(CollectionId=collection_id, FaceIds=chunk, MaxResults=len(chunk))
        faces.update({f["FaceId"]: f for f in page["Faces"]})
    return {"faces": faces, "counts": face_counts(engine, collection_id, user_ids),
            "collection": describe_entry(engine, collection_id)}
