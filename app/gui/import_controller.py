"""Photo imports for the window (a worker, its progress and results) and the first-run demo offer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core.capabilities import LOCAL_ANALYSIS, capabilities_of
from app.workflows.photo_files import find_photos
from app.workflows.photo_import import ImportHooks, ImportOptions, ImportOutcome, import_photos

from . import demo_collection, message_boxes
from .settings import KEY_DEMO_OFFERED, KEY_IMPORT_FOLDER, app_settings
from .workers import Task, Worker

PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.JPG *.JPEG *.PNG)"


@dataclass
class ImportSummary:
    outcome: ImportOutcome
    new_faces: int  # faces the collection gained (a re-imported photo's faces were there already)

    @property
    def already_indexed(self) -> int:
        return max(0, len(self.outcome.face_ids) - self.new_faces)


def _face_count(engine, collection_id: str) -> int:
    return int(engine.describe_collection(CollectionId=collection_id)["FaceCount"])


def start_folder() -> str:
    """Where the import dialogs open: the folder used last, else the user's Pictures folder, else home."""
    last = app_settings().value(KEY_IMPORT_FOLDER)
    if isinstance(last, str) and last and Path(last).is_dir():
        return last
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return pictures if pictures and Path(pictures).is_dir() else str(Path.home())


def remember_folder(folder: str) -> None:
    app_settings().setValue(KEY_IMPORT_FOLDER, folder)


def _import_job(engine, collection_id: str, paths: list, worker: Worker) -> ImportSummary:
    """The import, in the worker thread: files and folders searched, each photo analysed and stored; each
    file's result goes to the panel as soon as it is known."""
    photos = find_photos(paths).photos
    before = _face_count(engine, collection_id)
    hooks = ImportHooks(on_progress=worker.report, should_cancel=lambda: worker.is_cancelled, on_result=worker.deliver)
    outcome = import_photos(engine, collection_id, photos, ImportOptions(quality_filter="AUTO"), hooks)
    return ImportSummary(outcome, max(0, _face_count(engine, collection_id) - before))


class ImportController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.engine = window.engine
        self.task: Task | None = None  # the running import (one at a time)
        self.demo_offer: QMessageBox | None = None
        window.import_panel.cancel_requested.connect(self.cancel)

    @Slot()
    def ask_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Import photos", start_folder(), PHOTO_FILTER)
        if paths:
            remember_folder(str(Path(paths[0]).parent))
            self.import_photos(paths)

    @Slot()
    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Import a folder of photos", start_folder())
        if folder:
            remember_folder(str(Path(folder).parent))
            self.import_photos([folder])

    def import_photos(self, paths) -> Task | None:
        w = self.window
        cid = w.current_collection()
        if cid is None:
            w.statusBar().showMessage("Create or select a collection first.", 4000)
            return None
        if self.task is not None:
            w.statusBar().showMessage("An import is running; wait for it or cancel it.", 4000)
            return None
        task = Task(partial(_import_job, self.engine, cid, list(paths)), f"Importing photos into {cid}", cid, w)
        task.progressed.connect(w.import_panel.on_progress)
        task.delivered.connect(w.import_panel.add_result)
        task.succeeded.connect(self._done)
        task.failed.connect(self._failed)
        task.cancelled.connect(self._cancelled)
        task.ended.connect(self._ended)
        self.task = task
        w.import_panel.started(cid)
        w.import_dock.show()
        w.import_dock.raise_()
        return w.tasks.start(task)

    @Slot()
    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.window.import_panel.cancel.setEnabled(False)

    @Slot(object)
    def _done(self, summary: ImportSummary) -> None:
        self.window.import_panel.show_results(summary.outcome, summary.new_faces)
        self.window.workspace.faces_changed(summary.outcome.collection_id, summary.outcome.face_ids, [])

    @Slot(object)
    def _failed(self, exc) -> None:
        self.window.import_panel.ended(f"The import stopped: {message_boxes.plain_words(exc)}")
        self.window.report_error("Importing photos", exc)
        self.window.workspace.reload_faces()

    @Slot()
    def _cancelled(self) -> None:
        self.window.import_panel.ended("Import cancelled.")
        self.window.workspace.reload_faces()

    @Slot()
    def _ended(self) -> None:
        self.task = None

    # -- first run ----------------------------------------------------------------------------------
    @Slot()
    def offer_demo(self) -> None:
        """On an empty workspace, once per user: offer a demo collection made from the sample photos.

        Not on a remote endpoint: an empty one there is someone's account, not a first run.
        """
        w = self.window
        if LOCAL_ANALYSIS not in capabilities_of(self.engine):
            return
        crash = w.previous_crash_box
        if crash is not None and crash.isVisible():  # the crash notice first, never hidden behind this offer
            crash.finished.connect(self.offer_demo)
            return
        settings = app_settings()
        photos = demo_collection.sample_photos()
        if w.collections_model.rowCount() or not photos or settings.value(KEY_DEMO_OFFERED, False, bool):
            return
        settings.setValue(KEY_DEMO_OFFERED, True)
        box = QMessageBox(QMessageBox.Icon.Question, "Rekurator",
                          f"This workspace is empty. Create a collection named “{demo_collection.DEMO_COLLECTION}” "
                          f"from {len(photos)} sample photos to try things out?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, w)
        box.setObjectName("demoOffer")
        box.setInformativeText("The photos are analysed on this computer; the face models load on first use.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._on_demo_answer)
        self.demo_offer = box
        box.open()

    @Slot(int)
    def _on_demo_answer(self, result: int) -> None:
        self.demo_offer = None
        if result == QMessageBox.StandardButton.Yes:
            self.create_demo()

    def create_demo(self) -> None:
        """Create the demo collection, then import the sample photos into it (both in the background)."""
        self.window.workspace.create_collection(demo_collection.DEMO_COLLECTION,
                                                then=lambda: self.import_photos(demo_collection.sample_photos()))
