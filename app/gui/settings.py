"""Where the window keeps what it remembers (QSettings), and the keys it uses.

Always an INI file in the user scope, so tests can redirect it with QSettings.setPath and
every platform stores the same thing the same way.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "rekurator"
APPLICATION = "rekurator"

KEY_THRESHOLD = "association/user_match_threshold"  # the last one confirmed
KEY_THRESHOLD_KEPT = "association/keep_threshold"  # previews start from it (else from the default)
KEY_QUICK_CONFIRM = "association/number_keys_confirm_in_one_line"
KEY_GEOMETRY = "window/geometry"
KEY_STATE = "window/state"
KEY_SPLITTER = "window/splitter"
KEY_THEME = "view/theme"
KEY_SEARCH_THRESHOLD = "search/face_match_threshold"
KEY_DEMO_OFFERED = "first_run/demo_offered"
KEY_IMPORT_FOLDER = "import/last_folder"
KEY_TILE_SIZE = "view/thumbnail_size"


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def read_float(settings: QSettings, key: str, default: float, low: float = 0.0, high: float = 100.0) -> float:
    """A stored number, or the default when it is missing or not a number in range."""
    try:
        value = float(settings.value(key, default))  # type: ignore[arg-type]  # QSettings gives str, int or float
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def last_collection_key(workspace) -> str:
    safe = str(workspace).replace("/", "|").replace("\\", "|")
    return f"last_collection/{safe}"


def pins_key(workspace: str, collection_id: str) -> str:
    # pins belong to one collection of one workspace; QSettings keys cannot hold '/' freely
    safe = str(workspace).replace("/", "|").replace("\\", "|")
    return f"pins/{safe}/{collection_id}"
