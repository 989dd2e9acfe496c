"""The face grid's size and count: a thumbnail-size slider, Ctrl++ / Ctrl+- (Ctrl+wheel is the grid's
own), and how many faces the current filter holds. The size is remembered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider

from .face_grid import MAX_TILE, MIN_TILE, TILE_STEP
from .face_model import FaceFilter
from .reason_text import count
from .settings import KEY_TILE_SIZE, app_settings, read_float

if TYPE_CHECKING:
    from .main_window import MainWindow


class GridControls(QObject):
    def __init__(self, w: MainWindow):
        super().__init__(w)
        self.w = w
        grid = w.face_grid
        self.count_label = QLabel()
        self.count_label.setObjectName("faceCount")
        self.count_label.setAccessibleName("Faces in this view")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thumbnailSize")
        self.slider.setAccessibleName("Thumbnail size")
        self.slider.setToolTip("Thumbnail size (Ctrl++ / Ctrl+-, or Ctrl+wheel over the faces)")
        self.slider.setRange(MIN_TILE, MAX_TILE)
        self.slider.setSingleStep(TILE_STEP)
        self.slider.setPageStep(TILE_STEP)
        self.slider.setMaximumWidth(140)
        w.faces_bar.addWidget(self.count_label)
        w.faces_bar.addWidget(self.slider)
        self.larger = QAction("&Larger thumbnails", w)
        self.larger.setObjectName("largerThumbnails")
        self.larger.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
        self.larger.triggered.connect(lambda: grid.zoom(1))
        self.smaller = QAction("&Smaller thumbnails", w)
        self.smaller.setObjectName("smallerThumbnails")
        self.smaller.setShortcut(QKeySequence("Ctrl+-"))
        self.smaller.triggered.connect(lambda: grid.zoom(-1))
        w.addActions([self.larger, self.smaller])
        w.view_menu.addActions([self.larger, self.smaller])
        grid.set_tile_size(int(read_float(app_settings(), KEY_TILE_SIZE, grid.tile_size(), MIN_TILE, MAX_TILE)))
        self.slider.setValue(grid.tile_size())
        self.slider.valueChanged.connect(grid.set_tile_size)
        grid.tile_size_changed.connect(self._on_size_changed)
        model = w.face_model
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.page_added):
            signal.connect(self.update_count)
        w.collections_model.dataChanged.connect(self.update_count)
        self.update_count()

    @Slot(int)
    def _on_size_changed(self, size: int) -> None:
        if self.slider.value() != size:
            self.slider.setValue(size)
        app_settings().setValue(KEY_TILE_SIZE, size)

    @Slot()
    def update_count(self, *_args) -> None:
        w, model = self.w, self.w.face_model
        if model.collection_id is None:
            self.count_label.setText("")
            return
        n = model.rowCount()
        more = "+" if model.canFetchMore() else ""
        if model.face_filter is FaceFilter.ALL:
            row = w.collections_model.row_of(model.collection_id)
            total = w.collections_model.entry(row).face_count if row is not None else None
            text = count(total, "face") if total is not None and total >= n else f"{n}{more} faces"
            if total is not None and n < total:
                text = f"{n} of {text} loaded"
        elif model.face_filter is FaceFilter.UNASSIGNED:
            text = f"{n}{more} unassigned" if more else count(n, "unassigned face")
        else:
            text = f"{n}{more} of {model.filter_user}" if more else f"{count(n, 'face')} of {model.filter_user}"
        self.count_label.setText(text)
