"""The outcome of the last curation operation, face by face, as the engine reported it."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.core.errors import RekognitionError

from .tables import fill_table, make_table

COLUMNS = ["Face", "User", "Outcome", "Reasons", "Confidence", "Owner"]


class ResultsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("resultsPanel")
        self.title = QLabel("No operation yet.")
        self.title.setObjectName("resultsTitle")
        self.title.setWordWrap(True)
        self.table = make_table("resultsTable", COLUMNS, "Operation results")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        self.rows: list[dict] = []  # what the table shows, for tests and the report

    def _show(self, title: str, rows: list[dict]) -> None:
        self.title.setText(title)
        self.rows = rows
        fill_table(self.table, [[r["FaceId"], r.get("UserId") or "", r["Outcome"], ", ".join(r.get("Reasons", [])),
                                 f"{r['Confidence']:.1f}" if r.get("Confidence") is not None else "", r.get("Owner") or ""]
                                for r in rows])

    def show_association(self, outcome) -> None:
        """`outcome`: an AssociationOutcome (curation_jobs): the request and the MoveFaces/AssociateFaces response."""
        request, response = outcome.request, outcome.response
        moved_from = {f: o for o, ids in outcome.moved.items() for f in ids}
        rows = []
        for f in response["AssociatedFaces"]:
            fid = f["FaceId"]
            if fid in moved_from:
                rows.append({"FaceId": fid, "UserId": request.user_id, "Outcome": "MOVED", "Owner": moved_from[fid]})
            else:
                rows.append({"FaceId": fid, "UserId": request.user_id, "Outcome": "ASSOCIATED"})
        for f in response["UnsuccessfulFaceAssociations"]:
            owner = f["UserId"] if f.get("UserId") != request.user_id else None
            rows.append({"FaceId": f["FaceId"], "UserId": request.user_id, "Outcome": "NOT_ASSOCIATED",
                         "Reasons": list(f["Reasons"]), "Confidence": f.get("Confidence"), "Owner": owner})
        n_ok, n_bad = len(response["AssociatedFaces"]), len(response["UnsuccessfulFaceAssociations"])
        title = (f"AssociateFaces with {request.user_id} (threshold {request.threshold:.1f}): {n_ok} associated"
                 f"{f' ({len(moved_from)} moved from other users)' if moved_from else ''}, {n_bad} not associated. "
                 f"User status {response['UserStatus']}.")
        self._show(title, rows)

    def show_disassociation(self, outcome) -> None:
        rows = []
        for user_id, r in outcome.responses.items():
            rows += [{"FaceId": f["FaceId"], "UserId": user_id, "Outcome": "DISASSOCIATED"} for f in r["DisassociatedFaces"]]
            rows += [{"FaceId": f["FaceId"], "UserId": user_id, "Outcome": "NOT_DISASSOCIATED", "Reasons": f["Reasons"],
                      "Owner": f.get("UserId") if f.get("UserId") != user_id else None}
                     for f in r["UnsuccessfulFaceDisassociations"]]
        for user_id, exc in outcome.errors.items():
            why = exc.code if isinstance(exc, RekognitionError) else type(exc).__name__
            rows.append({"FaceId": "", "UserId": user_id, "Outcome": "FAILED", "Reasons": [why]})
        self._show(f"DisassociateFaces: {len(outcome.freed_ids)} disassociated.", rows)

    def show_not_this_person(self, outcome) -> None:
        rows = [{"FaceId": f, "UserId": outcome.user_id, "Outcome": "DISASSOCIATED"} for f in outcome.disassociated]
        rows += [{"FaceId": f, "UserId": outcome.user_id, "Outcome": "MARKED_NOT_THIS_PERSON"} for f in outcome.marked]
        self._show(f"Not {outcome.user_id}: {len(outcome.marked)} face(s) marked, {len(outcome.disassociated)} taken off.",
                   rows)

    def show_deletion(self, response: dict) -> None:
        rows = [{"FaceId": f, "Outcome": "DELETED"} for f in response["DeletedFaces"]]
        rows += [{"FaceId": f["FaceId"], "Outcome": "NOT_DELETED", "Reasons": f["Reasons"], "Owner": f.get("UserId")}
                 for f in response["UnsuccessfulFaceDeletions"]]
        self._show(f"DeleteFaces: {len(response['DeletedFaces'])} deleted, "
                   f"{len(response['UnsuccessfulFaceDeletions'])} not deleted.", rows)
