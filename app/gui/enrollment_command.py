"""A webcam enrollment as ONE undoable step.

Undo takes back exactly what enroll() did, newest first: disassociate the faces it associated,
delete the faces it indexed (unassociated ones too; DeleteFaces erases their photos, crops and
descriptors with them), and delete the user when the enrollment created it. A user that has
gained other faces since is kept (deleting it would free faces this step never touched); that is
reported, never done silently. The sink hears of every undo and redo (enrollment_undone), so
the enrollment panel and the Results panel follow the history.

The faces it indexed are new: a capture's frames are stored under ExternalImageIds carrying
the capture's start time, and their FaceIds derive from the frame's JPEG and that id, so they
cannot name faces that existed before.

Redo runs enroll() again with the same captured frames, which gives the same FaceIds (the
command keeps the frames). Its association uses the restore threshold 0, since putting back
an earlier state is not a new match decision; faces the original enrollment did not associate
are then taken off the user again, so redo restores exactly the state after the enrollment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from app.capture.enrollment import enroll
from app.core.errors import ResourceNotFoundException

from .undo_commands import BackgroundCommand, ReplayMismatch

RESTORE_THRESHOLD = 0.0  # putting back an earlier state is not a new match decision


class EnrollmentSink(Protocol):
    def faces_changed(self, collection_id: str, face_ids: list[str], user_ids: list[str]) -> None: ...

    def users_changed(self, collection_id: str, created: list[str], deleted: list[str]) -> None: ...

    def enrollment_undone(self, command: EnrollCommand, undone: bool) -> None: ...


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class EnrollCommand(BackgroundCommand):
    """Undo and redo run in the operation runner's worker (undo_job/redo_job); show_* update the window."""

    def __init__(self, engine, sink: EnrollmentSink, result, frames):
        """`result`: the EnrollmentResult; `frames`: the CapturedFrames it stored (kept for redo)."""
        self.user_id = result.user_id
        self.face_ids = list(result.face_ids)
        self.associated = list(result.associated_face_ids)
        self.user_created = result.user_created
        self.threshold = result.threshold
        self.association = result.association  # what the enrollment's AssociateFaces answered (shown again on redo)
        self.undone = False
        self.frames = list(frames)
        text = f"Enroll {_plural(len(self.face_ids), 'face')} as {self.user_id}"
        if self.user_created:
            text += " (new user)"
        super().__init__(text, result.collection_id)
        self.engine = engine
        self.sink = sink

    def undo_job(self, engine) -> Callable[..., Any]:
        return partial(_run, self.revert)

    def redo_job(self, engine) -> Callable[..., Any]:
        return partial(_run, self.apply)

    def show_undone(self, result: Any) -> None:
        self.undone = True
        if result and result.get("user_deleted"):
            self.sink.users_changed(self.collection_id, [], [self.user_id])
        self.sink.faces_changed(self.collection_id, self.face_ids, [self.user_id])
        self.sink.enrollment_undone(self, True)

    def show_redone(self, result: Any) -> None:
        self.undone = False
        if result and result.get("user_created"):
            self.sink.users_changed(self.collection_id, [self.user_id], [])
        self.sink.faces_changed(self.collection_id, self.face_ids, [self.user_id])
        self.sink.enrollment_undone(self, False)

    def _disassociate(self, user_id: str, face_ids: list[str]) -> None:
        if not face_ids:
            return
        r = self.engine.disassociate_faces(CollectionId=self.collection_id, UserId=user_id, FaceIds=list(face_ids))
        if r["UnsuccessfulFaceDisassociations"]:
            bad = [f"{f['FaceId']} ({', '.join(f['Reasons'])})" for f in r["UnsuccessfulFaceDisassociations"]]
            raise ReplayMismatch(f"{_plural(len(bad), 'face')} could not be taken off {user_id}: {'; '.join(bad)}")

    def revert(self) -> dict:
        """Runs in a worker."""
        self._disassociate(self.user_id, self.associated)
        r = self.engine.delete_faces(CollectionId=self.collection_id, FaceIds=self.face_ids)
        # a face deleted by someone else meanwhile (FACE_NOT_FOUND) is already as wanted
        kept = [f for f in r["UnsuccessfulFaceDeletions"] if "FACE_NOT_FOUND" not in f["Reasons"]]
        if kept:
            bad = [f"{f['FaceId']} ({', '.join(f['Reasons'])})" for f in kept]
            raise ReplayMismatch(f"{_plural(len(bad), 'face')} could not be deleted: {'; '.join(bad)}")
        if self.user_created:
            others = self.engine.list_faces(CollectionId=self.collection_id, UserId=self.user_id, MaxResults=1)["Faces"]
            if others:
                raise ReplayMismatch(f"User {self.user_id} was kept: it has faces this enrollment did not add")
            try:
                self.engine.delete_user(CollectionId=self.collection_id, UserId=self.user_id)
            except ResourceNotFoundException:
                pass  # deleted meanwhile: as wanted
            return {"user_deleted": True}
        return {}

    def apply(self) -> dict:
        """Runs in a worker."""
        result = enroll(self.engine, self.collection_id, self.user_id, self.frames, RESTORE_THRESHOLD,
                        create_user=self.user_created)
        # if someone else created the user meanwhile, a later undo must leave it
        self.user_created = result.user_created
        if set(result.face_ids) != set(self.face_ids):
            raise ReplayMismatch(f"The frames were stored as other faces than before ({len(result.face_ids)} "
                                 f"instead of {len(self.face_ids)})")
        wanted = set(self.associated)
        self._disassociate(self.user_id, [f for f in result.associated_face_ids if f not in wanted])
        missing = wanted - set(result.associated_face_ids)
        if missing:
            raise ReplayMismatch(f"{_plural(len(missing), 'face')} could not be associated with {self.user_id} again: "
                                 f"{', '.join(sorted(missing))}")
        return {"user_created": result.user_created}


def _run(step: Callable[[], dict], worker=None) -> dict:
    return step()
