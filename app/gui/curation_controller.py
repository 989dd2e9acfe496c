"""The curation edits: plan, preview, run, show the outcome, keep the history; undo and redo.

Every backend call goes through the window's operation runner (a worker thread); results come back
by signal and stale ones are dropped. Each edit is one backend operation returning a change set,
which the window applies to its models in place and which the history command keeps for undo.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD, MAX_FACES_PER_USER

from . import association_preview as ap
from . import message_boxes
from . import reason_text as words
from .association_panel import AssociationPreviewDialog, below_default_text, preview_threshold, quick_confirm_chosen
from .curation_jobs import (
    AssociationOutcome,
    DisassociationOutcome,
    NotThisPersonOutcome,
    run_association,
    run_disassociation,
    run_not_this_person,
)
from .undo_commands import BackgroundCommand, ChangeSetCommand
from .window_context import WindowContext

if TYPE_CHECKING:
    from .main_window import MainWindow


class CurationController(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window: WindowContext = window  # all it uses of the window
        self.dialog_parent: QWidget = window
        self.engine = window.engine
        self.runner = window.runner
        self.preview_dialog: AssociationPreviewDialog | None = None
        self.quick_box: QMessageBox | None = None  # the one-line confirmation of a number key
        self.history_busy = False  # an undo or redo is running in the background

    # -- association ---------------------------------------------------------------------------
    def associate(self, user_id: str, face_ids, quick: bool = False) -> None:
        """Plan in the background, then open the preview. For a pinned number key (`quick`) the operator may
        have chosen a one-line confirmation instead, unless a face belongs to another user."""
        w = self.window
        collection_id = w.current_collection()
        face_ids = list(dict.fromkeys(face_ids))
        if collection_id is None or not face_ids:
            w.statusBar().showMessage("Select faces first.", 4000)
            return
        if len(face_ids) > MAX_FACES_PER_USER:
            message_boxes.show_error(self.dialog_parent, f"Associating {len(face_ids)} faces with {user_id}", ValueError(
                f"AssociateFaces takes at most {MAX_FACES_PER_USER} faces at a time (a user holds at most "
                f"{MAX_FACES_PER_USER}); select fewer faces."))
            return
        request = ap.plan_request(collection_id, user_id, face_ids, preview_threshold(), move=True)
        w.statusBar().showMessage(f"Previewing the association with {user_id}…", 2000)
        self.runner.run(f"Previewing the association with {user_id}", partial(ap.plan_job, self.engine, request),
                        partial(self._plan_ready, request, quick),
                        partial(self._plan_failed, user_id), key="drop-plan", scope=collection_id)

    def _plan_ready(self, request: dict, quick: bool, plan: dict) -> None:
        rows = ap.rows_from_plan(plan)
        if quick and quick_confirm_chosen() and not ap.has_owned_faces(rows):
            self._ask_in_one_line(request, plan, rows)
            return
        self._open_preview(request, plan, quick)

    def _open_preview(self, request: dict, plan: dict, from_number_key: bool = False) -> None:
        w = self.window
        dialog = AssociationPreviewDialog(self.engine, self.runner, request["CollectionId"], request["UserId"],
                                          request["FaceIds"], plan, w.thumbnails, self.dialog_parent,
                                          names=w.face_model.photo_name, from_number_key=from_number_key)
        if self.preview_dialog is not None:
            self.preview_dialog.close()
        self.preview_dialog = dialog
        dialog.accepted.connect(self._on_preview_accepted)
        dialog.finished.connect(self._on_preview_finished)
        dialog.open()

    def _ask_in_one_line(self, request: dict, plan: dict, rows: list[ap.PreviewRow]) -> None:
        """The operator's choice for number keys: one line naming the outcome, Enter associates."""
        user_id, threshold = request["UserId"], float(request["UserMatchThreshold"])
        text = f"{words.count(len(rows), 'face')} → {user_id}: {ap.summary(rows)}."
        box = QMessageBox(QMessageBox.Icon.Question, "Associate faces", text, QMessageBox.StandardButton.NoButton,
                          self.dialog_parent)
        box.setObjectName("quickConfirmBox")
        if threshold < DEFAULT_USER_MATCH_THRESHOLD:
            box.setInformativeText(below_default_text(threshold))
        ok = box.addButton("&Associate", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("&Preview…", QMessageBox.ButtonRole.ActionRole).setObjectName("quickPreview")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(ok)
        box.buttonClicked.connect(partial(self._one_line_answered, box, request, plan, rows))
        self.quick_box = box
        box.open()

    def _one_line_answered(self, box: QMessageBox, request: dict, plan: dict, rows: list[ap.PreviewRow],
                           button: QAbstractButton) -> None:
        role = box.buttonRole(button)
        if self.quick_box is box:
            self.quick_box = None
        box.deleteLater()
        if role == QMessageBox.ButtonRole.AcceptRole:
            if any(r.outcome in (ap.ASSOCIATE, ap.UNCHECKED) for r in rows):
                self.run(ap.AssociationRequest(request["CollectionId"], request["UserId"], tuple(request["FaceIds"]),
                                               request["UserMatchThreshold"], False))
        elif role == QMessageBox.ButtonRole.ActionRole:
            self._open_preview(request, plan, from_number_key=True)

    def _plan_failed(self, user_id: str, exc: BaseException) -> None:
        self.window.report_error(f"Previewing the association with {user_id}", exc)

    @Slot()
    def _on_preview_accepted(self) -> None:
        dialog = self.sender()
        assert isinstance(dialog, AssociationPreviewDialog)
        self.run(dialog.request())

    @Slot(int)
    def _on_preview_finished(self, _result: int) -> None:
        dialog = self.sender()
        if dialog is self.preview_dialog:
            self.preview_dialog = None
        dialog.deleteLater()

    def run(self, request: ap.AssociationRequest):
        w = self.window
        w.users_model.set_busy([request.user_id], True)
        return self.runner.run(f"Associating faces with {request.user_id}", partial(run_association, self.engine, request),
                               self._association_done, partial(self._association_failed, request),
                               on_ended=partial(w.users_model.set_busy, [request.user_id], False))

    def _association_done(self, outcome: AssociationOutcome) -> None:
        w = self.window
        request = outcome.request
        if outcome.change_set["FaceChanges"]:
            n_moved = sum(len(ids) for ids in outcome.moved.values())
            n_new = len(outcome.associated)
            if n_moved and n_new:
                text = f"Associate {words.count(n_new, 'face')} and move {n_moved} to {request.user_id}"
            elif n_moved:
                text = f"Move {words.count(n_moved, 'face')} from {', '.join(outcome.moved)} to {request.user_id}"
            else:
                text = f"Associate {words.count(n_new, 'face')} with {request.user_id}"
            w.undo_stack.push(ChangeSetCommand(self, text, outcome.change_set))
        w.results_panel.show_association(outcome)
        w.show_results()
        self.apply_change_set(outcome.change_set)

    def _association_failed(self, request: ap.AssociationRequest, exc: BaseException) -> None:
        self.window.report_error(f"Associating faces with {request.user_id}", exc)
        self.window.workspace.faces_changed(request.collection_id, list(request.face_ids), [request.user_id])

    # -- disassociation, "not this person", deletion -----------------------------------------------
    def disassociate(self, face_ids) -> None:
        w = self.window
        collection_id = w.current_collection()
        by_user: dict[str, list[str]] = {}
        for fid in face_ids:
            row = w.face_model.row_of(fid)
            owner = w.face_model.entry(row).user_id if row is not None else None
            if owner:
                by_user.setdefault(owner, []).append(fid)
        if collection_id is None or not by_user:
            w.statusBar().showMessage("None of the selected faces is assigned to a user.", 4000)
            return
        w.users_model.set_busy(list(by_user), True)
        self.runner.run("Disassociating faces", partial(run_disassociation, self.engine, collection_id, by_user),
                        self._disassociation_done, partial(self._edit_failed, "Disassociating faces", collection_id,
                                                           list(face_ids), list(by_user)),
                        on_ended=partial(w.users_model.set_busy, list(by_user), False))

    def _disassociation_done(self, outcome: DisassociationOutcome) -> None:
        w = self.window
        if outcome.freed_ids:
            users = ", ".join(outcome.disassociated)
            w.undo_stack.push(ChangeSetCommand(self, f"Disassociate {words.count(len(outcome.freed_ids), 'face')} from {users}",
                                               outcome.change_set))
        w.results_panel.show_disassociation(outcome)
        w.show_results()
        self.apply_change_set(outcome.change_set)
        for user_id, exc in outcome.errors.items():
            w.report_error(f"Disassociating faces from {user_id}", exc)

    def not_this_person(self, user_id: str, face_ids) -> None:
        w = self.window
        collection_id = w.current_collection()
        face_ids = list(dict.fromkeys(face_ids))
        if collection_id is None or not face_ids:
            w.statusBar().showMessage("Select faces first.", 4000)
            return
        w.users_model.set_busy([user_id], True)
        self.runner.run(f"Marking faces as not {user_id}",
                        partial(run_not_this_person, self.engine, collection_id, user_id, face_ids),
                        self._not_this_person_done,
                        partial(self._edit_failed, f"Marking faces as not {user_id}", collection_id, face_ids, [user_id]),
                        on_ended=partial(w.users_model.set_busy, [user_id], False))

    def _not_this_person_done(self, outcome: NotThisPersonOutcome) -> None:
        w = self.window
        if outcome.marked or outcome.disassociated:
            n = len(set(outcome.disassociated) | set(outcome.marked))
            w.undo_stack.push(ChangeSetCommand(self, f"Mark {words.count(n, 'face')} as not {outcome.user_id}",
                                               outcome.change_set, {"UserId": outcome.user_id, "FaceIds": outcome.marked}))
        w.results_panel.show_not_this_person(outcome)
        w.show_results()
        self.apply_change_set(outcome.change_set)
        w.workspace.refresh_rejected()

    def delete_faces(self, face_ids) -> None:
        w = self.window
        collection_id = w.current_collection()
        face_ids = list(dict.fromkeys(face_ids))
        if collection_id is None or not face_ids:
            w.statusBar().showMessage("Select faces first.", 4000)
            return
        owned = sum(1 for f in face_ids if (row := w.face_model.row_of(f)) is not None and w.face_model.entry(row).user_id)
        text = f"Delete {words.count(len(face_ids), 'face')} from {collection_id}?"
        if owned:
            text += f" {owned} of them belong to a user and are kept (DeleteFaces leaves a user's faces alone)."
        if not message_boxes.confirm(self.dialog_parent, "Delete faces", text + " This cannot be undone.", "&Delete"):
            return
        self.runner.run("Deleting faces", partial(_delete_faces, self.engine, collection_id, face_ids),
                        partial(self._deletion_done, collection_id, face_ids),
                        partial(self._edit_failed, "Deleting faces", collection_id, face_ids, []))

    def _deletion_done(self, collection_id: str, face_ids: list[str], response: dict) -> None:
        w = self.window
        w.results_panel.show_deletion(collection_id, response)
        w.show_results()
        w.thumbnails.forget(collection_id, response["DeletedFaces"])
        w.workspace.faces_changed(collection_id, face_ids, [])

    def _edit_failed(self, action: str, collection_id: str, face_ids: list[str], user_ids: list[str],
                     exc: BaseException) -> None:
        self.window.report_error(action, exc)
        self.window.workspace.faces_changed(collection_id, face_ids, user_ids)

    # -- undo and redo: the backend first, then the stack -----------------------------------------
    def undo(self) -> None:
        stack = self.window.undo_stack
        if self.history_busy or not stack.canUndo():
            return
        command = stack.command(stack.index() - 1)
        assert isinstance(command, BackgroundCommand)
        self._run_history(command, "Undo", command.undo_job(self.engine), stack.undo)

    def redo(self) -> None:
        stack = self.window.undo_stack
        if self.history_busy or not stack.canRedo():
            return
        command = stack.command(stack.index())
        assert isinstance(command, BackgroundCommand)
        self._run_history(command, "Redo", command.redo_job(self.engine), stack.redo)

    def _run_history(self, command: BackgroundCommand, verb: str, job, move_stack) -> None:
        w = self.window
        if command.collection_id != w.current_collection():
            # the edit was made in another collection: go there first, so the curator sees what changes
            w.select_collection(command.collection_id)
            w.statusBar().showMessage(f"{verb}: switched to collection {command.collection_id}", 4000)
        self.history_busy = True
        w.update_history_actions()
        self.runner.run(f"{verb}: {command.text()}", job, partial(self._history_done, command, verb, move_stack),
                        partial(self._history_failed, command, verb), on_ended=self._history_ended)

    def _history_done(self, command: BackgroundCommand, verb: str, move_stack, result) -> None:
        command.last_result = result
        earlier = (getattr(command, "done_change_set", None), getattr(command, "undone_change_set", None))
        move_stack()  # calls command.undo()/redo(), which show the result
        w = self.window
        if isinstance(result, dict) and "FaceChanges" in result:
            w.results_panel.show_history(verb, command.text(), result, *earlier)
            w.show_results()
        w.statusBar().showMessage(f"{'Undone' if verb == 'Undo' else 'Redone'}: {command.text()}", 8000)

    def _history_failed(self, command: BackgroundCommand, verb: str, exc: BaseException) -> None:
        self.window.report_error(f"{verb} {command.text()[0].lower()}{command.text()[1:]}", exc)

    def _history_ended(self) -> None:
        self.history_busy = False
        self.window.update_history_actions()

    # -- the commands' sink ----------------------------------------------------------------------
    def apply_change_set(self, change_set: dict) -> None:
        self.window.workspace.apply_change_set(change_set)

    def faces_changed(self, collection_id: str, face_ids, user_ids) -> None:
        self.window.workspace.faces_changed(collection_id, list(face_ids), list(user_ids))


def _delete_faces(engine, collection_id: str, face_ids: list[str], worker=None) -> dict:
    deleted, unsuccessful = [], []
    for start in range(0, len(face_ids), 4096):  # DeleteFaces takes at most 4096 ids
        r = engine.delete_faces(CollectionId=collection_id, FaceIds=face_ids[start : start + 4096])
        deleted += r["DeletedFaces"]
        unsuccessful += r["UnsuccessfulFaceDeletions"]
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}
