"""Curation edits as QUndoCommands, each built from what the engine reported it did.

The first redo() is skipped: the edit already ran in a worker before the command was pushed.
Undo reverts exactly the faces the engine reported changed (and redo re-applies exactly those),
with a threshold of 0 when putting faces back: restoring a previous state is not a new match
decision. A failure (say the user was deleted meanwhile) is reported to the sink, never swallowed.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QUndoCommand

RESTORE_THRESHOLD = 0.0


class CurationSink(Protocol):
    """What the commands tell the window (implemented by MainWindow)."""

    def faces_changed(self, collection_id: str, face_ids: list[str], user_ids: list[str]) -> None: ...

    def command_failed(self, action: str, error: Exception) -> None: ...


class ReplayMismatch(Exception):
    """An undo or redo could not change every face it should have (the workspace changed meanwhile)."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class CurationCommand(QUndoCommand):
    def __init__(self, engine, sink: CurationSink, collection_id: str, text: str, already_done: bool = True):
        super().__init__(text)
        self.engine = engine
        self.sink = sink
        self.collection_id = collection_id
        self._skip_redo = already_done

    # subclasses: what redo/undo do, and which faces and users they touch
    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def faces(self) -> list[str]:
        raise NotImplementedError

    def users(self) -> list[str]:
        raise NotImplementedError

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self._run(self.apply, "Redo")

    def undo(self) -> None:
        self._run(self.revert, "Undo")

    def _run(self, step, verb: str) -> None:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - shown by the window
            self.sink.command_failed(f"{verb} {self.text()[0].lower()}{self.text()[1:]}", exc)
        finally:
            self.sink.faces_changed(self.collection_id, self.faces(), self.users())

    # engine calls that check the engine did all it was asked to
    def _associate(self, user_id: str, face_ids: list[str]) -> None:
        if not face_ids:
            return
        r = self.engine.associate_faces(CollectionId=self.collection_id, UserId=user_id, FaceIds=list(face_ids),
                                        UserMatchThreshold=RESTORE_THRESHOLD)
        if r["UnsuccessfulFaceAssociations"]:
            # a face that is already on the user is "ignored", in neither list: that is the wanted state
            bad = [f"{f['FaceId']} ({', '.join(f['Reasons'])})" for f in r["UnsuccessfulFaceAssociations"]]
            raise ReplayMismatch(f"{_plural(len(bad), 'face')} could not be associated with {user_id}: {'; '.join(bad)}")

    def _disassociate(self, user_id: str, face_ids: list[str]) -> None:
        if not face_ids:
            return
        r = self.engine.disassociate_faces(CollectionId=self.collection_id, UserId=user_id, FaceIds=list(face_ids))
        if r["UnsuccessfulFaceDisassociations"]:
            bad = [f"{f['FaceId']} ({', '.join(f['Reasons'])})" for f in r["UnsuccessfulFaceDisassociations"]]
            raise ReplayMismatch(f"{_plural(len(bad), 'face')} could not be taken off {user_id}: {'; '.join(bad)}")


class AssociateCommand(CurationCommand):
    """Faces put on a user: free ones, and ones moved from other users (one undoable step)."""

    def __init__(self, engine, sink, collection_id: str, user_id: str, associated: list[str],
                 moved: dict[str, list[str]] | None = None, already_done: bool = True):
        self.user_id = user_id
        self.associated = list(associated)
        self.moved = {o: list(ids) for o, ids in (moved or {}).items() if ids}
        n_moved = sum(len(ids) for ids in self.moved.values())
        if self.associated and n_moved:
            text = f"Associate {_plural(len(self.associated), 'face')} and move {n_moved} to {user_id}"
        elif n_moved:
            owners = ", ".join(self.moved)
            text = f"Move {_plural(n_moved, 'face')} from {owners} to {user_id}"
        else:
            text = f"Associate {_plural(len(self.associated), 'face')} with {user_id}"
        super().__init__(engine, sink, collection_id, text, already_done)

    def apply(self) -> None:
        for owner, ids in self.moved.items():
            self._disassociate(owner, ids)
        self._associate(self.user_id, self.associated + [f for ids in self.moved.values() for f in ids])

    def revert(self) -> None:
        self._disassociate(self.user_id, self.associated + [f for ids in self.moved.values() for f in ids])
        for owner, ids in self.moved.items():
            self._associate(owner, ids)

    def faces(self) -> list[str]:
        return self.associated + [f for ids in self.moved.values() for f in ids]

    def users(self) -> list[str]:
        return [self.user_id, *self.moved]


class DisassociateCommand(CurationCommand):
    def __init__(self, engine, sink, collection_id: str, disassociated: dict[str, list[str]], already_done: bool = True):
        self.disassociated = {u: list(ids) for u, ids in disassociated.items() if ids}
        n = sum(len(ids) for ids in self.disassociated.values())
        text = f"Disassociate {_plural(n, 'face')} from {', '.join(self.disassociated)}"
        super().__init__(engine, sink, collection_id, text, already_done)

    def apply(self) -> None:
        for user_id, ids in self.disassociated.items():
            self._disassociate(user_id, ids)

    def revert(self) -> None:
        for user_id, ids in self.disassociated.items():
            self._associate(user_id, ids)

    def faces(self) -> list[str]:
        return [f for ids in self.disassociated.values() for f in ids]

    def users(self) -> list[str]:
        return list(self.disassociated)


class NotThisPersonCommand(CurationCommand):
    """Faces marked "not this person" for a user (and taken off it if they were on it)."""

    def __init__(self, engine, sink, collection_id: str, user_id: str, disassociated: list[str], marked: list[str],
                 already_done: bool = True):
        self.user_id = user_id
        self.disassociated = list(disassociated)
        self.marked = list(marked)
        n = len(set(self.disassociated) | set(self.marked))
        super().__init__(engine, sink, collection_id, f"Mark {_plural(n, 'face')} as not {user_id}", already_done)

    def apply(self) -> None:
        self._disassociate(self.user_id, self.disassociated)
        if self.marked:
            self.engine.set_not_this_person(self.collection_id, self.user_id, self.marked, rejected=True)

    def revert(self) -> None:
        if self.marked:
            self.engine.set_not_this_person(self.collection_id, self.user_id, self.marked, rejected=False)
        self._associate(self.user_id, self.disassociated)

    def faces(self) -> list[str]:
        return list(dict.fromkeys(self.disassociated + self.marked))

    def users(self) -> list[str]:
        return [self.user_id]
