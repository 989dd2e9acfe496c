"""Importing photos: a worker analyses each file, stores its faces, reports per file; cancel keeps what is done."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from PySide6.QtCore import Qt

from app.core.errors import InvalidParameterException
from app.workflows.photo_files import external_image_id, list_photos
from app.workflows.photo_import import import_photos

from .conftest import thumbnail_jpeg
from .gui_actions import done, settle
from tests.core.fakes import analyzed_face, face_of, identity_centres


def write_photos(folder, analyzer, rng, n=3):
    centres = identity_centres(2, seed=9)
    (folder / "sub").mkdir(parents=True)
    paths = []
    for i in range(n):
        faces = [dataclasses.replace(analyzed_face(face_of(centres[j], rng), left=0.1 + 0.4 * j, size=0.2),
                                     thumbnail=thumbnail_jpeg(j, i)) for j in range(2)]
        if i == 0:  # a blurry face the quality filter turns away
            faces.append(analyzed_face(face_of(centres[0], rng), left=0.7, size=0.2, confidence=20.0))
        data = analyzer.register(f"photo-{i}".encode(), faces)
        path = folder / ("sub" if i == 2 else "") / f"holiday {i}.JPG"
        path.write_bytes(data)
        paths.append(path)
    (folder / "notes.txt").write_text("not a photo")
    bad = folder / "broken.png"
    bad.write_bytes(b"\x89PNG garbage")
    return paths, bad


def test_list_photos_and_names(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jpg", "a/b/y.PNG", "a/z.txt", "w.jpeg"):
        (tmp_path / name).write_bytes(b"x")
    found = list_photos([tmp_path / "a", tmp_path / "w.jpeg", tmp_path / "a" / "x.jpg"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/y.PNG", "a/x.jpg", "w.jpeg"]
    with pytest.raises(InvalidParameterException, match="No such file"):
        list_photos([tmp_path / "nope"])
    from pathlib import Path

    assert external_image_id(Path("/x/my photo (1).jpg")) == "my_photo__1_.jpg"
    assert len(external_image_id(Path("a" * 300 + ".jpg"))) == 255


def test_import_a_folder_through_the_window(qtbot, window, engine, analyzer, rng, tmp_path):
    w = window
    assert done(w, w.workspace.create_collection("c"))
    paths, bad = write_photos(tmp_path / "photos", analyzer, rng)
    task = w.import_photos([tmp_path / "photos"])
    assert task is not None and w.import_panel.progress.isVisible()
    settle(w)
    table = w.import_panel.table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())}
    assert set(rows) == {"broken.png", "holiday 0.JPG", "holiday 1.JPG", "holiday 2.JPG"}
    assert rows["holiday 0.JPG"][1:3] == ["2", "1 (LOW_CONFIDENCE x1)"]
    assert rows["holiday 2.JPG"][1] == "2"
    assert rows["broken.png"][3] == "Request has invalid image format"  # the reason in the row, the code in its tooltip
    assert table.item([table.item(r, 0).text() for r in range(4)].index("broken.png"), 3).toolTip().startswith(
        "InvalidImageFormatException")
    assert "6 new faces, 1 not indexed; 1 file could not be read" in w.import_panel.status.text()
    # the columns sort, counts as numbers
    table.sortItems(1, Qt.SortOrder.DescendingOrder)
    assert [table.item(r, 1).text() for r in range(4)] == ["2", "2", "2", "0"]
    assert not w.import_panel.progress.isVisible()
    faces = engine.list_faces(CollectionId="c")["Faces"]
    assert len(faces) == 6 and {f["ExternalImageId"] for f in faces} == {"holiday_0.JPG", "holiday_1.JPG", "holiday_2.JPG"}
    assert w.face_model.rowCount() == 6  # the grid shows the new faces
    assert w.collections_model.entry(0).face_count == 6
    assert not w.empty_hint.isVisible()
    # importing the same photos again stores nothing new, and says so
    w.import_photos([tmp_path / "photos"])
    settle(w)
    assert len(engine.list_faces(CollectionId="c")["Faces"]) == 6 and w.face_model.rowCount() == 6
    assert "0 new faces, 6 already indexed" in w.import_panel.status.text()


def test_cancel_keeps_the_files_already_imported(qtbot, window, engine, analyzer, rng, tmp_path, monkeypatch):
    w = window
    assert done(w, w.workspace.create_collection("c"))
    write_photos(tmp_path / "photos", analyzer, rng)
    first_done, go_on = threading.Event(), threading.Event()
    real = analyzer.analyze

    def analyze(data):
        if analyzer.calls >= 1:
            first_done.set()
            go_on.wait(5)
        return real(data)

    monkeypatch.setattr(analyzer, "analyze", analyze)
    w.import_photos([tmp_path / "photos"])
    assert first_done.wait(5)
    w.import_panel.cancel.click()
    go_on.set()
    settle(w)
    assert "Import cancelled after 2 of 4 files" in w.import_panel.status.text()
    assert len(engine.list_faces(CollectionId="c")["Faces"]) == 2
    assert w.face_model.rowCount() == 2


def test_model_mismatch_is_refused_in_plain_words(qtbot, engine, tmp_path):
    engine.create_collection(CollectionId="c")

    class OtherModel:
        model_version = "some_other_model"

        def analyze(self, data):
            raise AssertionError("never called")

    engine._analyzer = OtherModel()
    with pytest.raises(InvalidParameterException, match="never compared"):
        import_photos(engine, "c", [])


def test_import_errors_are_shown(qtbot, window, engine, tmp_path):
    w = window
    assert done(w, w.workspace.create_collection("c"))
    w.import_photos([tmp_path / "does-not-exist"])
    qtbot.waitUntil(lambda: not w.tasks.running(), timeout=10_000)
    from .gui_actions import error_texts

    assert any("Importing photos failed" in t and "No such file or folder" in t for t in error_texts(w))
    assert "The import stopped" in w.import_panel.status.text()


def test_first_run_offers_a_demo_collection_once(qtbot, engine, analyzer, rng, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.gui import demo_collection
    from app.gui.main_window import MainWindow

    write_photos(tmp_path / "samples", analyzer, rng)
    (tmp_path / "samples" / "broken.png").unlink()
    monkeypatch.setattr(demo_collection, "SAMPLES_DIR", tmp_path / "samples")
    w = MainWindow(engine)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.importer.demo_offer is not None and w.importer.demo_offer.isVisible(), timeout=5000)
    assert "from 3 sample photos" in w.importer.demo_offer.text()
    w.importer.demo_offer.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: w.current_collection() == "demo", timeout=10_000)
    settle(w)
    assert len(engine.list_faces(CollectionId="demo")["Faces"]) == 6
    assert w.face_model.rowCount() == 6
    w.close()
    engine.delete_collection(CollectionId="demo")
    w2 = MainWindow(engine)  # asked once: an empty workspace again does not ask again
    qtbot.addWidget(w2)
    qtbot.wait(50)
    assert w2.importer.demo_offer is None
    w2.close()
