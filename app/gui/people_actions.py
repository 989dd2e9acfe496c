"""The people actions: "Is this <name>?" on unknown groups, merge, split, remove from a person, rename, cover.

Each is reachable by mouse (the People cards' context menu, dragging one card onto another, the
face grid's context menu, buttons) and by keyboard (the window's actions, declared in
window_actions.py: Ctrl+G, Ctrl+M, Ctrl+Shift+S, F2, Shift+Del), previewed with face crops and
names (UserIds only in tooltips), one undoable step in the History, journaled by the backend and so
in the JSON report. Every backend call goes through the window's operation runner:

- "Is this <name>? 91": SuggestUsers for the selected group; yes names the group as that existing
  person (NameGroup, people_controller.name_group), no hides that guess for the group (this session).
- Merge: PlanMerge previews (merge_preview_dialog.py), MergeUsers merges; its change set is the undo.
- Split: SplitUser (and UpdatePerson for the new person's display name); its change set is the undo.
- Remove from a person: the curation flow's disassociation (DisassociateFaces, undoable).
- Rename and "Use as cover": UpdatePerson; its answer's `Previous` is the undo.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QModelIndex, QObject, QPoint, Qt
from PySide6.QtGui import QDrag, QDropEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QMenu, QVBoxLayout

from app.core import capabilities as caps
from app.core.capabilities import CapabilityUnavailable

from . import reason_text as words
from .association_preview import AssociationRequest
from .curation_jobs import AssociationOutcome
from .merge_preview_dialog import MergePreviewDialog, PersonInfo, joined
from .person_commands import UpdatePersonCommand, update_person_job
from .person_dialogs import GroupGuessBar, RenameDialog, SplitDialog
from .undo_commands import ChangeSetCommand

if TYPE_CHECKING:
    from .main_window import MainWindow
    from .people_model import PersonCard

PEOPLE_MIME = "application/x-rekurator-people"


def handlers(w: MainWindow) -> dict:
    """The registry's people actions -> their handlers (looked up when triggered: the dock is built later)."""
    return {
        "nameGroup": lambda *_: w.people_actions.name_current_group(),
        "mergePeople": lambda *_: w.people_actions.merge_selected(),
        "splitPerson": lambda *_: w.people_actions.split_selected(),
        "renamePerson": lambda *_: w.people_actions.rename_current(),
        "useAsCover": lambda *_: w.people_actions.use_as_cover(),
    }


class PeopleActions(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.w = window
        panel = window.people_panel
        self.panel = panel
        self.cards = panel.cards
        self.cards.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.cards.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.cards.customContextMenuRequested.connect(self._card_menu)
        self.cards.viewport().setAcceptDrops(True)
        self.cards.viewport().installEventFilter(self)
        self.cards.installEventFilter(self)  # Y / N answer "Is this <name>?" on a group card
        self._press: tuple[QPoint, QModelIndex] | None = None
        self.guess_bar = GroupGuessBar()
        layout = panel.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.indexOf(panel.name_button) + 1, self.guess_bar)
        self.guess_bar.answered.connect(self.answer_guess)
        self.guesses: list[dict] = []
        self.guess_group: tuple[str, str] | None = None  # (collection, group) the guesses are for
        self.rejected: dict[tuple[str, str], set[str]] = {}  # (collection, group) -> users the curator said it is not
        self.cards.selectionModel().currentChanged.connect(self._card_changed)
        panel.model.modelReset.connect(self._card_changed)
        window.thumbnails.ready.connect(self._thumbnails_ready)
        self.dialog: MergePreviewDialog | RenameDialog | SplitDialog | None = None

    # -- people as the window knows them -------------------------------------------------------------
    def card_of_user(self, user_id: str) -> PersonCard | None:
        return self.w.people_model.find("person", user_id)  # shown or not (filtered out, not fetched yet)

    def person(self, user_id: str) -> PersonInfo:
        card = self.card_of_user(user_id)
        if card is not None:
            return PersonInfo(user_id, card.name, card.face_count, card.cover_face_id)
        row = self.w.users_model.row_of(user_id)
        count = self.w.users_model.entry(row).face_count if row is not None else None
        return PersonInfo(user_id, "", count)

    def name(self, user_id: str) -> str:
        return self.person(user_id).shown

    def selected_cards(self) -> list[PersonCard]:
        rows = sorted({i.row() for i in self.cards.selectionModel().selectedIndexes()})
        return [self.w.people_model.card(r) for r in rows]

    def current_card(self) -> PersonCard | None:
        row = self.panel.current_row()
        return self.w.people_model.card(row) if row is not None else None

    def _say(self, text: str) -> None:
        self.w.statusBar().showMessage(text, 6000)

    def _can(self, capability: str, what: str) -> bool:
        if capability in self.w.capabilities:
            return True
        self._say(f"{what} is not available on this backend: it keeps no people metadata (a remote endpoint).")
        return False

    # -- "Is this <name>?" on an unknown group --------------------------------------------------------
    def _card_changed(self, *_args) -> None:
        card, cid = self.current_card(), self.w.current_collection()
        if card is None or card.kind != "group" or cid is None or caps.PEOPLE_AND_GROUPS not in self.w.capabilities:
            self.guess_group, self.guesses = None, []
            self.guess_bar.show_guess(None)
            return
        key = (cid, card.key)
        if key == self.guess_group:
            return
        self.guess_group, self.guesses = key, []
        self.guess_bar.show_guess(None)
        self.w.runner.run("Guessing who a group is", partial(_suggest_users, self.w.engine, cid, card.key),
                          partial(self._guessed, key), partial(self._guess_failed, key), key="suggest-users", scope=cid)

    def _guessed(self, key: tuple[str, str], response: dict) -> None:
        if key != self.guess_group:
            return
        self.guesses = list(response["Suggestions"])
        self._show_guess()

    def _guess_failed(self, key: tuple[str, str], exc: BaseException) -> None:
        if key == self.guess_group and not isinstance(exc, CapabilityUnavailable):
            self.w.report_error("Guessing who a group is", exc)

    def _show_guess(self) -> None:
        key = self.guess_group
        rejected = self.rejected.get(key, set()) if key else set()
        guess = next((g for g in self.guesses if g["UserId"] not in rejected), None)
        if guess is None or key is None:
            self.guess_bar.show_guess(None)
            return
        person = self.person(guess["UserId"])
        name = guess.get("DisplayName") or person.shown
        cover = self.w.thumbnails.pixmap(key[0], person.cover_face_id) if person.cover_face_id else None
        self.guess_bar.show_guess(guess, name, cover)

    def _thumbnails_ready(self, collection_id: str, face_ids) -> None:
        guess = self.guess_bar.guess
        if guess is None or self.guess_group is None or collection_id != self.guess_group[0]:
            return
        cover = self.person(guess["UserId"]).cover_face_id
        if cover is not None and cover in set(face_ids):
            pixmap = self.w.thumbnails.pixmap(collection_id, cover)
            if pixmap is not None:
                self.guess_bar.set_cover(pixmap)

    def answer_guess(self, yes: bool) -> None:
        guess, key = self.guess_bar.guess, self.guess_group
        if guess is None or key is None:
            return
        if yes:
            self.w.people.name_group(key[0], key[1], guess["UserId"])
            self.guess_group = None
            self.guess_bar.show_guess(None)
            return
        self.rejected.setdefault(key, set()).add(guess["UserId"])
        self._say(f"Not {self.name(guess['UserId'])}: not asked again for this group.")
        self._show_guess()

    # -- naming a group (the menu command) -----------------------------------------------------------
    def name_current_group(self) -> None:
        row = self.panel.current_row()
        if row is None or self.w.people_model.card(row).kind != "group":
            self._say("Select an unknown group in the People view (View ▸ People) to name it.")
            return
        if self._can(caps.PEOPLE_AND_GROUPS, "Naming a group"):
            self.w.people.ask_name(row)

    # -- merge ---------------------------------------------------------------------------------------
    def merge_selected(self) -> None:
        people = [c.key for c in self.selected_cards() if c.kind == "person"]
        if len(people) < 2:
            self._say("Select two or more people in the People view (Ctrl+click), or drag one card onto another.")
            return
        current = self.current_card()
        survivor = current.key if current is not None and current.key in people else people[0]
        self.ask_merge(survivor, people)

    def ask_merge(self, survivor: str, user_ids: list[str]) -> None:
        cid = self.w.current_collection()
        user_ids = list(dict.fromkeys([survivor, *user_ids]))
        if cid is None or len(user_ids) < 2:
            return
        dialog = MergePreviewDialog(cid, [self.person(u) for u in user_ids], survivor, self.w.thumbnails,
                                    self.w.face_model.photo_name, self.w)
        dialog.plan_wanted.connect(partial(self._plan_merge, dialog, cid))
        dialog.accepted.connect(partial(self._merge_accepted, dialog, cid))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        self._plan_merge(dialog, cid)

    def _plan_merge(self, dialog: MergePreviewDialog, cid: str) -> None:
        survivor, sources, threshold = dialog.survivor(), dialog.sources(), dialog.threshold()
        cover = self.person(survivor).cover_face_id
        self.w.runner.run(f"Previewing the merge into {dialog.name(survivor)}",
                          partial(_plan_merge, self.w.engine, cid, survivor, sources, threshold, cover),
                          lambda answer: dialog.show_plan(survivor, threshold, *answer),
                          lambda exc: dialog.plan_failed(f"The merge cannot be previewed: {exc}"),
                          key="merge-plan", owner=dialog)

    def _merge_accepted(self, dialog: MergePreviewDialog, cid: str) -> None:
        survivor, sources, threshold = dialog.survivor(), dialog.sources(), dialog.threshold()
        names = {u: dialog.name(u) for u in [survivor, *sources]}
        what = f"Merging {joined([names[s] for s in sources])} into {names[survivor]}"
        self.w.users_model.set_busy([survivor, *sources], True)
        self.w.runner.run(what, partial(_merge, self.w.engine, cid, survivor, sources, threshold),
                          partial(self._merged, cid, names, threshold), partial(self._edit_failed, what, cid),
                          on_ended=partial(self.w.users_model.set_busy, [survivor, *sources], False))

    def _merged(self, cid: str, names: dict[str, str], threshold: float | None, response: dict) -> None:
        survivor = next(iter(names))
        sources = [names[s] for s in list(names)[1:]]
        n = len(response["AssociatedFaces"])
        self._edit_done(cid, survivor, threshold or 0, response,
                        f"Merge {joined(sources)} into {names[survivor]} ({words.count(n, 'face')})")
        gone = [names.get(u, u) for u in response.get("DeletedUserIds", [])]
        self._say(f"{names[survivor]}: {words.count(n, 'face')} merged in" + (f"; {joined(gone)} removed." if gone else "."))

    # -- split and remove -----------------------------------------------------------------------------
    def _selected_owned(self) -> tuple[list[str], set[str | None]]:
        """The grid's selected faces and the set of their owners (None for a free face)."""
        ids = self.w.selected_face_ids()
        owners: set[str | None] = set()
        for fid in ids:
            row = self.w.face_model.row_of(fid)
            owners.add(self.w.face_model.entry(row).user_id if row is not None else None)
        return ids, owners

    def split_selected(self) -> None:
        ids, owners = self._selected_owned()
        cid = self.w.current_collection()
        if not ids or cid is None:
            self._say("Select faces of a person in the grid to split them into a new person.")
            return
        if len(owners) != 1 or None in owners:
            self._say("Select faces of one person only: a split takes faces from one person to a new one.")
            return
        source = next(iter(owners))
        assert source is not None
        dialog = SplitDialog(cid, ids, self.name(source), self.w.users_model.user_ids(), self.w.thumbnails,
                             self.w.face_model.photo_name, self.w)
        if caps.PEOPLE_AND_GROUPS in self.w.capabilities:
            dialog.name_typed.connect(partial(self.w.people._propose, dialog, cid))
        dialog.accepted.connect(partial(self._split_accepted, dialog, cid, source, ids))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def _split_accepted(self, dialog: SplitDialog, cid: str, source: str, ids: list[str]) -> None:
        new_id, name = dialog.user_id(), dialog.display_name()
        if caps.PEOPLE_AND_GROUPS not in self.w.capabilities:
            name = ""  # nowhere to keep it: the UserId is the name
        what = f"Splitting {words.count(len(ids), 'face')} off {self.name(source)}"
        self.w.users_model.set_busy([source], True)
        self.w.runner.run(what, partial(_split, self.w.engine, cid, source, ids, new_id, name),
                          partial(self._split_done, cid, source, name or new_id), partial(self._edit_failed, what, cid),
                          on_ended=partial(self.w.users_model.set_busy, [source], False))

    def _split_done(self, cid: str, source: str, new_name: str, response: dict) -> None:
        n = len(response["AssociatedFaces"])
        created = next(u["UserId"] for u in response["ChangeSet"]["UserChanges"] if u["Change"] == "CREATE")
        self._edit_done(cid, created, 0, response,
                        f"Split {words.count(n, 'face')} off {self.name(source)} into {new_name} (new person)")
        self._say(f"{new_name}: a new person with {words.count(n, 'face')} from {self.name(source)}.")

    def remove_from(self, user_id: str) -> None:
        """The grid's selected faces of `user_id` off that person (the curation flow's disassociation)."""
        ids = [f for f in self.w.selected_face_ids()
               if (row := self.w.face_model.row_of(f)) is not None and self.w.face_model.entry(row).user_id == user_id]
        if not ids:
            self._say(f"Select faces of {self.name(user_id)} in the grid first.")
            return
        self.w.curation.disassociate(ids)

    # -- rename and cover ------------------------------------------------------------------------------
    def rename_current(self) -> None:
        card = self.current_card() if self.cards.hasFocus() else None
        user_id = card.key if card is not None and card.kind == "person" else self.w.current_user()
        if user_id is None:
            self._say("Select a person (a card in the People view, or a user) to rename.")
            return
        self.ask_rename(user_id)

    def ask_rename(self, user_id: str) -> None:
        cid = self.w.current_collection()
        if cid is None or not self._can(caps.PEOPLE_AND_GROUPS, "Renaming a person"):
            return
        p = self.person(user_id)
        cover = self.w.thumbnails.pixmap(cid, p.cover_face_id) if p.cover_face_id else None
        dialog = RenameDialog(user_id, p.name, p.face_count, cover, self.w)
        dialog.accepted.connect(lambda: self.update_person(cid, user_id, {"DisplayName": dialog.display_name()},
                                                           f"Rename {p.shown} to {dialog.display_name()}"))
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def use_as_cover(self, face_id: str | None = None) -> None:
        face_id = face_id or self.w.current_face()
        cid = self.w.current_collection()
        row = self.w.face_model.row_of(face_id) if face_id else None
        owner = self.w.face_model.entry(row).user_id if row is not None else None
        if face_id is None or cid is None or owner is None:
            self._say("Select a face of a person in the grid to use it as their cover.")
            return
        if self._can(caps.PEOPLE_AND_GROUPS, "Choosing a cover"):
            photo = words.face_label(self.w.face_model.photo_name(face_id), face_id)
            self.update_person(cid, owner, {"CoverFaceId": face_id}, f"Use {photo} as the cover of {self.name(owner)}")

    def update_person(self, cid: str, user_id: str, fields: dict, text: str) -> None:
        request = {"CollectionId": cid, "UserId": user_id, **fields}
        self.w.runner.run(text, partial(update_person_job, self.w.engine, request), partial(self._person_updated, request, text),
                          partial(self._edit_failed, text, cid))

    def _person_updated(self, request: dict, text: str, response: dict) -> None:
        fields = [k for k in ("DisplayName", "CoverFaceId") if k in request]
        previous = {k: response["Previous"][k] for k in fields}
        # no change set comes back (no face moves): the person's card is read again by hand, undo and redo too
        changed = partial(self.w.people.people_changed, request["CollectionId"], [request["UserId"]])
        self.w.undo_stack.push(UpdatePersonCommand(text, request, previous, changed))
        changed()
        self._say(f"{text}: done.")

    # -- shared ---------------------------------------------------------------------------------------
    def _edit_done(self, cid: str, user_id: str, threshold: float, response: dict, text: str) -> None:
        w = self.w
        change_set = response["ChangeSet"]
        if change_set["FaceChanges"] or change_set["UserChanges"]:
            w.undo_stack.push(ChangeSetCommand(w.curation, text, change_set))
        tried = tuple(f["FaceId"] for f in response["AssociatedFaces"] + response["UnsuccessfulFaceAssociations"])
        if tried:
            w.results_panel.show_association(AssociationOutcome(AssociationRequest(cid, user_id, tried, threshold, True),
                                                                response))
            w.show_results()
        w.curation.apply_change_set(change_set)  # the People cards it touches too (workspace_controller)

    def _edit_failed(self, what: str, cid: str, exc: BaseException) -> None:
        self.w.report_error(what, exc)
        self.w.people.refresh()

    # -- the cards' context menu, and dragging a card onto another ---------------------------------------
    def _card_menu(self, pos: QPoint) -> None:
        index = self.cards.indexAt(pos)
        if not index.isValid():
            return
        card = self.w.people_model.card(index.row())
        menu = QMenu(self.cards)
        menu.setObjectName("peopleCardMenu")
        self.fill_card_menu(menu, card)
        menu.popup(self.cards.viewport().mapToGlobal(pos))

    def fill_card_menu(self, menu: QMenu, card: PersonCard) -> None:
        w = self.w
        if card.kind == "group":
            menu.addAction(w.act_name_group)
            return
        name = card.name or card.key
        menu.addAction(f"&Rename {name}…", partial(self.ask_rename, card.key))
        people = [c.key for c in self.selected_cards() if c.kind == "person"]
        if card.key in people and len(people) >= 2:
            others = [self.name(u) for u in people if u != card.key]
            menu.addAction(f"&Merge {joined(others)} into {name}…", partial(self.ask_merge, card.key, people))
        owned = [f for f in w.selected_face_ids()
                 if (row := w.face_model.row_of(f)) is not None and w.face_model.entry(row).user_id == card.key]
        if owned:
            menu.addAction(f"Re&move {words.count(len(owned), 'selected face')} from {name}",
                           partial(self.remove_from, card.key))
            menu.addAction(w.act_split_person)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.cards:
            if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress and self.guess_bar.guess is not None \
                    and event.key() in (Qt.Key.Key_Y, Qt.Key.Key_N) \
                    and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                self.answer_guess(event.key() == Qt.Key.Key_Y)
                return True
            return False
        if isinstance(event, QMouseEvent):
            return self._mouse(event)
        if isinstance(event, QDropEvent):  # QDragEnterEvent and QDragMoveEvent are QDropEvents too
            target = self.drop_target(event.position().toPoint(), event.mimeData())
            dropped = people_from_mime(event.mimeData())
            if target is None or dropped is None:
                event.ignore()
                return True
            event.acceptProposedAction()
            if event.type() == QEvent.Type.Drop:
                self.ask_merge(target, [target, *dropped[1]])
            return True
        return False

    def _mouse(self, event: QMouseEvent) -> bool:
        """A press on a card, then a move past the drag distance: drag the card (or the selected people)."""
        pos = event.position().toPoint()
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = (pos, self.cards.indexAt(pos))
        elif kind == QEvent.Type.MouseMove and self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
            if (pos - self._press[0]).manhattanLength() >= QApplication.startDragDistance():
                index, self._press = self._press[1], None
                self._drag_card(index)
                return True
        elif kind == QEvent.Type.MouseButtonRelease:
            self._press = None
        return False

    def _drag_card(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        card = self.w.people_model.card(index.row())
        cid = self.w.current_collection()
        if card.kind != "person" or cid is None:
            return
        selected = [c.key for c in self.selected_cards() if c.kind == "person"]
        people = selected if card.key in selected else [card.key]
        drag = QDrag(self.cards)
        drag.setMimeData(people_mime(cid, people))
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if icon is not None and hasattr(icon, "scaled"):
            drag.setPixmap(icon.scaled(48, 48))
        drag.exec(Qt.DropAction.MoveAction)

    def drop_target(self, pos: QPoint, mime: QMimeData) -> str | None:
        """The person under `pos` that the dragged people can merge into, or None."""
        dropped = people_from_mime(mime)
        index = self.cards.indexAt(pos)
        if dropped is None or not index.isValid() or dropped[0] != self.w.current_collection():
            return None
        card = self.w.people_model.card(index.row())
        return card.key if card.kind == "person" and card.key not in dropped[1] else None


def people_mime(collection_id: str, user_ids: list[str]) -> QMimeData:
    mime = QMimeData()
    mime.setData(PEOPLE_MIME, QByteArray(json.dumps({"CollectionId": collection_id, "UserIds": user_ids}).encode()))
    return mime


def people_from_mime(mime: QMimeData | None) -> tuple[str, list[str]] | None:
    if mime is None or not mime.hasFormat(PEOPLE_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(PEOPLE_MIME).data()).decode())
        return str(data["CollectionId"]), [str(u) for u in data["UserIds"]]
    except (ValueError, KeyError, TypeError):
        return None


# -- the jobs (in a worker) --------------------------------------------------------------------------
def _suggest_users(engine, cid: str, group_id: str, worker=None) -> dict:
    return engine.suggest_users(CollectionId=cid, GroupId=group_id)


def _plan_merge(engine, cid: str, survivor: str, sources: list[str], threshold: float | None, cover: str | None,
                worker=None) -> tuple[dict, str | None]:
    """PlanMerge, and the face to show for the survivor: its cover, else its first face (None: it has none)."""
    params: dict = {"CollectionId": cid, "UserId": survivor, "SourceUserIds": sources}
    if threshold is not None:
        params["UserMatchThreshold"] = threshold
    plan = engine.plan_merge(**params)
    if cover is None:
        faces = engine.list_faces(CollectionId=cid, UserId=survivor, MaxResults=1)["Faces"]
        cover = faces[0]["FaceId"] if faces else None
    return plan, cover


def _merge(engine, cid: str, survivor: str, sources: list[str], threshold: float | None, worker=None) -> dict:
    params: dict = {"CollectionId": cid, "UserId": survivor, "SourceUserIds": sources}
    if threshold is not None:
        params["UserMatchThreshold"] = threshold
    return engine.merge_users(**params)


def _split(engine, cid: str, source: str, face_ids: list[str], new_id: str, name: str, worker=None) -> dict:
    response = engine.split_user(CollectionId=cid, UserId=source, FaceIds=face_ids, NewUserId=new_id)
    if name:
        response["Person"] = engine.update_person(CollectionId=cid, UserId=new_id, DisplayName=name)["Person"]
    return response
