"""Search (similar faces, matching users) and ordering the grid by similarity, for the window."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Slot

from .curation_jobs import face_similarities, user_similarities
from .workers import Task


class SimilarityController(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.engine = window.engine
        self.hidden: set[str] = set()  # face ids hidden from the grid ("not this person" for the user sorted by)

    @Slot()
    def search_selected(self) -> None:
        w = self.window
        if w.current_collection() and w.current_face():
            self.search_face(w.current_face())

    def search_face(self, face_id: str) -> None:
        w = self.window
        cid = w.current_collection()
        threshold = float(w.search_panel.threshold.value())
        try:
            faces = self.engine.search_faces(CollectionId=cid, FaceId=face_id, FaceMatchThreshold=threshold, MaxFaces=100)
            users = self.engine.search_users(CollectionId=cid, FaceId=face_id, UserMatchThreshold=threshold, MaxUsers=20)
            # a user this face was marked "not this person" for is not suggested
            users["UserMatches"] = [m for m in users["UserMatches"]
                                    if face_id not in self.engine.rejected_face_ids(cid, m["User"]["UserId"])]
        except Exception as exc:  # noqa: BLE001 - shown by report_error
            w.report_error("Searching for similar faces", exc)
            return
        w.search_panel.show_results(face_id, faces, users)
        w.search_dock.show()
        w.search_dock.raise_()

    @Slot()
    def sort_by_face(self) -> None:
        w = self.window
        cid, fid = w.current_collection(), w.current_face()
        if not cid or not fid:
            return
        try:
            scores = face_similarities(self.engine, cid, fid)
        except Exception as exc:  # noqa: BLE001
            w.report_error("Sorting by similarity", exc)
            return
        self.unhide_rows()
        w.face_model.set_similarities(scores, f"face {fid[:8]}")
        w.order_label.setText(f"by similarity to face {fid[:8]}")
        w.face_grid.scrollToTop()

    @Slot()
    def sort_by_user(self) -> None:
        """Score the loaded faces against the user in a worker (100 dry-run associations per 100 faces)."""
        w = self.window
        cid, uid = w.current_collection(), w.current_user()
        if not cid or not uid:
            return
        task = Task(partial(user_similarities, self.engine, cid, uid, w.face_model.face_ids()),
                    f"Scoring faces against {uid}", {"collection": cid, "user": uid}, w)
        task.succeeded.connect(self._user_scores_ready)
        task.failed.connect(self._user_scores_failed)
        w.tasks.start(task)

    @Slot(object)
    def _user_scores_ready(self, scores) -> None:
        w = self.window
        ctx = self.sender().context
        if ctx["collection"] != w.current_collection():
            return
        w.face_model.set_similarities(scores, f"user {ctx['user']}")
        w.order_label.setText(f"by similarity to user {ctx['user']} (faces marked not {ctx['user']} hidden)")
        self.unhide_rows()
        if ctx["user"] == w.current_user():
            for fid in w.face_model.face_ids():
                if w.face_model.is_rejected(fid):
                    w.face_grid.setRowHidden(w.face_model.row_of(fid), True)
                    self.hidden.add(fid)
        w.face_grid.scrollToTop()

    @Slot(object)
    def _user_scores_failed(self, exc) -> None:
        self.window.report_error("Sorting by similarity to the user", exc)

    def unhide_rows(self) -> None:
        w = self.window
        for fid in self.hidden:
            row = w.face_model.row_of(fid)
            if row is not None:
                w.face_grid.setRowHidden(row, False)
        self.hidden.clear()
