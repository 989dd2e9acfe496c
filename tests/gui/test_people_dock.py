"""The People dock (issue 11, window items 6-8): cards, naming a group, the suggestions strip."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.capabilities import CapabilityUnavailable
from app.gui.people_model import PeopleModel, read_people
from tests.core.fakes import analyzed_face, face_of, identity_centres

from .conftest import open_window, owners, thumbnail_jpeg
from .gui_actions import settle
from .test_slow_backend import SlowBackend, StallMeter


def index_groups(engine, analyzer, rng, sizes=(6, 4), seed=11) -> list[list[str]]:
    """Collection "c": one face per photo, `sizes[k]` photos of person k: ClusterFaces finds each person."""
    engine.create_collection(CollectionId="c")
    centres = identity_centres(len(sizes), seed=seed)
    out = []
    for k, n in enumerate(sizes):
        ids = []
        for j in range(n):
            face = analyzed_face(face_of(centres[k], rng), thumbnail=thumbnail_jpeg(k, j))
            data = analyzer.register(f"g{k}-{j}".encode(), [face])
            ids += [r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c", Image={"Bytes": data})["FaceRecords"]]
        out.append(ids)
    return out


def open_people(qtbot, engine):
    w = open_window(qtbot, engine)
    w.people_dock.show()
    w.people_dock.raise_()
    settle(w, 30)
    return w


def cards(w) -> list[str]:
    m = w.people_model
    return [m.index(r).data() for r in range(m.rowCount())]


def test_people_model(qtmodeltester, engine, analyzer, rng):
    groups = index_groups(engine, analyzer, rng)
    engine.create_user(CollectionId="c", UserId="ann")
    engine.update_person(CollectionId="c", UserId="ann", DisplayName="Ann Lee")
    model = PeopleModel()
    model.set_people(read_people(engine, "c"))
    qtmodeltester.check(model)
    assert [model.index(r).data() for r in range(model.rowCount())] == ["Ann Lee · 0/100", "Unknown · 6 faces",
                                                                        "Unknown · 4 faces"]
    assert sorted(model.card(1).face_ids) == sorted(groups[0])
    assert "ann" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)


def test_without_the_extensions_the_dock_lists_users_and_says_why(engine, people):
    class Remote:
        def __getattr__(self, name):
            if name in ("describe_people", "cluster_faces"):
                def unavailable(**_params):
                    raise CapabilityUnavailable("people_and_groups", "not on a remote endpoint")
                return unavailable
            return getattr(engine, name)

    read = read_people(Remote(), "c")
    assert [c.key for c in read.cards] == ["alice", "bob"] and "cannot group faces" in read.note


def test_name_a_group_then_undo(qtbot, engine, analyzer, rng):
    groups = index_groups(engine, analyzer, rng)
    w = open_people(qtbot, engine)
    assert cards(w) == ["Unknown · 6 faces", "Unknown · 4 faces"]
    # activating a group selects its faces in the grid
    w.people.activate(0)
    settle(w)
    assert sorted(w.selected_face_ids()) == sorted(groups[0])
    w.people_panel.cards.setCurrentIndex(w.people_model.index(0))
    assert w.people_panel.name_button.isEnabled()
    w.people_panel.name_button.click()
    dialog = w.people.dialog
    assert dialog is not None and not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.name_edit, "Zo")  # typed: the accented letter below is set (QTest types ASCII only)
    dialog.name_edit.setText("Zoë Ng")
    dialog.name_edit.textEdited.emit("Zoë Ng")
    qtbot.waitUntil(lambda: dialog.user_id() == "zoe_ng")  # ProposeUserId, in a worker
    dialog.id_edit.setText("bad id")
    dialog.id_edit.textEdited.emit("bad id")
    assert not dialog.ok.isEnabled() and dialog.problem.text()
    dialog.id_edit.setText("zoe")
    dialog.id_edit.textEdited.emit("zoe")
    assert dialog.ok.isEnabled()
    dialog.accept()
    settle(w, 30)
    assert all(owners(engine)[f] == "zoe" for f in groups[0])
    assert engine.describe_people(CollectionId="c")["People"][0]["DisplayName"] == "Zoë Ng"
    assert w.users_model.row_of("zoe") is not None
    assert cards(w)[0] == "Zoë Ng · 6/100" and cards(w)[1:] == ["Unknown · 4 faces"]
    assert "Zoë Ng" in w.undo_stack.undoText()
    assert len(w.results_panel.rows) == 6 and "zoe" in w.results_panel.title.text()
    # one undo takes it all back: the user goes, the faces are free again
    w.curation.undo()
    settle(w, 30)
    assert "zoe" not in [u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]]
    assert all(owners(engine)[f] is None for f in groups[0])
    assert w.users_model.row_of("zoe") is None
    assert "Unknown · 6 faces" in cards(w)
    w.close()


def test_type_ahead_filter(qtbot, engine, analyzer, rng):
    index_groups(engine, analyzer, rng)
    engine.create_user(CollectionId="c", UserId="ann")
    engine.update_person(CollectionId="c", UserId="ann", DisplayName="Ann Lee")
    w = open_people(qtbot, engine)
    qtbot.keyClicks(w.people_panel.filter_edit, "lee")
    assert w.people_model.rowCount() == 1
    w.close()


def test_suggestions_yes_and_no_keys(qtbot, engine, analyzer, rng):
    groups = index_groups(engine, analyzer, rng, sizes=(6,))
    engine.create_user(CollectionId="c", UserId="ann")
    engine.associate_faces(CollectionId="c", UserId="ann", FaceIds=groups[0][:2])
    w = open_people(qtbot, engine)
    w.select_user("ann")
    settle(w, 30)
    strip = w.people_panel.suggestions
    assert strip.count() == 4
    assert "Suggested for ann" in w.people_panel.suggest_title.text()
    first, second = strip.item(0).data(Qt.ItemDataRole.UserRole), strip.item(1).data(Qt.ItemDataRole.UserRole)
    strip.setFocus()
    qtbot.keyClick(strip, Qt.Key.Key_Y)
    assert strip.currentItem().data(Qt.ItemDataRole.UserRole) == second  # on to the next one at once
    settle(w, 30)
    assert owners(engine)[first] == "ann"
    QApplication.processEvents()
    second = strip.currentItem().data(Qt.ItemDataRole.UserRole)
    qtbot.keyClick(strip, Qt.Key.Key_N)
    settle(w, 30)
    assert owners(engine)[second] is None
    rejected = engine.suggest_faces(CollectionId="c", UserId="ann")["Suggestions"]
    assert second not in [s["FaceId"] for s in rejected]  # "not this person": never suggested again
    assert strip.count() == 2 and second not in [strip.item(i).data(Qt.ItemDataRole.UserRole) for i in range(2)]
    w.close()


def test_people_dock_never_calls_a_slow_backend_on_the_gui_thread(qtbot, engine, analyzer, rng):
    from app.gui.main_window import MainWindow

    groups = index_groups(engine, analyzer, rng)
    slow = SlowBackend(engine)
    meter = StallMeter()
    meter.start()
    w = MainWindow(slow)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    settle(w, 30)
    meter.reset()
    meter.step = "opening the People dock"
    w.people_dock.show()
    w.people_dock.raise_()
    settle(w, 30)
    assert w.people_model.rowCount() == 2
    meter.step = "naming a group"
    w.people.name_group("c", w.people_model.card(0).key, "zoe", "Zoë")
    settle(w, 30)
    assert all(owners(engine)[f] == "zoe" for f in groups[0])
    meter.stop()
    w.close()
    assert slow.gui_thread_calls == []
    assert meter.longest_busy_ms <= 50, f"the GUI thread was busy {meter.longest_busy_ms:.0f} ms at {meter.where}"
