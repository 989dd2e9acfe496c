"""The curation edits: plan, preview, run, show the outcome, keep the history; undo and redo.

Every backend call goes through the window's operation runner (a worker thread); results come back
by signal and stale ones are dropped. Each edit is one backend operation returning a change set,
which the window applies to its models in place and which the history command keeps for undo.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QWidget

from app.core.association_plan import MAX_FACES_PER_USER

from . import association_preview as ap
from . import message_boxes
from .association_panel import AssociationPreviewDialog, remembered_threshold
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
        self.history_busy = False  # an undo or redo is running in the background

    # -- association ---------------------------------------------------------------------------
    def associate(self, user_id: str, face_ids, quick: bool = False) -> None:
        """Plan in the background, then open the preview (or, for a pinned key with no face owned by
        another user, associate straight away)."""
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
        request = ap.plan_request(collection_id, user_id, face_ids, remembered_threshold(), move=True)
        w.statusBar().showMessage(f"Previewing the association with {user_id}…", 2000)
        self.runner.run(f"Previewing the association with {user_id}", partial(_plan, self.engine, request),
                        partial(self._plan_ready, request, quick),
                        partial(self._plan_failed, user_id), key="drop-plan", scope=collection_id)

    def _plan_ready(self, request: dict, quick: bool, plan: dict) -> None:
        rows = ap.rows_from_plan(plan)
        if quick and not ap.has_owned_faces(rows):
            self.run(ap.AssociationRequest(request["CollectionId"], request["UserId"], tuple(request["FaceIds"]),
                                           request["UserMatchThreshold"], False))
            return
        w = self.window
        dialog = AssociationPreviewDialog(self.engine, self.runner, request["CollectionId"], request["UserId"],
                                          request["FaceIds"], plan, w.thumbnails, self.dialog_parent)
        if self.preview_dialog is not None:
            self.preview_dialog.close()
        self.preview_dialog = dialog
        dialog.accepted.connect(self._on_preview_accepted)
        dialog.finished.connect(self._on_preview_finished)
        dialog.open()

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
                text = f"Associate {_plural(n_new, 'face')} and move {n_moved} to {request.user_id}"
            elif n_moved:
                text = f"Move {_plural(n_moved, 'face')} from {', '.join(outcome.moved)} to {request.user_id}"
            else:
                text = f"Associate {_plural(n_new, 'face')} with {request.user_id}"
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
            w.undo_stack.push(ChangeSetCommand(self, f"Disassociate {_plural(len(outcome.freed_ids), 'face')} from {users}",
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
            w.undo_stack.push(ChangeSetCommand(self, f"Mark {_plural(n, 'face')} as not {outcome.user_id}",
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
        if not message_boxes.confirm(self.dialog_parent, "Delete faces", f"Delete {len(face_ids)} face(s) from {collection_id}? "
                                     "Faces that belong to a user are kept. This cannot be undone."):
            return
        self.runner.run("Deleting faces", partial(_delete_faces, self.engine, collection_id, face_ids),
                        partial(self._deletion_done, collection_id, face_ids),
                        partial(self._edit_failed, "Deleting faces", collection_id, face_ids, []))

    def _deletion_done(self, collection_id: str, face_ids: list[str], response: dict) -> None:
        w = self.window
        w.results_panel.show_deletion(response)
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
        self.history_busy = True
        self.window.update_history_actions()
        self.runner.run(f"{verb}: {command.text()}", job, partial(self._history_done, command, verb, move_stack),
                        partial(self._history_failed, command, verb), on_ended=self._history_ended)

    def _history_done(self, command: BackgroundCommand, verb: str, move_stack, result) -> None:
        command.last_result = result
        move_stack()  # calls command.undo()/redo(), which show the result
        self.window.statusBar().showMessage(f"{verb} done: {command.text()}", 6000)

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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _plan(engine, request: dict, worker=None) -> dict:
    return engine.plan_association(**request)


def _delete_faces(engine, collection_id: str, face_ids: list[str], worker=None) -> dict:
    deleted, unsuccessful = [], []
    for start in range(0, len(face_ids), 4096):  # DeleteFaces takes at most 4096 ids
        r = engine.delete_faces(CollectionId=collection_id, FaceIds=face_ids[start : start + 4096])
        deleted += r["DeletedFaces"]
        unsuccessful += r["UnsuccessfulFaceDeletions"]
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}
