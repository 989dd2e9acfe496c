"""Search (similar faces, matching users) and ordering the grid by similarity, for the window.

Every search runs through the window's operation runner; a newer search supersedes an older one.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Slot

from .curation_jobs import face_similarities, user_similarities


def search_similar(engine, collection_id: str, face_id: str, threshold: float, worker=None) -> tuple[dict, dict]:
    """SearchFaces and SearchUsers for one face; users the face was marked "not this person" for are left out."""
    faces = engine.search_faces(CollectionId=collection_id, FaceId=face_id, FaceMatchThreshold=threshold, MaxFaces=100)
    users = engine.search_users(CollectionId=collection_id, FaceId=face_id, UserMatchThreshold=threshold, MaxUsers=20)
    users["UserMatches"] = [m for m in users["UserMatches"]
                            if face_id not in engine.rejected_face_ids(collection_id, m["User"]["UserId"])]
    return faces, users


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
        w.runner.run("Searching for similar faces", partial(search_similar, self.engine, cid, face_id, threshold),
                     partial(self._search_done, face_id), key="search", scope=cid)

    def _search_done(self, face_id: str, found: tuple[dict, dict]) -> None:
        w = self.window
        w.search_panel.show_results(face_id, *found, collection_id=w.current_collection())
        w.search_dock.show()
        w.search_dock.raise_()

    @Slot()
    def sort_by_face(self) -> None:
        w = self.window
        cid, fid = w.current_collection(), w.current_face()
        if cid and fid:
            w.runner.run("Sorting by similarity", partial(face_similarities, self.engine, cid, fid),
                         partial(self._face_scores_ready, fid), key="sort", scope=cid)

    def _face_scores_ready(self, face_id: str, scores: dict) -> None:
        w = self.window
        self.unhide_rows()
        w.face_model.set_similarities(scores, f"face {face_id[:8]}")
        w.order_label.setText(f"by similarity to face {face_id[:8]}")
        w.face_grid.scrollToTop()

    @Slot()
    def sort_by_user(self) -> None:
        """Score the loaded faces against the user in a worker (PlanAssociation, 100 faces a call)."""
        w = self.window
        cid, uid = w.current_collection(), w.current_user()
        if cid and uid:
            w.runner.run(f"Scoring faces against {uid}",
                         partial(user_similarities, self.engine, cid, uid, w.face_model.face_ids()),
                         partial(self._user_scores_ready, uid), partial(self._user_scores_failed), key="sort", scope=cid)

    def _user_scores_ready(self, user_id: str, scores: dict) -> None:
        w = self.window
        w.face_model.set_similarities(scores, f"user {user_id}")
        w.order_label.setText(f"by similarity to user {user_id} (faces marked not {user_id} hidden)")
        self.unhide_rows()
        if user_id == w.current_user():
            for fid in w.face_model.face_ids():
                if w.face_model.is_rejected(fid):
                    w.face_grid.setRowHidden(w.face_model.row_of(fid), True)
                    self.hidden.add(fid)
        w.face_grid.scrollToTop()

    def _user_scores_failed(self, exc: BaseException) -> None:
        self.window.report_error("Sorting by similarity to the user", exc)

    def unhide_rows(self) -> None:
        w = self.window
        for fid in self.hidden:
            row = w.face_model.row_of(fid)
            if row is not None:
                w.face_grid.setRowHidden(row, False)
        self.hidden.clear()
