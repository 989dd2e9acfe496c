"""Face thumbnails: JPEG bytes decoded into QImage off the GUI thread, QPixmap made in it, LRU cache.

The face model asks `pixmap()` while painting; a miss queues the face and returns None (the
delegate draws a placeholder). Queued faces go to the decoder thread in batches, newest first
(the rows on screen now), one batch in flight at a time so fast scrolling never builds a backlog
that starves what is visible. `ready` tells the model which faces can be repainted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

Fetch = Callable[[str, list], dict]  # (collection id, face ids) -> {face id: JPEG bytes}

_NO_THUMBNAIL = object()  # cached for faces stored without a crop: never asked for again


class ThumbnailDecoder(QObject):
    """Lives in the loader's thread: reads the crops and decodes them."""

    decoded = Signal(str, object)  # collection id, {face id: QImage (null when there is none)}
    failed = Signal(str)  # why the crops could not be read

    def __init__(self, fetch: Fetch, size: int):
        super().__init__()
        self._fetch = fetch
        self._size = size

    @Slot(str, object)
    def decode(self, collection_id: str, face_ids) -> None:
        try:
            blobs = self._fetch(collection_id, list(face_ids))
        except Exception as exc:  # noqa: BLE001 - e.g. the collection was deleted meanwhile
            blobs = {}
            self.failed.emit(f"Could not read face thumbnails: {exc}")
        images = {}
        for fid in face_ids:
            image = QImage()
            data = blobs.get(fid)
            if data:
                image.loadFromData(data)
            if not image.isNull() and (image.width() > self._size or image.height() > self._size):
                image = image.scaled(self._size, self._size, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
            images[fid] = image
        self.decoded.emit(collection_id, images)


class ThumbnailLoader(QObject):
    ready = Signal(str, object)  # collection id, face ids whose thumbnail is now cached
    failed = Signal(str)  # a plain-words message for the status bar (placeholders are shown)
    _wanted = Signal(str, object)  # to the decoder thread

    def __init__(self, fetch: Fetch, size: int = 96, capacity: int = 1500, batch: int = 48, parent=None):
        super().__init__(parent)
        self.size = size
        self._capacity = capacity
        self._batch = batch
        self._cache: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._queued: OrderedDict[tuple[str, str], None] = OrderedDict()  # insertion order = request order
        self._in_flight = False
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self._thread = QThread(self)
        self._thread.setObjectName("thumbnails")
        self._decoder = ThumbnailDecoder(fetch, size)
        self._decoder.moveToThread(self._thread)
        self._thread.finished.connect(self._decoder.deleteLater)
        self._wanted.connect(self._decoder.decode)
        self._decoder.decoded.connect(self._on_decoded)
        self._decoder.failed.connect(self._on_failed)
        self._thread.start()

    def cached(self, collection_id: str, face_id: str) -> bool:
        return (collection_id, face_id) in self._cache

    def pixmap(self, collection_id: str, face_id: str) -> QPixmap | None:
        """The cached thumbnail, or None (not loaded yet: queued; or the face has none)."""
        key = (collection_id, face_id)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit if isinstance(hit, QPixmap) else None  # _NO_THUMBNAIL: the face has no crop
        if key not in self._queued:
            self._queued[key] = None
            if not self._in_flight:
                self._flush_timer.start()
        else:
            self._queued.move_to_end(key)  # asked again: it is on screen now
        return None

    def missing(self, collection_id: str, face_id: str) -> bool:
        """True once the face is known to have no crop (as opposed to not loaded yet)."""
        return self._cache.get((collection_id, face_id)) is _NO_THUMBNAIL

    def forget(self, collection_id: str, face_ids) -> None:
        for fid in face_ids:
            self._cache.pop((collection_id, fid), None)
            self._queued.pop((collection_id, fid), None)

    def clear(self) -> None:
        self._cache.clear()
        self._queued.clear()

    @property
    def busy(self) -> bool:
        return self._in_flight or bool(self._queued)

    def _flush(self) -> None:
        if self._in_flight or not self._queued:
            return
        newest = list(reversed(self._queued))
        collection_id = newest[0][0]
        batch = [key for key in newest if key[0] == collection_id][: self._batch]
        for key in batch:
            del self._queued[key]
        self._in_flight = True
        self._wanted.emit(collection_id, [fid for _c, fid in batch])

    @Slot(str, object)
    def _on_decoded(self, collection_id: str, images) -> None:
        self._in_flight = False
        for fid, image in images.items():
            key = (collection_id, fid)
            self._cache[key] = _NO_THUMBNAIL if image.isNull() else QPixmap.fromImage(image)
            self._cache.move_to_end(key)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        if self._queued:
            self._flush_timer.start()
        self.ready.emit(collection_id, list(images))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)

    def shutdown(self) -> None:
        self._flush_timer.stop()
        self._queued.clear()
        self._thread.quit()
        self._thread.wait()
