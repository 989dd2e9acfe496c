"""The window's docks on the right: Results, History, Search and Import (tabbed), each in View; People on the left."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QTabBar, QUndoView, QWidget

from .import_panel import ImportPanel
from .people_actions import PeopleActions
from .people_controller import PeopleController
from .people_model import PeopleModel
from .people_panel import PeoplePanel
from .results_panel import ResultsPanel
from .search_panel import SearchPanel

if TYPE_CHECKING:
    from .main_window import MainWindow


class DockAttributes:
    """The People dock's parts (the window declares the other docks itself)."""

    people_model: PeopleModel
    people_panel: PeoplePanel
    people_dock: QDockWidget
    people: PeopleController
    people_actions: PeopleActions  # merge, split, rename, cover, "Is this <name>?"


def _dock(w: MainWindow, title: str, name: str, widget: QWidget,
          area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
    dock = QDockWidget(title, w)
    dock.setObjectName(name)
    dock.setWidget(widget)
    w.addDockWidget(area, dock)
    w.view_menu.addAction(dock.toggleViewAction())
    return dock


def build_docks(w: MainWindow) -> None:
    w.results_panel = ResultsPanel(w.thumbnails, w.face_model.photo_name,
                                   person_name=w.users_model.shown_name)
    w.results_dock = _dock(w, "Results", "resultsDock", w.results_panel)
    w.undo_view = QUndoView(w.undo_stack)
    w.undo_view.setObjectName("historyView")
    w.undo_view.setEmptyLabel("Window opened")
    # read-only: clicking an entry would move the stack on the GUI thread, without the backend
    w.undo_view.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    w.undo_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    w.history_dock = _dock(w, "History", "historyDock", w.undo_view)
    w.search_panel = SearchPanel(w.thumbnails, w.face_model.photo_name)
    w.search_panel.face_activated.connect(w.select_face)
    w.search_panel.faces_chosen.connect(w.select_faces)
    w.search_dock = _dock(w, "Search", "searchDock", w.search_panel)
    w.import_panel = ImportPanel()
    w.import_dock = _dock(w, "Import", "importDock", w.import_panel)
    w.tabifyDockWidget(w.results_dock, w.search_dock)
    w.tabifyDockWidget(w.search_dock, w.import_dock)
    w.results_dock.raise_()
    for tabs in w.findChildren(QTabBar):  # the tabs of the tabbed docks (made by QMainWindow)
        tabs.setAccessibleName("Panels: Results, Search, Import")
    w.people_model = PeopleModel(w.thumbnails, w)
    w.people_panel = PeoplePanel(w.people_model)
    w.people_dock = _dock(w, "People", "peopleDock", w.people_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
    w.people = PeopleController(w, w.people_model, w.people_panel)
    w.people_dock.visibilityChanged.connect(w.people.dock_shown)
    w.people_actions = PeopleActions(w)
    # people are shown by their display names: the users list, the owner bands in the grid, the results
    w.people_model.names_read.connect(
        lambda cid, names: w.users_model.set_names(names) if cid == w.users_model.collection_id else None)
    w.face_grid.delegate.name_of = w.users_model.shown_name
    w.users_model.names_changed.connect(w.face_grid.viewport().update)
