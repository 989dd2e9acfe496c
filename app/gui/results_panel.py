"""The outcome of the last curation operation, face by face, in the curator's words.

Each face shows its thumbnail and photo name (the id in its tooltip, Ctrl+C copies it), what
happened to it and why in plain words (the API codes in the tooltip). The table fits the dock: its
columns share the width (no horizontal scrolling; a cut text has its tooltip), and each new result
starts at the top. The panel keeps the last result of each collection: switching collection shows
that collection's last result, never another collection's. `rows` holds what the table shows
with the API's codes, for tests and reports.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from app.core.errors import RekognitionError

from . import reason_text as words
from .face_items import CopyFaceIds, NameOf, face_item
from .tables import fill_table, make_table

COLUMNS = ["Face", "Outcome", "Why"]
NO_RESULT = "No operation yet."


class ResultsPanel(QWidget):
    def __init__(self, thumbnails=None, names: NameOf | None = None,
                 person_name: Callable[[str], str] | None = None, parent=None):
        super().__init__(parent)
        self._person_name = person_name or (lambda user_id: user_id)
        self.setObjectName("resultsPanel")
        self._thumbnails = thumbnails
        self._names = names or (lambda _fid: None)
        self.title = QLabel(NO_RESULT)
        self.title.setObjectName("resultsTitle")
        self.title.setWordWrap(True)
        self.table = make_table("resultsTable", COLUMNS, "Operation results")
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(True)  # the reasons wrap in their column instead of widening the table
        self.table.setIconSize(QSize(32, 32))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        CopyFaceIds(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        self.rows: list[dict] = []  # what the table shows, for tests and the report
        self.collection_id: str | None = None  # whose result is shown
        self._last: dict[str, tuple[str, list[dict]]] = {}  # collection -> its last result

    def sizeHint(self) -> QSize:
        return QSize(360, 300)

    def who(self, user_id: str | None) -> str | None:
        """A person as the curator knows them: their display name, else their UserId."""
        return self._person_name(user_id) if user_id else user_id

    # -- showing ---------------------------------------------------------------------------------
    def show_collection(self, collection_id: str | None) -> None:
        """The window switched collection: show that collection's last result (or none)."""
        if collection_id == self.collection_id:
            return
        self.collection_id = collection_id
        title, rows = self._last.get(collection_id or "", (NO_RESULT if collection_id is None
                                                           else f"No operation in {collection_id} yet.", []))
        self._fill(title, rows)

    def _show(self, collection_id: str, title: str, rows: list[dict]) -> None:
        self._last[collection_id] = (title, rows)
        self.collection_id = collection_id
        self._fill(title, rows)

    def _fill(self, title: str, rows: list[dict]) -> None:
        self.title.setText(title)
        self.rows = rows
        cells = []
        for r in rows:
            fid = r["FaceId"]
            pixmap = self._thumbnails.pixmap(self.collection_id, fid) if self._thumbnails and fid else None
            codes = r.get("Reasons", [])
            why = words.reasons(codes, user_id=self.who(r.get("UserId")) or "", owner=self.who(r.get("Owner")),
                                confidence=r.get("Confidence"), threshold=r.get("Threshold"))
            if not codes and r.get("Confidence") is not None and r.get("Threshold") is not None:
                why = f"match {words.compare(r['Confidence'], r['Threshold'])}"
            outcome = QTableWidgetItem(r.get("Text") or words.outcome(r["Outcome"], self.who(r.get("Owner"))))
            outcome.setToolTip(f"{outcome.text()}\nAPI outcome: {r['Outcome']}")
            why_item = QTableWidgetItem(why)
            why_item.setToolTip("\n".join(t for t in (why, words.codes_tooltip(codes)) if t))
            cells.append([face_item(fid, self._names(fid), pixmap, words.codes_tooltip(codes)), outcome, why_item])
        fill_table(self.table, cells, fit=False)
        self._fit_columns()
        self.table.scrollToTop()
        self.table.horizontalScrollBar().setValue(0)

    def _fit_columns(self) -> None:
        """Face and Outcome as wide as their text but at most a third of the panel each; Why takes the rest
        and wraps (one measuring pass per result, not one per cell)."""
        third = max(60, self.table.viewport().width() // 3)
        for col in range(len(COLUMNS) - 1):
            self.table.resizeColumnToContents(col)
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), third))
        self.table.resizeRowsToContents()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.rows:
            self._fit_columns()

    # -- what each operation did -----------------------------------------------------------------
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
                         "Reasons": list(f["Reasons"]), "Confidence": f.get("Confidence"), "Owner": owner,
                         "Threshold": request.threshold})
        n_ok, n_bad = len(response["AssociatedFaces"]), len(response["UnsuccessfulFaceAssociations"])
        moved = f" ({len(moved_from)} moved from other users)" if moved_from else ""
        checked = f" (threshold {words.number(request.threshold)})" if request.threshold else ""
        title = (f"<b>{self.who(request.user_id)}</b>: {n_ok} associated{moved}, {n_bad} not associated"
                 f"{checked}. {words.user_status(response['UserStatus'])}.")
        self._show(request.collection_id, title, rows)

    def show_disassociation(self, outcome) -> None:
        rows = []
        for user_id, r in outcome.responses.items():
            rows += [{"FaceId": f["FaceId"], "UserId": user_id, "Outcome": "DISASSOCIATED",
                      "Text": f"Taken off {self.who(user_id)}"} for f in r["DisassociatedFaces"]]
            rows += [{"FaceId": f["FaceId"], "UserId": user_id, "Outcome": "NOT_DISASSOCIATED", "Reasons": f["Reasons"],
                      "Owner": f.get("UserId") if f.get("UserId") != user_id else None}
                     for f in r["UnsuccessfulFaceDisassociations"]]
        for user_id, exc in outcome.errors.items():
            why = exc.code if isinstance(exc, RekognitionError) else type(exc).__name__
            rows.append({"FaceId": "", "UserId": user_id, "Outcome": "FAILED", "Reasons": [why]})
        self._show(outcome.collection_id, f"{words.count(len(outcome.freed_ids), 'face')} taken off their users.", rows)

    def show_not_this_person(self, outcome) -> None:
        name = self.who(outcome.user_id)
        rows = [{"FaceId": f, "UserId": outcome.user_id, "Outcome": "DISASSOCIATED", "Text": f"Taken off {name}"}
                for f in outcome.disassociated]
        rows += [{"FaceId": f, "UserId": outcome.user_id, "Outcome": "MARKED_NOT_THIS_PERSON",
                  "Text": f"Marked “not {name}”"} for f in outcome.marked]
        self._show(outcome.collection_id,
                   f"Not {name}: {words.count(len(outcome.marked), 'face')} marked, "
                   f"{len(outcome.disassociated)} taken off.", rows)

    def show_deletion(self, collection_id: str, response: dict) -> None:
        rows = [{"FaceId": f, "Outcome": "DELETED"} for f in response["DeletedFaces"]]
        rows += [{"FaceId": f["FaceId"], "Outcome": "NOT_DELETED", "Reasons": f["Reasons"], "Owner": f.get("UserId")}
                 for f in response["UnsuccessfulFaceDeletions"]]
        self._show(collection_id, f"{words.count(len(response['DeletedFaces']), 'face')} deleted, "
                   f"{len(response['UnsuccessfulFaceDeletions'])} not deleted.", rows)

    def show_history(self, verb: str, text: str, change_set: dict, *related: dict | None) -> None:
        """What an undo or redo changed, face by face. `related`: the edit's other change sets; a person the
        step deletes or brings back may have no card now, and a change set keeps a deleted person's name."""
        code = "UNDONE" if verb == "Undo" else "REDONE"
        named = {u["UserId"]: u["DisplayName"] for cs in (change_set, *related) if cs
                 for u in cs.get("UserChanges", []) if u.get("DisplayName")}
        rows = []
        for c in change_set.get("FaceChanges", []):
            to_user, from_user = c.get("ToUserId"), c.get("FromUserId")
            # the name the window knows now, else the one the change set kept
            to_name, from_name = (n if n != u else named.get(u or "", u)
                                  for u, n in ((to_user, self.who(to_user)), (from_user, self.who(from_user))))
            if to_user and from_user:
                how = f"Back on {to_name} (from {from_name})" if code == "UNDONE" else f"On {to_name} again (from {from_name})"
            elif to_user:
                how = f"Back on {to_name}" if code == "UNDONE" else f"On {to_name} again"
            else:
                how = f"Taken off {from_name}"
            rows.append({"FaceId": c["FaceId"], "UserId": to_user, "Outcome": code, "Owner": from_user, "Text": how})
        done = "Undone" if code == "UNDONE" else "Redone"
        self._show(change_set["CollectionId"], f"{done}: {text}. {words.count(len(rows), 'face')} changed.", rows)
