"""Help: About (version, licenses of the bundled models and samples), the keyboard shortcuts, the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QVBoxLayout

import app

from . import demo_collection
from .tables import fill_table, make_table
from .window_actions import ACTIONS, ATTRIBUTES

if TYPE_CHECKING:
    from .main_window import MainWindow

LICENSES = (
    "<p>Rekurator is MIT licensed.</p>"
    "<p><b>Bundled face models</b>: YuNet face detector (MIT, OpenCV Zoo, Shenzhen Institute of Artificial "
    "Intelligence and Robotics for Society); dlib 5-point landmark model and ResNet face descriptor "
    "(CC0, Davis King, via <i>face_recognition_models</i>).</p>"
    "<p><b>Sample photos</b> (the demo collection): obama.jpg, obama2.jpg, biden.jpg from face_recognition "
    "(MIT, Adam Geitgey); astronaut.jpg from scikit-image (public domain, NASA); t1.jpg from insightface (MIT). "
    "Details: resources/samples/SOURCES.md and resources/models/README.md.</p>"
    "<p>Qt for Python (PySide6) is LGPLv3; onnxruntime MIT; OpenCV Apache 2.0; NumPy BSD; faiss (Meta) MIT; "
    "SimSIMD Apache 2.0; orjson Apache 2.0 / MIT.</p>"
)


def build_help_menu(w: MainWindow) -> None:
    menu = w.menuBar().addMenu("&Help")
    shortcuts = QAction("&Keyboard shortcuts", w)
    shortcuts.setObjectName("helpShortcuts")
    shortcuts.setShortcut(QKeySequence("F1"))
    shortcuts.triggered.connect(lambda: show_shortcuts(w))
    demo = QAction("Create &demo collection", w)
    demo.setObjectName("helpDemo")
    demo.setStatusTip(f"A collection named “{demo_collection.DEMO_COLLECTION}” from the bundled sample photos")
    demo.triggered.connect(lambda: create_demo(w))
    about = QAction("&About Rekurator", w)
    about.setObjectName("helpAbout")
    about.triggered.connect(lambda: show_about(w))
    menu.addActions([shortcuts, demo])
    menu.addSeparator()
    menu.addAction(about)


def shortcut_rows() -> list[list[str]]:
    """Every command with a shortcut (from the registry), plus the keys that are not actions."""
    rows = [[spec.text.replace("&", "").rstrip("…"),
             ", ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in spec.shortcuts)]
            for spec in ACTIONS if spec.shortcuts and spec.name in ATTRIBUTES]
    rows += [["Associate with a pinned user (face grid)", "1 – 9"],
             ["In the association preview: associate / cancel", "Enter or Alt+A / Esc"],
             ["Copy the face ids of the selected rows (result tables)", "Ctrl+C"]]
    return rows


def show_shortcuts(w: MainWindow) -> QDialog:
    dialog = QDialog(w)
    dialog.setObjectName("shortcutsDialog")
    dialog.setWindowTitle("Keyboard shortcuts")
    table = make_table("shortcutsTable", ["Command", "Keys"], "Keyboard shortcuts")
    fill_table(table, shortcut_rows())
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(table)
    layout.addWidget(buttons)
    dialog.resize(560, 560)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def show_about(w: MainWindow) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "About Rekurator",
                      f"<h3>Rekurator {app.__version__}</h3><p>Curate face collections the way Amazon Rekognition "
                      f"models them, offline.</p>", QMessageBox.StandardButton.Close, w)
    box.setObjectName("aboutBox")
    box.setInformativeText(LICENSES)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def create_demo(w: MainWindow) -> None:
    """The demo collection, any time (not only on a first run); an existing one is shown instead."""
    name = demo_collection.DEMO_COLLECTION
    if w.collections_model.row_of(name) is not None:
        w.select_collection(name)
        w.statusBar().showMessage(f"The demo collection “{name}” exists already: it is shown now.", 6000)
        return
    if not demo_collection.sample_photos():
        w.statusBar().showMessage("The sample photos are not installed with this copy.", 6000)
        return
    w.importer.create_demo()
