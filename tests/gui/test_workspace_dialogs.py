"""The window's start-up path on unusable and read-only workspaces (issue 13.7)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from app.gui import main as gui_main
from tests.core.test_workspace_access import filled_workspace, read_only


def test_an_unusable_workspace_is_a_dialog_in_plain_words_not_a_traceback(qapp, tmp_path, monkeypatch):
    path = tmp_path / "a-file"
    path.write_text("x")
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append(text)))
    assert gui_main.main(["--workspace", str(path)]) == 1
    assert len(shown) == 1
    assert "is a file, not a folder" in shown[0] and "--workspace DIR" in shown[0]
    assert "Errno" not in shown[0]


def test_a_new_workspace_in_a_read_only_folder_is_a_dialog(qapp, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append(text)))
    with read_only(folder):
        assert gui_main.main(["--workspace", str(folder)]) == 1
    assert shown and "Choose a folder you can write to" in shown[0]


def test_read_only_notice_names_the_workspace(qtbot, tmp_path):
    box = gui_main.read_only_notice(None, tmp_path / "ws")
    qtbot.addWidget(box)
    assert "read-only" in box.text() and str(tmp_path / "ws") in box.text()
    assert box.isVisible()
    box.close()


def test_a_read_only_workspace_opens_the_window(qapp, tmp_path, monkeypatch):
    workspace = tmp_path / "ws"
    filled_workspace(workspace)
    notices = []
    original = gui_main.read_only_notice
    monkeypatch.setattr(gui_main, "read_only_notice",
                        lambda parent, ws: notices.append(ws) or original(parent, ws))
    with read_only(workspace):
        assert gui_main.main(["--workspace", str(workspace), "--quit-after-ms", "300"]) == 0
    assert notices == [workspace]
