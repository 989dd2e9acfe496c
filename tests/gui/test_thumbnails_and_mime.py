"""Thumbnails decode off the GUI thread into an LRU cache; the face MIME payload round-trips."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QMimeData, Qt

from app.gui.face_model import FaceListModel, FaceRole
from app.gui.mime import FACE_IDS_MIME, FacePayloadError, decode_faces, encode_faces
from app.gui.thumbnail_loader import ThumbnailLoader

from .conftest import thumbnail_jpeg


def test_mime_round_trip_and_refusals():
    ids = ["11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"]
    payload = decode_faces(encode_faces("c", ids))
    assert payload.collection_id == "c" and payload.face_ids == tuple(ids)
    with pytest.raises(FacePayloadError):
        encode_faces("c", [])
    bad = QMimeData()
    bad.setText("hello")
    with pytest.raises(FacePayloadError, match=FACE_IDS_MIME):
        decode_faces(bad)
    for body, why in [(b"{not json", "not JSON"), (b"[1]", "JSON object"), (b'{"FaceIds": ["x"]}', "CollectionId"),
                      (b'{"CollectionId": "c", "FaceIds": []}', "FaceIds"), (b'{"CollectionId": "c", "FaceIds": [3]}', "FaceIds")]:
        mime = QMimeData()
        mime.setData(FACE_IDS_MIME, body)
        with pytest.raises(FacePayloadError, match=why):
            decode_faces(mime)


def test_loader_decodes_in_another_thread_and_caches(qtbot):
    gui_thread = threading.get_ident()
    fetch_threads = []
    blobs = {f"f{i}": thumbnail_jpeg(1, i, size=200) for i in range(6)}
    blobs["f5"] = b""  # stored without a crop

    def fetch(collection_id, face_ids):
        fetch_threads.append(threading.get_ident())
        return {f: blobs[f] for f in face_ids if f in blobs}

    loader = ThumbnailLoader(fetch, size=64, capacity=4)
    try:
        assert loader.pixmap("c", "f0") is None  # a miss queues the face
        with qtbot.waitSignal(loader.ready, timeout=5000) as ready:
            pass
        assert ready.args[0] == "c" and "f0" in ready.args[1]
        assert fetch_threads and all(t != gui_thread for t in fetch_threads)
        pix = loader.pixmap("c", "f0")
        assert pix is not None and max(pix.width(), pix.height()) == 64  # scaled to the icon size
        loader.pixmap("c", "f5")
        qtbot.waitUntil(lambda: not loader.busy, timeout=5000)
        assert loader.pixmap("c", "f5") is None and loader.cached("c", "f5")  # "no crop" is remembered
        assert not loader.busy  # ... and not asked for again
        loader.pixmap("c", "f0")  # f0 is now more recently used than f5
        for i in range(1, 4):
            loader.pixmap("c", f"f{i}")
        qtbot.waitUntil(lambda: not loader.busy, timeout=5000)
        # capacity 4: the least recently used (f5) went, the rest stay
        assert [loader.cached("c", f"f{i}") for i in range(6)] == [True, True, True, True, False, False]
    finally:
        loader.shutdown()


def test_loader_reports_read_failures(qtbot):
    def fetch(collection_id, face_ids):
        raise RuntimeError("collection gone")

    loader = ThumbnailLoader(fetch)
    try:
        with qtbot.waitSignal(loader.failed, timeout=5000) as failed:
            loader.pixmap("c", "f0")
        assert "collection gone" in failed.args[0]
    finally:
        loader.shutdown()


def test_face_model_repaints_rows_when_thumbnails_arrive(qtbot, engine, people):
    loader = ThumbnailLoader(engine.face_thumbnails, size=32)
    try:
        model = FaceListModel(engine, loader)
        model.load("c")
        assert model.index(3).data(FaceRole.Thumbnail) is None
        with qtbot.waitSignal(model.dataChanged, timeout=5000) as changed:
            pass
        top, bottom, roles = changed.args
        assert top.row() <= 3 <= bottom.row() and FaceRole.Thumbnail in roles
        pix = model.index(3).data(FaceRole.Thumbnail)
        assert pix is not None and pix.width() == 32
        # the decoded pixels are the stored crop's (identity 0 is blue-ish: B=0, G=3*40, R=128)
        colour = pix.toImage().pixelColor(16, 16)
        assert abs(colour.red() - 128) < 12 and abs(colour.green() - 120) < 12 and colour.blue() < 12
        assert model.index(3).data(Qt.ItemDataRole.DecorationRole) is not None
    finally:
        loader.shutdown()
