"""The window's commands: what each action, drop and key does (the flows are in the controllers).

`handlers()` maps every action of the registry (window_actions.ACTIONS) to its handler.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog

from app.workflows.journal_report import journal_report, last_journal_seq, write_report

from . import message_boxes, name_dialog, people_actions
from .face_model import FaceFilter
from .reason_text import count

if TYPE_CHECKING:
    from .main_window import MainWindow

FILTERS = {"showAllFaces": FaceFilter.ALL, "showUnassignedFaces": FaceFilter.UNASSIGNED, "showUserFaces": FaceFilter.USER}


class WindowCommands(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.w = window
        window.users_view.faces_dropped.connect(self._on_faces_dropped)
        window.users_view.drop_refused.connect(self._on_drop_refused)
        window.face_grid.pinned_key_pressed.connect(self._on_pinned_key)

    def handlers(self) -> dict:
        w, cur, sim = self.w, self.w.curation, self.w.similarity
        return {
            "newCollection": self._ask_new_collection, "deleteCollection": self._ask_delete_collection,
            "importPhotos": self.importer_files, "importFolder": self.importer_folder,
            "exportSession": partial(self._ask_export, "session"),
            "exportWorkspace": partial(self._ask_export, "workspace"), "quit": w.close,
            "undo": cur.undo, "redo": cur.redo, "newUser": self._ask_new_user, "deleteUser": self._ask_delete_user,
            "pinUser": self._pin_current_user, "unpinUser": self._unpin_current_user,
            "enrollFromCamera": self._open_enrollment, "associate": self._associate_selected,
            "disassociate": lambda: cur.disassociate(w.selected_face_ids()),
            "notThisPerson": self._not_this_person_selected,
            "deleteFaces": lambda: cur.delete_faces(w.selected_face_ids()),
            "searchSimilar": sim.search_selected, "sortByFace": sim.sort_by_face, "sortByUser": sim.sort_by_user,
            "sortByIndex": w.workspace.reload_faces, "sourcePhoto": w.source_photo.toggle,
            "goCollections": partial(w.focus_pane, "collections"), "goUsers": partial(w.focus_pane, "users"),
            "goFaces": partial(w.focus_pane, "faces"),
            **{name: partial(w.set_filter, value) for name, value in FILTERS.items()},
            **people_actions.handlers(w),
        }

    @Slot(str, object)
    def _on_faces_dropped(self, user_id: str, payload) -> None:
        if payload.collection_id != self.w.current_collection():
            message_boxes.show_error(self.w, f"Dropping faces on {user_id}", ValueError(
                f"The faces come from collection {payload.collection_id}, but {user_id} is a user of "
                f"{self.w.current_collection()}; faces can only go to users of their own collection."))
            return
        self.w.curation.associate(user_id, payload.face_ids)

    @Slot(str)
    def _on_drop_refused(self, why: str) -> None:
        message_boxes.show_error(self.w, "Dropping faces", ValueError(why))

    def _associate_selected(self) -> None:
        user_id = self.w.current_user()
        if user_id is None:
            self.w.statusBar().showMessage("Select a user to associate the faces with.", 4000)
            return
        self.w.curation.associate(user_id, self.w.selected_face_ids())

    @Slot(int)
    def _on_pinned_key(self, key: int) -> None:
        user_id = self.w.users_model.pinned_user(key)
        if user_id is None:
            self.w.statusBar().showMessage(f"No user is pinned to {key}. Select a user and press Ctrl+P to pin it.", 5000)
            return
        self.w.curation.associate(user_id, self.w.selected_face_ids(), quick=True)

    def _not_this_person_selected(self) -> None:
        user_id = self.w.current_user()
        if user_id is None:
            self.w.statusBar().showMessage("Select the user these faces are not.", 4000)
            return
        self.w.curation.not_this_person(user_id, self.w.selected_face_ids())

    def _ask_new_collection(self, *_checked) -> None:
        self._new_collection_prompt()

    def _ask_new_user(self, *_checked) -> None:
        self._new_user_prompt()

    def _new_collection_prompt(self, text: str = "", error: str = "") -> None:
        model = self.w.collections_model
        existing = [model.entry(r).collection_id for r in range(model.rowCount())]
        name = name_dialog.ask_name(self.w, "collection", "New collection", existing, text, error)
        if name:  # refused by the backend: ask again, the name kept and the reason under it
            self.w.workspace.create_collection(name, failed=partial(self._new_name_refused, self._new_collection_prompt, name))

    def _new_user_prompt(self, text: str = "", error: str = "") -> None:
        if self.w.current_collection() is not None:
            name = name_dialog.ask_name(self.w, "user", "New user", self.w.users_model.user_ids(), text, error)
            if name:
                self.w.workspace.create_user(name, failed=partial(self._new_name_refused, self._new_user_prompt, name))

    def _new_name_refused(self, ask_again, name: str, exc: BaseException) -> None:
        ask_again(name, getattr(exc, "message", None) or str(exc))

    def _ask_delete_collection(self) -> None:
        cid = self.w.current_collection()
        if not cid:
            return
        row = self.w.collections_model.row_of(cid)
        entry = self.w.collections_model.entry(row) if row is not None else None
        what = f" with its {count(entry.face_count, 'face')} and {count(entry.user_count, 'user')}" if entry else ""
        if message_boxes.confirm(self.w, "Delete collection", f"Delete collection {cid}{what}? This cannot be undone.",
                                 "&Delete collection"):
            self.w.workspace.delete_collection(cid)

    def _ask_delete_user(self) -> None:
        uid = self.w.current_user()
        if not uid:
            return
        row = self.w.users_model.row_of(uid)
        n = self.w.users_model.entry(row).face_count if row is not None else None
        faces = f"Its {count(n, 'face')} stay in the collection, unassigned." if n else "It has no faces."
        if message_boxes.confirm(self.w, "Delete user", f"Delete user {uid}? {faces} This cannot be undone.",
                                 "&Delete user"):
            self.w.workspace.delete_user(uid)

    def _pin_current_user(self) -> None:
        uid = self.w.current_user()
        if uid is None:
            return
        key = self.w.users_model.pin(uid)
        if key is None:
            self.w.statusBar().showMessage("All nine number keys are taken; unpin a user first.", 5000)
        else:
            self.w.statusBar().showMessage(f"{uid} is on key {key}: press {key} in the face grid to associate faces.", 5000)
            self.w.workspace.save_pins()

    def _unpin_current_user(self) -> None:
        uid = self.w.current_user()
        if uid:
            self.w.users_model.unpin(uid)
            self.w.workspace.save_pins()

    def _open_enrollment(self) -> None:
        if self.w.enrollment is None:
            from .enrollment_controller import EnrollmentController  # the window starts without the capture stack

            self.w.enrollment = EnrollmentController(self.w)
        self.w.enrollment.open_panel(self.w.current_collection())

    def importer_files(self) -> None:
        self.w.importer.ask_files()

    def importer_folder(self) -> None:
        self.w.importer.ask_folder()

    def import_photos(self, paths):
        return self.w.importer.import_photos(paths)

    # -- reports ---------------------------------------------------------------------------------
    def journal_seq_read(self, seq: int) -> None:
        self.w.session_start_seq = seq

    def _ask_export(self, scope: str, *_checked) -> None:
        path, _ = QFileDialog.getSaveFileName(self.w, "Export report", f"rekurator-{scope}-report.json", "JSON (*.json)")
        if path:
            self.export_report(path, scope)

    def export_report(self, path, scope: str = "session"):
        """Build and write the report in the background; the call (its `result`: the path written)."""
        if scope != "session" and self.w.act_export_workspace in self.w.unavailable:
            self.w.report_error("Exporting the workspace report", ValueError(self.w.unavailable[self.w.act_export_workspace]))
            return None
        job = partial(export_job, self.w.engine, scope, self.w.session_start_seq, path)
        return self.w.runner.run("Exporting the report", job,
                               self._report_written, partial(self.w.report_error, "Exporting the report"))

    def _report_written(self, written) -> None:
        path, n = written
        self.w.statusBar().showMessage(f"Report written to {path} ({n} operations).", 6000)


def export_job(engine, scope: str, since_seq: int | None, path, worker=None) -> tuple:
    """Build the session (journal since `since_seq`) or workspace report and write it: (path, operations)."""
    if scope == "session":
        seq = since_seq if since_seq is not None else last_journal_seq(engine)
        report = journal_report(engine, since_seq=seq, kind="session")
    else:
        report = journal_report(engine)
    return write_report(report, path), len(report["Operations"])
