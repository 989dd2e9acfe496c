"""The People dock's flows: read the cards, show a card's faces, name a group, answer suggestions.

The cards are read whole only when the dock opens or the collection changes. After an edit,
`people_changed` reads just the people it touched (DescribePeople with their UserIds) and, only
when faces joined or left the pool of unassigned faces, the groups again (ClusterFaces); the model
updates those cards in place. Reads after edits run one at a time: what arrives meanwhile is
gathered and read next.

Every backend call goes through the window's runner (a worker thread). Naming a group is one
NameGroup call whose ChangeSet becomes one undoable step (ChangeSetCommand), shown in the Results
panel like an association; accepting a suggestion is a MoveFaces through the curation flow and
rejecting one is the curation flow's "not this person".
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QListWidgetItem

from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD
from app.core.capabilities import CapabilityUnavailable

from . import reason_text as words
from .association_preview import AssociationRequest
from .curation_jobs import AssociationOutcome
from .face_model import FaceFilter
from .people_model import NO_GROUPS, PeopleModel, PeopleRead, read_groups_update, read_people, read_people_update
from .people_panel import NameGroupDialog, PeoplePanel
from .undo_commands import ChangeSetCommand

if TYPE_CHECKING:
    from .main_window import MainWindow

FACE_ROLE = Qt.ItemDataRole.UserRole


class PeopleController(QObject):
    def __init__(self, window: MainWindow, model: PeopleModel, panel: PeoplePanel):
        super().__init__(window)
        self.w = window
        self.model = model
        self.panel = panel
        self.dialog: NameGroupDialog | None = None
        self.pending_faces: list[str] = []  # a group's faces to select once the grid has loaded them
        self.suggested_for: str | None = None
        panel.card_activated.connect(self.activate)
        panel.name_group_asked.connect(self.ask_name)
        panel.group_anyway_asked.connect(self.group_anyway)
        self.grouped_anyway: set[str] = set()  # collections the curator asked to group whatever their size
        self._queue: tuple[str | None, set[str], bool] = (None, set(), False)  # (collection, users, regroup) to read next
        self._updating = False
        panel.suggestions.answered.connect(self.answer)
        window.face_model.page_added.connect(self._select_pending)
        window.undo_stack.indexChanged.connect(self.refresh_suggestions)  # the cards follow change sets instead
        window.users_view.selectionModel().currentChanged.connect(self.refresh_suggestions)
        window.collections_view.selectionModel().currentChanged.connect(lambda *_: QTimer.singleShot(0, self.refresh))

    def visible(self) -> bool:
        return self.w.people_dock.isVisible()  # false once the window is closed: nothing new starts then

    def dock_shown(self, shown: bool) -> None:
        if shown:
            self.refresh()

    # -- the cards -------------------------------------------------------------------------------
    def refresh(self, *_args) -> None:
        """Read every card again: the people first (shown at once), then the unknown groups (ClusterFaces)."""
        cid = self.w.current_collection()
        if cid is None:
            self.model.set_people(None)
            return
        if not self.visible():
            return
        self._queue = (cid, set(), False)
        self.w.runner.run("Reading the people", partial(read_people, self.w.engine, cid, with_groups=False),
                          partial(self._people_read, cid), key="people", scope=cid)
        self.refresh_suggestions()

    def _people_read(self, cid: str, read: PeopleRead) -> None:
        self.model.set_people(read)
        if not read.note:  # a backend that groups faces: the groups come next, in place
            self.people_changed(cid, [], regroup=True)

    def group_anyway(self) -> None:
        """Group the unassigned faces although there are very many (the curator asked)."""
        cid = self.w.current_collection()
        if cid is not None:
            self.grouped_anyway.add(cid)
            self.w.statusBar().showMessage("Grouping the faces no one holds: this takes a while.", 6000)
            self.people_changed(cid, [], regroup=True)

    def people_changed(self, collection_id: str, user_ids, regroup: bool = False) -> None:
        """These people changed (faces, name, cover, created or deleted): read their cards again, and the
        unknown groups too if `regroup` (faces joined or left the unassigned pool)."""
        if not self.visible() or collection_id != self.model.collection_id:
            return  # a hidden dock reads everything when it opens
        cid, users, again = self._queue
        if cid == collection_id:
            self._queue = (cid, users | set(user_ids), again or regroup)
        else:
            self._queue = (collection_id, set(user_ids), regroup)
        if not self._updating:
            self._read_next()

    def _read_next(self) -> None:
        """One read at a time: the people's cards first, then the groups."""
        cid, users, regroup = self._queue
        self._updating = False
        if cid is None or cid != self.model.collection_id or not (users or regroup):
            return
        self._updating = True
        if users:
            self._queue = (cid, set(), regroup)
            job = partial(read_people_update, self.w.engine, cid, sorted(users))
            name = "Updating the people"
        else:
            self._queue = (cid, set(), False)
            job = partial(read_groups_update, self.w.engine, cid, cid in self.grouped_anyway)
            name = "Grouping the faces no one holds"
        self.w.runner.run(name, job, self.model.update_people, self._update_failed, on_ended=self._read_next, scope=cid)

    def _update_failed(self, exc: BaseException) -> None:
        self.w.report_error("Updating the People view", exc)

    def activate(self, row: int) -> None:
        card = self.model.card(row)
        w = self.w
        if card.kind == "person":
            w.select_user(card.key)
            w.set_filter(FaceFilter.USER)
            return
        self.pending_faces = list(card.face_ids)
        if w.face_filter() is FaceFilter.USER:
            w.set_filter(FaceFilter.UNASSIGNED)  # the grid reloads; the faces are selected once loaded
        self._select_pending()
        w.face_grid.setFocus()

    def _select_pending(self, *_args) -> None:
        if not self.pending_faces:
            return
        if any(self.w.face_model.row_of(f) is not None for f in self.pending_faces):
            self.w.select_faces(self.pending_faces)
            if all(self.w.face_model.row_of(f) is not None for f in self.pending_faces):
                self.pending_faces = []

    # -- naming a group --------------------------------------------------------------------------
    def ask_name(self, row: int) -> None:
        card = self.model.card(row)
        cid = self.w.current_collection()
        if card.kind != "group" or cid is None:
            return
        existing = [self.w.users_model.entry(r).user_id for r in range(self.w.users_model.rowCount())]
        dialog = NameGroupDialog(card.face_count or 0, existing, self.w)
        dialog.name_typed.connect(partial(self._propose, dialog, cid))
        dialog.accepted.connect(partial(self._name_accepted, dialog, cid, card.key))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def _propose(self, dialog: NameGroupDialog, cid: str, name: str) -> None:
        self.w.runner.run("Proposing a user id", partial(_propose_user_id, self.w.engine, cid, name),
                          lambda r: dialog.propose(name, r["UserId"]), lambda _exc: None,
                          key="propose-user-id", owner=dialog)

    def _name_accepted(self, dialog: NameGroupDialog, cid: str, group_id: str) -> None:
        name, user_id = dialog.display_name(), dialog.user_id()
        self.name_group(cid, group_id, user_id, name)

    def name_group(self, cid: str, group_id: str, user_id: str, display_name: str = "") -> None:
        self.w.runner.run(f"Naming a group {display_name or user_id}",
                          partial(_name_group, self.w.engine, cid, group_id, user_id, display_name),
                          partial(self._named, cid),
                          lambda exc: self.w.report_error(f"Naming the group {display_name or user_id}", exc))

    def _named(self, cid: str, response: dict) -> None:
        w = self.w
        user_id = response["UserId"]
        person = response.get("Person", {}).get("DisplayName") or user_id
        n = len(response["AssociatedFaces"])
        change_set = response["ChangeSet"]
        if change_set["FaceChanges"] or change_set["UserChanges"]:
            text = f"Name {words.count(n, 'face')} {person}" + (" (new person)" if response.get("UserCreated") else "")
            w.undo_stack.push(ChangeSetCommand(w.curation, text, change_set))
        tried = tuple(f["FaceId"] for f in response["AssociatedFaces"] + response["UnsuccessfulFaceAssociations"])
        if tried:  # the Results panel lists them as for an association
            request = AssociationRequest(cid, user_id, tried, DEFAULT_USER_MATCH_THRESHOLD, False)
            w.results_panel.show_association(AssociationOutcome(request, response))
            w.show_results()
        w.curation.apply_change_set(change_set)
        w.statusBar().showMessage(f"{person}: {words.count(n, 'face')} named.", 6000)

    # -- suggestions -----------------------------------------------------------------------------
    def person_name(self, user_id: str) -> str:
        card = self.model.find("person", user_id)
        return (card.name or user_id) if card is not None else user_id

    def refresh_suggestions(self, *_args) -> None:
        cid, uid = self.w.current_collection(), self.w.current_user()
        self.suggested_for = uid
        if cid is None or uid is None or not self.visible():
            self.panel.show_suggestions(None, [])
            return
        self.w.runner.run(f"Finding faces for {uid}", partial(_suggest, self.w.engine, cid, uid),
                          partial(self._suggested, uid), partial(self._suggest_failed, uid), key="suggest", scope=cid)

    def _suggested(self, uid: str, response: dict) -> None:
        if uid != self.w.current_user():
            return
        cid = self.w.current_collection()
        items = []
        for s in response["Suggestions"]:
            item = QListWidgetItem(f"{words.number(s['Confidence'])}")
            item.setData(FACE_ROLE, s["FaceId"])
            item.setData(FACE_ROLE + 1, float(s["Confidence"]))
            item.setToolTip(f"Score {words.number(s['Confidence'])} against {uid} (face {s['FaceId']})")
            pixmap = self.w.thumbnails.pixmap(cid, s["FaceId"]) if cid else None
            if pixmap is not None:
                item.setIcon(pixmap)
            items.append(item)
        person = self.person_name(uid)
        empty = f"{person} has no faces yet: suggestions are faces that look like a person's own." \
            if not response.get("UserFaceCount") else ""
        self.panel.show_suggestions(person, items, empty)
        if items and any(i.icon().isNull() for i in items):
            self.w.thumbnails.ready.connect(self._icons_ready, Qt.ConnectionType.UniqueConnection)

    def _icons_ready(self, collection_id: str, face_ids) -> None:
        strip, ready = self.panel.suggestions, set(face_ids)
        for i in range(strip.count()):
            item = strip.item(i)
            if item.data(FACE_ROLE) in ready and item.icon().isNull():
                pixmap = self.w.thumbnails.pixmap(collection_id, item.data(FACE_ROLE))
                if pixmap is not None:
                    item.setIcon(pixmap)

    def _suggest_failed(self, uid: str, exc: BaseException) -> None:
        if isinstance(exc, CapabilityUnavailable):
            self.panel.show_suggestions(self.person_name(uid), [], NO_GROUPS)
        else:
            self.w.report_error(f"Finding faces for {uid}", exc)

    def answer(self, yes: bool) -> None:
        strip = self.panel.suggestions
        item, uid, cid = strip.currentItem(), self.suggested_for, self.w.current_collection()
        if item is None or uid is None or cid is None:
            return
        face_id = item.data(FACE_ROLE)
        if yes:  # the operator has looked: the score they saw is the bar
            threshold = min(DEFAULT_USER_MATCH_THRESHOLD, math.floor(float(item.data(FACE_ROLE + 1))))
            self.w.curation.run(AssociationRequest(cid, uid, (face_id,), threshold, True))
        else:
            self.w.curation.not_this_person(uid, [face_id])
        row = strip.row(item)
        strip.takeItem(row)
        if strip.count():
            strip.setCurrentRow(min(row, strip.count() - 1))
        else:
            self.panel.show_suggestions(self.person_name(uid), [])


def _propose_user_id(engine, cid: str, name: str, worker=None) -> dict:
    return engine.propose_user_id(CollectionId=cid, DisplayName=name)


def _name_group(engine, cid: str, group_id: str, user_id: str, display_name: str, worker=None) -> dict:
    params = {"CollectionId": cid, "GroupId": group_id, "UserId": user_id}
    if display_name:
        params["DisplayName"] = display_name
    return engine.name_group(**params)


def _suggest(engine, cid: str, uid: str, worker=None) -> dict:
    return engine.suggest_faces(CollectionId=cid, UserId=uid)
