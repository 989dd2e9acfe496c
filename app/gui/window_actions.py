"""Every command of the window, declared once: text, shortcut, tip, when it is enabled, what it needs.

`ACTIONS` is the registry; `build_actions` makes the QActions and connects them to the handlers the
window names, and `update_enabled` applies each action's rule to the window's state. An action that
needs a capability the backend lacks stays disabled, with the reason as its tooltip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from app.core import capabilities as caps

# when an action can act: on what the window has selected
ALWAYS = "always"
COLLECTION = "collection"  # a collection is open
USER = "user"  # a user is selected
FACES = "faces"  # faces are selected
FACES_AND_USER = "faces+user"

REMOTE = "on a remote endpoint"


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the QAction's objectName and the handler's key
    text: str
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    enabled_when: str = ALWAYS
    capability: str | None = None  # what the backend must offer
    unavailable: str = ""  # why, when it does not


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("newCollection", "&New collection…", ("Ctrl+Shift+N",)),
    ActionSpec("deleteCollection", "&Delete collection…", enabled_when=COLLECTION),
    ActionSpec("importPhotos", "&Import photos…", ("Ctrl+I",), enabled_when=COLLECTION),
    ActionSpec("importFolder", "Import &folder…", ("Ctrl+Shift+I",), enabled_when=COLLECTION),
    ActionSpec("exportSession", "&Export session report…", ("Ctrl+E",)),
    ActionSpec("exportWorkspace", "Export &workspace report…", ("Ctrl+Shift+E",), capability=caps.WORKSPACE_JOURNAL,
               unavailable=f"Workspace reports are not available {REMOTE}: it keeps no journal this window can read. "
                           "The session report lists what this window did."),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",)),
    ActionSpec("undo", "&Undo", ("Ctrl+Z",)),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    ActionSpec("newUser", "New &user…", ("Ctrl+N",), enabled_when=COLLECTION),
    ActionSpec("deleteUser", "Delete user…", enabled_when=USER),
    ActionSpec("pinUser", "&Pin user to a number key", ("Ctrl+P",),
               "Pressing that number in the face grid associates the selected faces with the user", USER),
    ActionSpec("unpinUser", "Unpin user", enabled_when=USER),
    ActionSpec("enrollFromCamera", "&Enroll from camera…", ("Ctrl+Shift+C",),
               "Capture good frames of one face from a camera or video and enroll them as a user", COLLECTION,
               caps.LOCAL_ANALYSIS,
               f"Camera enrollment is not available {REMOTE}: the frames are analysed and stored on this computer."),
    ActionSpec("associate", "&Associate selected faces with user…", ("Ctrl+Return",),
               "Preview, then associate the selected faces with the selected user", FACES_AND_USER),
    ActionSpec("disassociate", "&Disassociate selected faces", ("Ctrl+D", "Shift+Del"),
               "Take the selected faces off their person (they stay in the collection, unassigned)", FACES),
    ActionSpec("notThisPerson", "&Not this person", ("Ctrl+Shift+D",),
               "Mark the selected faces as not the selected user; hidden from its suggestions", FACES_AND_USER,
               caps.NOT_THIS_PERSON, "“Not this person” marks are not available here."),
    # people (People view, issue 11): people_actions.py
    ActionSpec("nameGroup", "&Name this group…", ("Ctrl+G",),
               "Give the selected unknown group of the People view a name: a person with its faces", COLLECTION,
               caps.PEOPLE_AND_GROUPS, f"Naming groups is not available {REMOTE}: it cannot group faces."),
    ActionSpec("mergePeople", "&Merge people…", ("Ctrl+M",),
               "Preview, then merge the people selected in the People view into one (Ctrl+click to select)",
               COLLECTION),
    ActionSpec("splitPerson", "&Split into a new person…", ("Ctrl+Shift+S",),
               "The selected faces of one person become a new person", FACES),
    ActionSpec("renamePerson", "&Rename person…", ("F2",), "Change a person's display name (the user id stays)",
               COLLECTION, caps.PEOPLE_AND_GROUPS, f"Display names are not available {REMOTE}: the user id is the name."),
    ActionSpec("useAsCover", "Use as &cover", (), "Show the selected face on its person's card", FACES,
               caps.PEOPLE_AND_GROUPS, f"Covers are not available {REMOTE}: it keeps no people metadata."),
    ActionSpec("deleteFaces", "Delete selected faces…", ("Del",), enabled_when=FACES),
    ActionSpec("searchSimilar", "Search &similar to selected face", ("Ctrl+F",), enabled_when=FACES),
    ActionSpec("sortByFace", "Sort by similarity to selected &face", ("Ctrl+Shift+F",), enabled_when=FACES),
    ActionSpec("sortByUser", "Sort by similarity to selected &user", ("Ctrl+Shift+U",), enabled_when=USER,
               capability=caps.ASSOCIATION_PREVIEW,
               unavailable=f"Sorting by similarity to a user is not available {REMOTE}: it needs match confidences, "
                           "which the API does not preview. Sort by similarity to a face instead."),
    ActionSpec("sortByIndex", "Index &order", ("Ctrl+Shift+O",)),
    ActionSpec("sourcePhoto", "Show &source photo", ("Ctrl+T",),
               "The photo the current face came from, with the face's box drawn", capability=caps.IMAGE_PREVIEWS,
               unavailable=f"Source photos are not available {REMOTE}: the API returns no images."),
    ActionSpec("goCollections", "Go to collections", ("Ctrl+Alt+1",)),
    ActionSpec("goUsers", "Go to users", ("Ctrl+Alt+2",)),
    ActionSpec("goFaces", "Go to faces", ("Ctrl+Alt+3",)),
    ActionSpec("showAllFaces", "Show all faces", ("Ctrl+1",)),
    ActionSpec("showUnassignedFaces", "Show unassigned faces", ("Ctrl+2",)),
    ActionSpec("showUserFaces", "Show faces of the selected user", ("Ctrl+3",)),
)

SPECS = {spec.name: spec for spec in ACTIONS}

# the window attribute of each action (tests and menus use these names)
ATTRIBUTES = {
    "newCollection": "act_new_collection",
    "deleteCollection": "act_delete_collection",
    "importPhotos": "act_import_files",
    "importFolder": "act_import_folder",
    "exportSession": "act_export_session",
    "exportWorkspace": "act_export_workspace",
    "quit": "act_quit",
    "undo": "act_undo",
    "redo": "act_redo",
    "newUser": "act_new_user",
    "deleteUser": "act_delete_user",
    "pinUser": "act_pin_user",
    "unpinUser": "act_unpin_user",
    "enrollFromCamera": "act_enroll",
    "associate": "act_associate",
    "disassociate": "act_disassociate",
    "notThisPerson": "act_not_this_person",
    "nameGroup": "act_name_group",
    "mergePeople": "act_merge_people",
    "splitPerson": "act_split_person",
    "renamePerson": "act_rename_person",
    "useAsCover": "act_use_as_cover",
    "deleteFaces": "act_delete_faces",
    "searchSimilar": "act_search",
    "sortByFace": "act_sort_face",
    "sortByUser": "act_sort_user",
    "sortByIndex": "act_sort_index",
    "sourcePhoto": "act_source_photo",
    "goCollections": "act_go_collections",
    "goUsers": "act_go_users",
    "goFaces": "act_go_faces",
    "showAllFaces": "act_show_all_faces",
    "showUnassignedFaces": "act_show_unassigned_faces",
    "showUserFaces": "act_show_user_faces",
}


class ActionAttributes:
    """The window's actions as typed attributes (set by build_actions from the registry)."""

    act_new_collection: QAction
    act_delete_collection: QAction
    act_import_files: QAction
    act_import_folder: QAction
    act_export_session: QAction
    act_export_workspace: QAction
    act_quit: QAction
    act_undo: QAction
    act_redo: QAction
    act_new_user: QAction
    act_delete_user: QAction
    act_pin_user: QAction
    act_unpin_user: QAction
    act_enroll: QAction
    act_associate: QAction
    act_disassociate: QAction
    act_not_this_person: QAction
    act_name_group: QAction
    act_merge_people: QAction
    act_split_person: QAction
    act_rename_person: QAction
    act_use_as_cover: QAction
    act_delete_faces: QAction
    act_search: QAction
    act_sort_face: QAction
    act_sort_user: QAction
    act_sort_index: QAction
    act_source_photo: QAction
    act_go_collections: QAction
    act_go_users: QAction
    act_go_faces: QAction
    act_show_all_faces: QAction
    act_show_unassigned_faces: QAction
    act_show_user_faces: QAction



def build_actions(parent: QObject, handlers: dict[str, Callable[..., object]],
                  capabilities: frozenset[str]) -> tuple[dict[str, QAction], dict[QAction, str]]:
    """The QActions, each connected to its handler; and those this backend cannot serve, with why."""
    missing = set(SPECS) - set(handlers)
    if missing:
        raise KeyError(f"no handler for action(s): {', '.join(sorted(missing))}")
    actions, unavailable = {}, {}
    for spec in ACTIONS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.name)
        if spec.shortcuts:
            action.setShortcuts([QKeySequence(k) for k in spec.shortcuts])
        if spec.tip:
            action.setStatusTip(spec.tip)
        action.triggered.connect(handlers[spec.name])
        if spec.capability is not None and spec.capability not in capabilities:
            action.setEnabled(False)
            action.setToolTip(spec.unavailable)
            action.setStatusTip(spec.unavailable)
            unavailable[action] = spec.unavailable
        actions[spec.name] = action
        setattr(parent, ATTRIBUTES[spec.name], action)
    return actions, unavailable


def update_enabled(actions: dict[str, QAction], unavailable: dict[QAction, str], *, collection: bool, user: bool,
                   faces: bool) -> None:
    state = {ALWAYS: True, COLLECTION: collection, USER: user, FACES: faces, FACES_AND_USER: faces and user}
    for name, action in actions.items():
        spec = SPECS[name]
        if spec.name in ("undo", "redo"):
            continue  # follow the history (MainWindow.update_history_actions)
        action.setEnabled(state[spec.enabled_when] and action not in unavailable)
