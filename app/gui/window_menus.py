"""The window's menus and the face grid's context menu, over the actions of the registry (window_actions.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt


def build_menus(window) -> None:
    """The menu bar and the face grid's context menu, over the window's actions."""
    mb = window.menuBar()
    m = mb.addMenu("&File")
    m.setToolTipsVisible(True)  # a disabled command's tooltip says why it is disabled
    m.addActions([window.act_new_collection, window.act_delete_collection])
    m.addSeparator()
    m.addActions([window.act_import_files, window.act_import_folder])
    m.addSeparator()
    m.addActions([window.act_export_session, window.act_export_workspace])
    m.addSeparator()
    m.addAction(window.act_quit)
    m = mb.addMenu("&Edit")
    m.addActions([window.act_undo, window.act_redo])
    m = mb.addMenu("&Users")
    m.setToolTipsVisible(True)
    m.addActions([window.act_new_user, window.act_delete_user, window.act_pin_user, window.act_unpin_user])
    m.addSeparator()
    m.addActions([window.act_name_group, window.act_merge_people, window.act_split_person, window.act_rename_person,
                  window.act_use_as_cover])
    m.addSeparator()
    m.addAction(window.act_enroll)
    m = mb.addMenu("F&aces")
    m.setToolTipsVisible(True)
    m.addActions([window.act_associate, window.act_disassociate, window.act_not_this_person])
    m.addSeparator()
    m.addAction(window.act_delete_faces)
    m = mb.addMenu("&Search")
    m.setToolTipsVisible(True)
    m.addActions([window.act_search, window.act_sort_face, window.act_sort_user, window.act_sort_index])
    window.view_menu = mb.addMenu("&View")
    window.view_menu.setToolTipsVisible(True)
    window.view_menu.addAction(window.act_source_photo)
    window.view_menu.addSeparator()
    window.view_menu.addActions(window.act_filters)
    window.view_menu.addSeparator()
    window.view_menu.addActions([window.act_go_collections, window.act_go_users, window.act_go_faces])
    window.view_menu.addSeparator()
    themes = window.view_menu.addMenu("&Theme")
    themes.addActions(list(window.act_themes.values()))
    window.view_menu.addSeparator()
    # the grid's context menu: the same commands
    window.face_grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for act in (window.act_associate, window.act_disassociate, window.act_not_this_person, window.act_split_person,
                window.act_use_as_cover, window.act_search, window.act_sort_face):
        window.face_grid.addAction(act)
