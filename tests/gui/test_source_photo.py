"""View ▸ Show source photo: the photo a face came from, with its box drawn, following the grid."""

import cv2
import numpy as np
from PySide6.QtCore import QItemSelectionModel

from tests.core.fakes import analyzed_face, face_of, identity_centres

from .gui_actions import settle
from .conftest import open_window

PHOTO_W, PHOTO_H = 400, 200


def grey_photo() -> bytes:
    return cv2.imencode(".jpg", np.full((PHOTO_H, PHOTO_W, 3), 90, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def select(window, face_id):
    index = window.face_model.index(window.face_model.row_of(face_id))
    window.face_grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def test_source_photo_follows_the_current_face(qtbot, engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    c = identity_centres(1)[0]
    faces = [analyzed_face(face_of(c, rng), left=0.1, top=0.2, size=0.25), analyzed_face(face_of(c, rng), left=0.6, top=0.3, size=0.2)]
    analyzer.register(b"group", faces, width=PHOTO_W, height=PHOTO_H, preview=grey_photo())
    ids = [r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c", Image={"Bytes": b"group"},
                                                           ExternalImageId="group.jpg")["FaceRecords"]]
    analyzer.register(b"bare", [analyzed_face(face_of(c, rng))])  # indexed without a stored photo
    bare = engine.index_faces(CollectionId="c", Image={"Bytes": b"bare"})["FaceRecords"][0]["Face"]["FaceId"]
    window = open_window(qtbot, engine)
    window.select_collection("c")
    qtbot.waitUntil(lambda: window.face_model.row_of(bare) is not None)

    select(window, ids[0])
    window.act_source_photo.trigger()
    viewer = window.source_photo.viewer
    qtbot.waitUntil(viewer.isVisible)
    settle(window)  # the photo is read in the background
    assert viewer.face_id == ids[0] and "group.jpg" in viewer.caption.text()
    image = viewer.picture.pixmap().toImage()
    assert (image.width(), image.height()) == (PHOTO_W, PHOTO_H)
    # the box edge is drawn in yellow at the face's place; the photo itself is grey
    edge = image.pixelColor(int(0.1 * PHOTO_W), int((0.2 + 0.125) * PHOTO_H))
    assert edge.red() > 200 and edge.green() > 180 and edge.blue() < 80
    inside = image.pixelColor(int(0.2 * PHOTO_W), int(0.3 * PHOTO_H))
    assert abs(inside.red() - 90) < 10 and abs(inside.blue() - 90) < 10

    select(window, ids[1])  # the viewer follows the grid
    settle(window)
    assert viewer.face_id == ids[1]
    moved = viewer.picture.pixmap().toImage()
    assert moved.pixelColor(int(0.6 * PHOTO_W), int(0.4 * PHOTO_H)).red() > 200

    select(window, bare)
    settle(window)
    assert "No photo was stored" in viewer.caption.text() and viewer.picture.pixmap().isNull()

    viewer.close()
    assert not window.act_source_photo.isChecked()
    window.close()
