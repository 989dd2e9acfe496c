"""End to end with the real analyzer: photos imported through the window, then curated by drop."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.engine import Engine
from app.gui import association_preview as ap
from app.gui.main import create_default_analyzer

from .conftest import open_window, owners
from .gui_actions import drop_faces, wait_idle, done

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture
def real_engine(tmp_path):
    eng = Engine(tmp_path / "ws", analyzer_factory=create_default_analyzer)
    yield eng
    eng.close()


def test_import_and_associate_real_photos(qtbot, real_engine):
    w = open_window(qtbot, real_engine)
    try:
        assert done(w, w.workspace.create_collection("people"))
        w.import_photos([SAMPLES / "obama.jpg", SAMPLES / "obama2.jpg", SAMPLES / "biden.jpg"])
        wait_idle(qtbot, w, timeout=120_000)
        faces = {f["ExternalImageId"]: f["FaceId"] for f in real_engine.list_faces(CollectionId="people")["Faces"]}
        assert set(faces) == {"obama.jpg", "obama2.jpg", "biden.jpg"}
        # the stored crops decode into the grid
        qtbot.waitUntil(lambda: all(w.face_model.thumbnail(r) is not None for r in range(3)), timeout=10_000)
        assert w.face_model.thumbnail(0).width() > 20
        assert done(w, w.workspace.create_user("barack"))
        w.curation.associate("barack", [faces["obama.jpg"]], quick=True)
        wait_idle(qtbot, w)
        w.curation.preview_dialog.accept()  # a number key previews too
        wait_idle(qtbot, w)
        drop_faces(w, "barack", [faces["obama2.jpg"], faces["biden.jpg"]], collection_id="people")
        dialog = w.curation.preview_dialog
        rows = {r.face_id: r for r in dialog.rows}
        assert rows[faces["obama2.jpg"]].outcome == ap.ASSOCIATE
        assert rows[faces["biden.jpg"]].outcome == ap.FAIL
        assert rows[faces["biden.jpg"]].reasons == ["LOW_MATCH_CONFIDENCE"]
        assert rows[faces["biden.jpg"]].confidence < 75
        dialog.accept()
        wait_idle(qtbot, w)
        state = owners(real_engine, "people")
        assert state[faces["obama2.jpg"]] == "barack" and state[faces["biden.jpg"]] is None
    finally:
        w.close()
