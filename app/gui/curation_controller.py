"""The curation edits: preview, run in a worker, show the outcome, push the undo command.

The window owns the widgets; this object owns the flow of each edit and is the sink the undo
commands report to. Every engine error reaches the user through show_error.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Slot

from app.core.association_plan import MAX_FACES_PER_USER
from app.core.capabilities import ASSOCIATION_PREVIEW, capabilities_of

from . import association_preview as ap
from . import message_boxes
from .association_panel import AssociationPreviewDialog, remembered_threshold
from .curation_jobs import AssociationPlan, run_association, run_disassociation, run_not_this_person
from .undo_commands import AssociateCommand, DisassociateCommand, NotThisPersonCommand
from .workers import Task


class CurationController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.engine = window.engine
        self.preview_dialog: AssociationPreviewDialog | None = None

    # -- association ---------------------------------------------------------------------------
    def associate(self, user_id: str, face_ids, quick: bool = False) -> None:
        """Start associating faces with a user: the preview dialog, or straight away for a quick key.

        A quick association still opens the preview when some faces belong to other users, since
        moving them is a choice the user has to make (without a dry run, ListFaces tells who owns them).
        """
        w = self.window
        collection_id = w.current_collection()
        face_ids = list(dict.fromkeys(face_ids))
        if collection_id is None or not face_ids:
            w.statusBar().showMessage("Select faces first.", 4000)
            return
        if len(face_ids) > MAX_FACES_PER_USER:
            message_boxes.show_error(w, f"Associating {len(face_ids)} faces with {user_id}", ValueError(
                f"AssociateFaces takes at most {MAX_FACES_PER_USER} faces at a time (a user holds at most "
                f"{MAX_FACES_PER_USER}); select fewer faces."))
            return
        try:
            if quick:
                threshold = remembered_threshold()
                if ASSOCIATION_PREVIEW in capabilities_of(self.engine):
                    preview = self.engine.preview_association(collection_id, user_id, face_ids, threshold)
                else:
                    preview = ap.ownership_preview(self.engine, collection_id, user_id, face_ids)
                if not any(ap.DIFFERENT_USER in f["Reasons"] for f in preview["UnsuccessfulFaceAssociations"]):
                    self.run(AssociationPlan(collection_id, user_id, tuple(face_ids), threshold))
                    return
            dialog = AssociationPreviewDialog(self.engine, collection_id, user_id, face_ids, w.thumbnails, w, w.tasks)
        except Exception as exc:  # noqa: BLE001 - e.g. the user was deleted by another program
            message_boxes.show_error(w, f"Previewing the association with {user_id}", exc)
            return
        if self.preview_dialog is not None:
            self.preview_dialog.close()
        self.preview_dialog = dialog
        dialog.accepted.connect(self._on_preview_accepted)
        dialog.finished.connect(self._on_preview_finished)
        dialog.open()

    @Slot()
    def _on_preview_accepted(self) -> None:
        dialog = self.sender()
        self.run(dialog.plan())

    @Slot(int)
    def _on_preview_finished(self, _result: int) -> None:
        dialog = self.sender()
        if dialog is self.preview_dialog:
            self.preview_dialog = None
        dialog.deleteLater()

    def run(self, plan: AssociationPlan) -> Task:
        w = self.window
        users = [plan.user_id, *plan.moves]
        w.users_model.set_busy(users, True)
        task = Task(partial(run_association, self.engine, plan), f"Associating faces with {plan.user_id}", plan, w)
        task.succeeded.connect(self._association_done)
        task.failed.connect(self._association_failed)
        task.ended.connect(self._task_ended)
        return w.tasks.start(task)

    @Slot(object)
    def _association_done(self, outcome) -> None:
        w = self.window
        plan = outcome.plan
        if outcome.associated or outcome.moved:
            w.undo_stack.push(AssociateCommand(self.engine, self, plan.collection_id, plan.user_id, outcome.associated,
                                               outcome.moved))
        w.results_panel.show_association(outcome)
        w.show_results()
        self.faces_changed(plan.collection_id, list(plan.face_ids), outcome.touched_users)
        if outcome.stranded:
            message_boxes.show_error(w, "Putting faces back on their users", RuntimeError(
                f"{len(outcome.stranded)} face(s) could not be put back and are now unassigned: "
                f"{', '.join(outcome.stranded)}"))

    @Slot(object)
    def _association_failed(self, exc) -> None:
        plan = self.sender().context
        self.window.report_error(f"Associating faces with {plan.user_id}", exc)
        self.faces_changed(plan.collection_id, list(plan.face_ids), [plan.user_id, *plan.moves])

    @Slot()
    def _task_ended(self) -> None:
        task = self.sender()
        ctx = task.context
        if isinstance(ctx, AssociationPlan):
            self.window.users_model.set_busy([ctx.user_id, *ctx.moves], False)
        elif isinstance(ctx, dict) and "users" in ctx:
            self.window.users_model.set_busy(ctx["users"], False)

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
        task = Task(partial(run_disassociation, self.engine, collection_id, by_user), "Disassociating faces",
                    {"users": list(by_user), "collection": collection_id, "faces": list(face_ids)}, w)
        task.succeeded.connect(self._disassociation_done)
        task.failed.connect(self._edit_failed)
        task.ended.connect(self._task_ended)
        w.tasks.start(task)

    @Slot(object)
    def _disassociation_done(self, outcome) -> None:
        w = self.window
        if outcome.freed_ids:
            w.undo_stack.push(DisassociateCommand(self.engine, self, outcome.collection_id, outcome.disassociated))
        w.results_panel.show_disassociation(outcome)
        w.show_results()
        ctx = self.sender().context
        self.faces_changed(outcome.collection_id, ctx["faces"], ctx["users"])
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
        task = Task(partial(run_not_this_person, self.engine, collection_id, user_id, face_ids),
                    f"Marking faces as not {user_id}", {"users": [user_id], "collection": collection_id, "faces": face_ids}, w)
        task.succeeded.connect(self._not_this_person_done)
        task.failed.connect(self._edit_failed)
        task.ended.connect(self._task_ended)
        w.tasks.start(task)

    @Slot(object)
    def _not_this_person_done(self, outcome) -> None:
        w = self.window
        if outcome.marked or outcome.disassociated:
            w.undo_stack.push(NotThisPersonCommand(self.engine, self, outcome.collection_id, outcome.user_id,
                                                   outcome.disassociated, outcome.marked))
        w.results_panel.show_not_this_person(outcome)
        w.show_results()
        ctx = self.sender().context
        self.faces_changed(outcome.collection_id, ctx["faces"], ctx["users"])

    def delete_faces(self, face_ids) -> None:
        w = self.window
        collection_id = w.current_collection()
        face_ids = list(dict.fromkeys(face_ids))
        if collection_id is None or not face_ids:
            w.statusBar().showMessage("Select faces first.", 4000)
            return
        if not message_boxes.confirm(w, "Delete faces", f"Delete {len(face_ids)} face(s) from {collection_id}? "
                                     "Faces that belong to a user are kept. This cannot be undone."):
            return
        task = Task(partial(_delete_faces, self.engine, collection_id, face_ids), "Deleting faces",
                    {"collection": collection_id, "faces": face_ids}, w)
        task.succeeded.connect(self._deletion_done)
        task.failed.connect(self._edit_failed)
        w.tasks.start(task)

    @Slot(object)
    def _deletion_done(self, response) -> None:
        w = self.window
        ctx = self.sender().context
        w.results_panel.show_deletion(response)
        w.show_results()
        w.thumbnails.forget(ctx["collection"], response["DeletedFaces"])
        self.faces_changed(ctx["collection"], ctx["faces"], [])

    @Slot(object)
    def _edit_failed(self, exc) -> None:
        ctx = self.sender().context
        self.window.report_error(self.sender().name, exc)
        self.faces_changed(ctx["collection"], ctx["faces"], ctx.get("users", []))

    # -- the undo commands' sink -----------------------------------------------------------------
    def faces_changed(self, collection_id: str, face_ids, user_ids) -> None:
        self.window.faces_changed(collection_id, list(face_ids), list(user_ids))

    def command_failed(self, action: str, error: Exception) -> None:
        self.window.report_error(action, error)


def _delete_faces(engine, collection_id: str, face_ids: list[str], worker=None) -> dict:
    deleted, unsuccessful = [], []
    for start in range(0, len(face_ids), 4096):  # DeleteFaces takes at most 4096 ids
        r = engine.delete_faces(CollectionId=collection_id, FaceIds=face_ids[start : start + 4096])
        deleted += r["DeletedFaces"]
        unsuccessful += r["UnsuccessfulFaceDeletions"]
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}
