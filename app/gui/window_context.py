"""What the controllers may use of the window: a small typed context instead of the whole MainWindow.

MainWindow provides it (mypy checks that where the window hands itself to a controller); a
controller sees only these members, so it cannot grow into the window's widgets unnoticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QStatusBar

if TYPE_CHECKING:
    from app.core.backend import Backend

    from .collection_model import CollectionListModel
    from .face_model import FaceListModel
    from .operation_runner import OperationRunner
    from .results_panel import ResultsPanel
    from .thumbnail_loader import ThumbnailLoader
    from .user_model import UserListModel
    from .workers import TaskList
    from .workspace_controller import WorkspaceController


class WindowContext(Protocol):
    engine: Backend
    runner: OperationRunner
    tasks: TaskList
    thumbnails: ThumbnailLoader
    undo_stack: QUndoStack
    collections_model: CollectionListModel
    users_model: UserListModel
    face_model: FaceListModel
    results_panel: ResultsPanel
    workspace: WorkspaceController

    def statusBar(self) -> QStatusBar: ...

    def current_collection(self) -> str | None: ...

    def current_user(self) -> str | None: ...

    def current_face(self) -> str | None: ...

    def select_collection(self, collection_id: str) -> None: ...

    def selected_face_ids(self) -> list[str]: ...

    def report_error(self, action: str, exc: BaseException) -> None: ...

    def show_results(self) -> None: ...

    def update_history_actions(self, *_args: Any) -> None: ...
