"""GUI test fixtures: a real engine in a tmp workspace with the fake analyzer, isolated QSettings."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.core.engine import Engine
from tests.core.fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres

# The offscreen platform plugin warns about a feature it lacks whenever a top-level window with
# size constraints is shown; that is the test platform talking, not the application.
OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/gui/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, qapp):
    """Each test gets its own settings folder: nothing leaks between tests or into the user's config."""
    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


@pytest.fixture(autouse=True)
def restored_look(qapp):
    """Themes change the application's style and palette: put them back after each test."""
    from PySide6.QtWidgets import QStyleFactory

    style, palette = qapp.style().name(), qapp.palette()
    yield
    if qapp.style().name() != style:
        qapp.setStyle(QStyleFactory.create(style))
    qapp.setPalette(palette)


def thumbnail_jpeg(k: int, i: int, size: int = 40) -> bytes:
    """A small real JPEG, coloured per identity so decoded pixels can be told apart."""
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = ((k * 70) % 256, (i * 40) % 256, 128)
    ok, data = cv2.imencode(".jpg", img)
    assert ok
    return data.tobytes()


@pytest.fixture
def analyzer():
    return RegisteredAnalyzer()


@pytest.fixture
def engine(tmp_path, analyzer):
    eng = Engine(tmp_path / "ws", analyzer=analyzer)
    yield eng
    eng.close()


@pytest.fixture
def rng():
    return np.random.default_rng(77)


def index_people(engine, analyzer, rng, collection="c", people=3, each=5, seed=5, tag="p"):
    """Index `people` identities with `each` faces apiece (one photo per identity); their face ids."""
    centres = identity_centres(people, seed=seed)
    ids = []
    for k, c in enumerate(centres):
        faces = [dataclasses.replace(analyzed_face(face_of(c, rng, spread=0.25), left=0.05 + 0.15 * i, size=0.1),
                                     thumbnail=thumbnail_jpeg(k, i)) for i in range(each)]
        data = analyzer.register(f"{tag}{k}".encode(), faces)
        out = engine.index_faces(CollectionId=collection, Image={"Bytes": data}, ExternalImageId=f"{tag}{k}.jpg")
        ids.append([r["Face"]["FaceId"] for r in out["FaceRecords"]])
    return ids


@pytest.fixture
def people(engine, analyzer, rng):
    """Collection "c": three identities of five faces; users alice and bob (empty)."""
    engine.create_collection(CollectionId="c")
    ids = index_people(engine, analyzer, rng)
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="bob")
    return ids


def open_window(qtbot, engine):
    from app.gui.main_window import MainWindow

    win = MainWindow(engine)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    from .gui_actions import settle

    settle(win)  # collections, users and the first page of faces are read in the background
    return win


@pytest.fixture
def window(qtbot, engine):
    """The window on an empty workspace."""
    win = open_window(qtbot, engine)
    yield win
    win.close()


@pytest.fixture
def seeded_window(qtbot, engine, people):
    """The window on collection "c" with `people` indexed (opened after the data exists)."""
    win = open_window(qtbot, engine)
    yield win
    win.close()


def owners(engine, collection="c") -> dict[str, str | None]:
    faces = engine.list_faces(CollectionId=collection, MaxResults=4096)["Faces"]
    return {f["FaceId"]: f.get("UserId") for f in faces}
