"""Issue 12: the window speaks the curator's language (keyboard, thresholds, number keys, undo, words)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog

from app.gui import association_preview as ap
from app.gui import reason_text as words

from .conftest import owners
from .gui_actions import drop_faces, settle, wait_idle


def focus_owner(widget):
    """The dialog control that holds the focus (a spin box's line edit counts as the spin box)."""
    while widget is not None and widget.objectName() in ("", "qt_spinbox_lineedit", "qt_scrollarea_viewport"):
        widget = widget.parentWidget()
    return widget


# -- 1. the preview's keyboard -------------------------------------------------------------------
def test_enter_confirms_the_preview_and_associates(qtbot, seeded_window, engine, people):
    w = seeded_window
    drop_faces(w, "alice", people[0][:2])
    dialog = w.curation.preview_dialog
    assert dialog.ok.isDefault() and not dialog.cancel.isDefault()
    assert dialog.ok.text() == "&Associate"  # Alt+A
    qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    wait_idle(qtbot, w)
    assert [owners(engine)[f] for f in people[0][:2]] == ["alice", "alice"]


def test_escape_cancels_the_preview(qtbot, seeded_window, engine, people):
    w = seeded_window
    drop_faces(w, "alice", people[0][:2])
    dialog = w.curation.preview_dialog
    qtbot.keyClick(dialog.table, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
    wait_idle(qtbot, w)
    assert owners(engine)[people[0][0]] is None


def test_alt_a_is_associate_and_no_other_control_takes_it(qtbot, seeded_window, engine, people):
    # the offscreen platform delivers no mnemonic key presses, so the mnemonics themselves are checked
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QAbstractButton

    w = seeded_window
    drop_faces(w, "alice", people[0][:2])
    dialog = w.curation.preview_dialog
    mnemonics = [QKeySequence.mnemonic(b.text()).toString() for b in dialog.findChildren(QAbstractButton)
                 if b.isVisibleTo(dialog)]
    assert QKeySequence.mnemonic(dialog.ok.text()).toString() == "Alt+A"
    assert mnemonics.count("Alt+A") == 1
    dialog.ok.click()
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_tab_leaves_the_table_and_reaches_every_control(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:1])  # the move checkbox shows
    w.workspace.reload_faces()
    settle(w)
    drop_faces(w, "alice", people[0][:2])
    dialog = w.curation.preview_dialog
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=2000)
    dialog.table.setFocus()
    seen = []
    for _ in range(12):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(focus_owner(QApplication.focusWidget()))
    names = {x.objectName() for x in seen if x is not None}
    assert {"thresholdSpin", "keepThreshold", "moveFaces", "previewTable", "associateButton", "cancelButton"} <= names


# -- 2. a lowered threshold does not stick silently -------------------------------------------------
def test_a_lowered_threshold_warns_and_does_not_stick(qtbot, seeded_window, engine, people):
    w = seeded_window
    drop_faces(w, "alice", people[0][:2])
    dialog = w.curation.preview_dialog
    assert dialog.threshold.value() == 75.0 and not dialog.badge.isVisible()
    dialog.threshold.setValue(10.0)
    settle(w)
    assert dialog.badge.isVisible() and "below the default 75" in dialog.badge.text()
    dialog.accept()
    wait_idle(qtbot, w)
    # the next preview starts from the default again: a stranger is not waved through
    drop_faces(w, "alice", [people[1][0]])
    dialog = w.curation.preview_dialog
    assert dialog.threshold.value() == 75.0 and not dialog.badge.isVisible()
    assert [r.outcome for r in dialog.rows] == [ap.FAIL]
    # unless the operator keeps a threshold on purpose: then the badge stays with it
    dialog.threshold.setValue(60.0)
    dialog.keep_threshold.setChecked(True)
    settle(w)
    dialog.reject()  # cancelled: nothing kept
    drop_faces(w, "alice", [people[1][0]])
    dialog = w.curation.preview_dialog
    assert dialog.threshold.value() == 75.0
    dialog.threshold.setValue(60.0)
    dialog.keep_threshold.setChecked(True)
    settle(w)
    dialog.accept()
    wait_idle(qtbot, w)
    drop_faces(w, "alice", [people[1][1]])
    dialog = w.curation.preview_dialog
    assert dialog.threshold.value() == 60.0 and dialog.keep_threshold.isChecked()
    assert dialog.badge.isVisible() and "60" in dialog.badge.text()


# -- 3. number keys never skip the preview --------------------------------------------------------
def test_number_key_previews_or_asks_in_one_line_once_chosen(qtbot, seeded_window, engine, people):
    w = seeded_window
    w.select_user("alice")
    w.act_pin_user.trigger()
    w.select_faces(people[0][:2])
    w.face_grid.setFocus()
    qtbot.keyClick(w.face_grid, Qt.Key.Key_1)
    settle(w)
    dialog = w.curation.preview_dialog
    assert dialog is not None and owners(engine)[people[0][0]] is None
    dialog.quick_choice.setChecked(True)  # "ask in one line next time"
    dialog.accept()
    wait_idle(qtbot, w)
    assert owners(engine)[people[0][0]] == "alice"
    w.select_faces(people[0][2:4])
    qtbot.keyClick(w.face_grid, Qt.Key.Key_1)
    settle(w)
    box = w.curation.quick_box
    assert w.curation.preview_dialog is None and box is not None and box.isVisible()
    assert box.text() == "2 faces → alice: 2 would be associated, 0 would not be associated."
    assert owners(engine)[people[0][2]] is None  # nothing before the operator says so
    next(b for b in box.buttons() if b.objectName() == "quickPreview").click()  # the full preview on demand
    settle(w)
    assert w.curation.preview_dialog is not None
    w.curation.preview_dialog.reject()
    qtbot.keyClick(w.face_grid, Qt.Key.Key_1)
    settle(w)
    w.curation.quick_box.defaultButton().click()
    wait_idle(qtbot, w)
    assert [owners(engine)[f] for f in people[0][2:4]] == ["alice", "alice"]


# -- 4. undo in another collection, the status bar, the Results panel ------------------------------
def test_undo_switches_to_the_edits_collection_and_results_follow(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.create_collection(CollectionId="d")
    w.workspace.reload_collections()
    settle(w)
    drop_faces(w, "alice", people[0][:2])
    w.curation.preview_dialog.accept()
    wait_idle(qtbot, w)
    assert [r["Outcome"] for r in w.results_panel.rows] == ["ASSOCIATED"] * 2
    w.select_collection("d")
    settle(w)
    # the Results panel does not show c's result while d is shown
    assert w.results_panel.rows == [] and "No operation in d yet" in w.results_panel.title.text()
    w.act_undo.trigger()
    wait_idle(qtbot, w)
    assert w.current_collection() == "c"  # undo went to the edit's collection, in view
    assert owners(engine)[people[0][0]] is None
    assert w.statusBar().currentMessage() == "Undone: Associate 2 faces with alice (c)"
    assert [r["Outcome"] for r in w.results_panel.rows] == ["UNDONE"] * 2
    assert w.results_panel.table.item(0, 1).text() == "Taken off alice"
    assert w.results_panel.title.text().startswith("Undone: Associate 2 faces with alice (c)")
    w.act_redo.trigger()
    wait_idle(qtbot, w)
    assert w.statusBar().currentMessage() == "Redone: Associate 2 faces with alice (c)"
    assert [r["Outcome"] for r in w.results_panel.rows] == ["REDONE"] * 2
    assert w.results_panel.table.item(0, 1).text() == "On alice again"


# -- 5. faces and plain words in the Results panel ---------------------------------------------------
def test_results_show_photo_names_and_plain_reasons(qtbot, seeded_window, engine, people):
    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=[people[2][0]], UserMatchThreshold=0)
    w.workspace.reload_faces()
    settle(w)
    drop_faces(w, "alice", [people[1][0], people[2][0], people[0][2]])
    dialog = w.curation.preview_dialog
    dialog.move_faces.setChecked(False)
    settle(w)
    dialog.accept()
    wait_idle(qtbot, w)
    table = w.results_panel.table
    texts = {table.item(r, 0).data(Qt.ItemDataRole.UserRole): [table.item(r, c).text() for c in range(3)]
             for r in range(table.rowCount())}
    assert texts[people[1][0]][0] == "p1.jpg" and people[1][0] in table.item(1, 0).toolTip()
    assert table.item(1, 0).toolTip().startswith("p1.jpg\n")  # the whole name, where the column cuts it
    assert texts[people[1][0]][1] == "Not associated"
    assert texts[people[1][0]][2].startswith("looks like someone else: ") and " < 75" in texts[people[1][0]][2]
    assert texts[people[2][0]][2].startswith("belongs to bob; looks like someone else: ")
    assert texts[people[0][2]][1] == "Associated"
    assert all(fid not in " ".join(t) for fid, t in texts.items())  # no UUID on screen
    assert "Active." in w.results_panel.title.text() and "UserStatus" not in w.results_panel.title.text()
    alice = w.users_model.index(w.users_model.row_of("alice"))
    assert alice.data(Qt.ItemDataRole.DisplayRole).endswith("Active")  # not "ACTIVE"
    # the ids are one keystroke away
    table.selectRow(0)
    table.setFocus()
    next(a for a in table.actions() if a.text() == "Copy face ids").trigger()
    assert QApplication.clipboard().text() == table.item(0, 0).data(Qt.ItemDataRole.UserRole)
    # the table fits its dock: no horizontal scroll bar, and a new result starts at the top
    assert table.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert table.verticalScrollBar().value() == 0


def test_reason_words():
    assert words.reason("ASSOCIATED_TO_A_DIFFERENT_USER", owner="angelina") == "belongs to angelina"
    assert words.reason("LOW_MATCH_CONFIDENCE", confidence=17.04, threshold=75) == "looks like someone else: 17 < 75"
    assert words.reason("USER_FACE_LIMIT_EXCEEDED", user_id="angelina") == "angelina is full: 100 faces"
    assert words.count(1, "user") == "1 user" and words.count(2, "face") == "2 faces" and words.count(0, "face") == "0 faces"
    assert words.compare(80, 75) == "80 ≥ 75"
    assert words.user_status("ACTIVE") == "Active"


# -- 5 and 8. search results: photo names, and they can be selected in the grid -------------------------
def test_search_results_name_photos_and_select_in_the_grid(qtbot, seeded_window, engine, people):
    w = seeded_window
    w.select_faces([people[1][3]])
    w.act_search.trigger()
    settle(w)
    p = w.search_panel
    assert p.title.text() == "Like p1.jpg: 4 similar faces, 0 matching users at ≥ 80."
    assert all(p.faces.item(r, 0).text() == "p1.jpg" for r in range(p.faces.rowCount()))
    assert people[1][0] in " ".join(p.faces.item(r, 0).toolTip() for r in range(p.faces.rowCount()))
    p.select_in_grid.click()
    assert set(w.selected_face_ids()) == set(people[1]) - {people[1][3]}


# -- 10. the import panel fills in live ---------------------------------------------------------------
def test_import_rows_arrive_as_files_finish(qtbot, window, engine, analyzer, rng, tmp_path):
    from .gui_actions import done
    from .test_import import write_photos

    w = window
    assert done(w, w.workspace.create_collection("c"))
    write_photos(tmp_path / "photos", analyzer, rng)
    rows_when_delivered = []
    task = w.import_photos([tmp_path / "photos"])
    ended = []
    task.delivered.connect(lambda _r: rows_when_delivered.append((w.import_panel.table.rowCount(), bool(ended))))
    task.succeeded.connect(lambda _s: ended.append(True))
    settle(w)
    assert len(rows_when_delivered) == 4 and not any(e for _n, e in rows_when_delivered)  # before the end
    assert [n for n, _e in rows_when_delivered] == [1, 2, 3, 4]  # a row per file, as it finished


# -- 11. name prompts check as you type and keep the text -----------------------------------------------
def test_name_dialog_checks_as_you_type_in_plain_words(qtbot):
    from app.gui.name_dialog import NameDialog

    dialog = NameDialog("collection", "New collection", existing=["family"])
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled() and dialog.problem.text() == ""  # empty: waiting, not an error
    qtbot.keyClicks(dialog.edit, "bad name!")
    assert not dialog.ok.isEnabled()
    assert dialog.problem.text() == "Use only letters, digits and . _ - (no spaces or other signs)."
    assert "regular expression" not in dialog.problem.text() and "Exception" not in dialog.problem.text()
    dialog.edit.setText("family")
    assert dialog.problem.text() == "There is already a collection called family." and not dialog.ok.isEnabled()
    dialog.edit.setText("x" * 256)
    assert dialog.problem.text().startswith("At most 255 characters")
    dialog.edit.setText("friends")
    assert dialog.ok.isEnabled() and dialog.problem.text() == ""


def test_a_refused_name_is_asked_again_with_the_text_kept(qtbot, window, engine, monkeypatch):
    from app.gui import name_dialog

    w = window
    engine.create_collection(CollectionId="taken")  # another program made it; the window has not re-read yet
    asked = []

    def ask(parent, kind, title, existing=(), text="", error=""):
        asked.append((text, error))
        return "taken" if len(asked) == 1 else None

    monkeypatch.setattr(name_dialog, "ask_name", ask)
    w.act_new_collection.trigger()
    settle(w)
    assert asked[0] == ("", "") and asked[1][0] == "taken" and "already exists" in asked[1][1]
    assert "Exception" not in asked[1][1]


# -- 12. plurals and destructive confirmations ------------------------------------------------------------
def test_confirmations_state_counts(qtbot, seeded_window, engine, people, monkeypatch):
    from app.gui import message_boxes

    w = seeded_window
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    w.workspace.reload_faces()
    settle(w)
    w.users_model.refresh_counts(["alice"])
    settle(w)
    asked = []
    monkeypatch.setattr(message_boxes, "confirm", lambda parent, title, text, action="&Yes": asked.append((text, action)))
    w.select_faces(people[0][:3])
    assert w.statusBar().currentMessage() == "3 faces selected"
    w.act_delete_faces.trigger()
    assert asked[-1][0].startswith("Delete 3 faces from c? 2 of them belong to a user and are kept")
    w.select_user("alice")
    w.act_delete_user.trigger()
    assert asked[-1] == ("Delete user alice? Its 2 faces stay in the collection, unassigned. This cannot be undone.",
                         "&Delete user")
    w.act_delete_collection.trigger()
    assert asked[-1][0] == "Delete collection c with its 15 faces and 2 users? This cannot be undone."


# -- 20. a missing xcb library: a plain message with the command, exit 1, before any Qt object ---------
def test_missing_xcb_libraries_are_named_with_the_install_command(monkeypatch, tmp_path, capsys):
    from app.gui import main as gui_main
    from app.gui import platform_check

    assert platform_check.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not platform_check.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not platform_check.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not platform_check.uses_xcb({}, "win32")
    files = platform_check.plugin_files()
    if files:  # the real plugin's needs, read from its ELF header
        needed = platform_check.elf_needed(files[0])
        assert "libxcb-icccm.so.4" in needed and "libxcb-keysyms.so.1" in needed
    gone = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    assert platform_check.missing_libraries(loadable=lambda n: n not in gone) == sorted(gone)
    assert platform_check.distro_family('ID=ubuntu\nID_LIKE="debian"\n') == "debian"
    assert platform_check.distro_family("ID=fedora\n") == "fedora"
    assert platform_check.install_commands(sorted(gone), "fedora") == ["sudo dnf install xcb-util-keysyms xcb-util-wm"]

    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(platform_check, "missing_libraries", lambda: sorted(gone))
    monkeypatch.setattr(platform_check, "distro_family", lambda: "debian")
    made = []
    monkeypatch.setattr(gui_main, "_qt_application", lambda: made.append(1))
    monkeypatch.setattr(gui_main, "_log_uncaught_exceptions", lambda: (lambda: None))
    monkeypatch.setattr("app.logs.setup_logging", lambda *_a, **_k: None)
    assert gui_main.main(["--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in err and "libxcb-icccm.so.4" in err
    assert not made  # no QApplication was attempted


# -- 15. the last collection and the import folder are remembered ----------------------------------------
def test_the_window_reopens_on_the_last_collection(qtbot, engine, people, tmp_path):
    from app.gui import import_controller

    from .conftest import open_window

    engine.create_collection(CollectionId="d")
    w = open_window(qtbot, engine)
    assert w.current_collection() == "c"  # the first one, on a first start
    w.select_collection("d")
    settle(w)
    w.close()
    w2 = open_window(qtbot, engine)
    assert w2.current_collection() == "d"
    w2.close()
    assert import_controller.start_folder()  # Pictures (or home) on a first import
    import_controller.remember_folder(str(tmp_path))
    assert import_controller.start_folder() == str(tmp_path)


# -- 17. Help: about, shortcuts, the demo at any time -------------------------------------------------------
def test_help_menu(qtbot, window, engine, monkeypatch):
    import app as rekurator
    from app.gui import help_menu

    w = window
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles[-1] == "&Help"
    about = help_menu.show_about(w)
    assert rekurator.__version__ in about.text() and "CC0" in about.informativeText()
    assert "YuNet" in about.informativeText() and "astronaut.jpg" in about.informativeText()
    about.close()
    rows = dict((r[0], r[1]) for r in help_menu.shortcut_rows())
    assert rows["Undo"] == "Ctrl+Z" and rows["Associate with a pinned user (face grid)"] == "1 – 9"
    dialog = help_menu.show_shortcuts(w)
    assert dialog.findChild(type(w.results_panel.table), "shortcutsTable").rowCount() == len(rows)
    dialog.close()
    made = []
    monkeypatch.setattr(w.importer, "create_demo", lambda: made.append(True))
    w.findChild(type(w.act_quit), "helpDemo").trigger()  # offered any time, not once per OS user
    assert made == [True]


# -- 18. the crash notice is never hidden behind another dialog -------------------------------------------
def test_the_demo_offer_waits_for_the_crash_notice(qtbot, engine, tmp_path):
    from app.gui import crash_log
    from app.gui.main_window import MainWindow

    report = tmp_path / "crash-previous.log"
    report.write_text("Fatal Python error: Aborted\n")
    w = MainWindow(engine)  # an empty workspace: the demo will be offered
    qtbot.addWidget(w)
    w.show()
    w.previous_crash_box = crash_log.show_previous_crash(w, report)
    settle(w)
    assert w.importer.demo_offer is None  # not over the crash notice
    w.previous_crash_box.done(0)
    settle(w)
    assert w.importer.demo_offer is not None and w.importer.demo_offer.isVisible()
    w.importer.demo_offer.done(0)
    w.close()


# -- 13. owner colours are distinct -------------------------------------------------------------------------
def test_owner_colours_are_distinct(qtbot, seeded_window):
    from app.gui.face_delegate import user_colour
    from app.gui.owner_colours import OwnerColours

    colours = OwnerColours()
    names = ["angelina", "jennifer", "brad", "courteney", "lisa", "matt", "matthew", "david", "barack", "joe",
             "michelle", "kamala", "eileen"]
    colours.assign(names)
    hues = sorted(colours.hue(n) for n in names)
    gaps = [(b - a) for a, b in zip(hues, hues[1:] + [hues[0] + 360])]
    assert min(gaps) >= 20  # 13 people, no two alike
    colours.assign(["angelina", "jennifer"])
    assert abs(colours.hue("angelina") - colours.hue("jennifer")) >= 90  # was nearly the same blue
    w = seeded_window  # the user list shows each user's band colour
    alice = w.users_model.index(w.users_model.row_of("alice"))
    assert alice.data(Qt.ItemDataRole.DecorationRole) == user_colour("alice")
    assert user_colour("alice").hue() != user_colour("bob").hue()


# -- 14. thumbnail size and the number of faces in view ------------------------------------------------------
def test_thumbnail_size_and_face_count(qtbot, seeded_window, engine, people):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QLabel, QSlider

    from app.gui.face_model import FaceFilter
    from app.gui.settings import KEY_TILE_SIZE, app_settings

    w = seeded_window
    grid = w.face_grid
    label = w.findChild(QLabel, "faceCount")
    slider = w.findChild(QSlider, "thumbnailSize")
    assert label.text() == "15 faces"
    w.set_filter(FaceFilter.UNASSIGNED)
    settle(w)
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    w.workspace.reload_faces()
    settle(w)
    assert label.text() == "13 unassigned faces"
    size = grid.tile_size()
    w.findChild(QAction, "largerThumbnails").trigger()
    assert grid.tile_size() == size + 16 and slider.value() == size + 16
    wheel = QWheelEvent(QPointF(10, 10), QPointF(10, 10), QPoint(0, 0), QPoint(0, -120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(grid.viewport(), wheel)
    assert grid.tile_size() == size
    slider.setValue(160)
    assert grid.tile_size() == 160 and int(app_settings().value(KEY_TILE_SIZE)) == 160


# -- 16. the source photo opens fit to the window; Home/End bring the face into view ------------------------
def test_source_photo_fits_the_window_and_scrolls_to_the_face(qtbot):
    import cv2
    import numpy as np

    from app.gui.photo_viewer import SourcePhotoViewer

    img = np.full((1000, 2000, 3), 90, np.uint8)
    ok, jpeg = cv2.imencode(".jpg", img)
    viewer = SourcePhotoViewer()
    qtbot.addWidget(viewer)
    viewer.resize(500, 400)
    viewer.show()
    qtbot.waitExposed(viewer)
    box = {"Left": 0.9, "Top": 0.8, "Width": 0.05, "Height": 0.1}
    viewer.show_face("f" * 36, jpeg.tobytes(), box, "big.jpg")
    shown = viewer.picture.pixmap()
    room = viewer.scroll_area.viewport().size()
    assert shown.width() <= room.width() and shown.height() <= room.height()  # the whole photo in view
    assert viewer.caption.text() == "big.jpg" and "f" * 36 in viewer.caption.toolTip()
    viewer.actual_size.setChecked(True)
    assert viewer.picture.pixmap().width() == 2000
    qtbot.wait(50)
    viewer.scroll_area.horizontalScrollBar().setValue(0)
    viewer.scroll_area.verticalScrollBar().setValue(0)
    qtbot.keyClick(viewer, Qt.Key.Key_End)
    assert viewer.scroll_area.horizontalScrollBar().value() > 1000  # the face, bottom right, is in view


# -- 9. a compact drag image, and the user under the cursor is highlighted -----------------------------------
def test_compact_drag_image_and_drop_target_highlight(qtbot, seeded_window, people):
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent

    from app.gui.mime import decode_faces

    w = seeded_window
    every = [f for p in people for f in p]
    w.select_faces(every)
    drag = w.face_grid.drag_for(w.face_grid.selectedIndexes())
    assert drag.pixmap().width() <= 100 and drag.pixmap().height() <= 100  # 15 faces, still small
    assert set(decode_faces(drag.mimeData()).face_ids) == set(every)
    view = w.users_view
    at = view.visualRect(w.users_model.index(w.users_model.row_of("bob"))).center()
    mime = drag.mimeData()
    for kind in (QDragEnterEvent, QDragMoveEvent):
        QApplication.sendEvent(view.viewport(), kind(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                                     Qt.KeyboardModifier.NoModifier))
    assert view.drop_target_user() == "bob"
    from PySide6.QtGui import QDragLeaveEvent

    QApplication.sendEvent(view.viewport(), QDragLeaveEvent())
    assert view.drop_target_user() is None


# -- 8. search results drag onto a user ---------------------------------------------------------------------
def test_search_results_drag_onto_a_user(qtbot, seeded_window, people):
    from .gui_actions import drop_on_user

    w = seeded_window
    w.select_faces([people[1][3]])
    w.act_search.trigger()
    settle(w)
    table = w.search_panel.faces
    table.selectAll()
    mime = table.mimeData()
    drop_on_user(w, "alice", mime)
    settle(w)
    dialog = w.curation.preview_dialog
    assert dialog is not None and set(dialog.face_ids) == set(people[1]) - {people[1][3]}


# -- 19. accessibility: every control has a name a screen reader can say -------------------------------------
def unnamed_controls(root) -> list[str]:
    from PySide6.QtWidgets import QAbstractButton, QWidget

    out = []
    for widget in root.findChildren(QWidget):
        if (widget.focusPolicy() == Qt.FocusPolicy.NoFocus or widget.objectName() == "qt_spinbox_lineedit"
                or widget.window() is not root):
            continue  # not a control the keyboard reaches (a spin box's editor is named by its box; popups)
        if isinstance(widget, QAbstractButton) and widget.text():
            continue
        if not widget.accessibleName():
            out.append(f"{type(widget).__name__} {widget.objectName()} in {widget.parent().objectName()}")
    return out


def test_every_control_has_an_accessible_name(qtbot, seeded_window, people):
    w = seeded_window
    for dock in (w.search_dock, w.import_dock, w.results_dock):
        dock.raise_()
    assert unnamed_controls(w) == []
    drop_faces(w, "alice", people[0][:2])
    assert unnamed_controls(w.curation.preview_dialog) == []


def test_the_window_opens_at_200_percent(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2", REKURATOR_WORKSPACE=str(tmp_path / "ws"),
               REKURATOR_LOG_DIR=str(tmp_path / "logs"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    run = subprocess.run([sys.executable, str(root / "main.py"), "--quit-after-ms", "500"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
