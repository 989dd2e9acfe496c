""""Not this person" marks for a remote endpoint, kept on this computer in a small JSON file.

The Rekognition API has nowhere to keep them, so each endpoint (and profile) gets its own file
under the user data folder: {"Version": 1, "Endpoint": url, "Marks": {collection: {user: [face
ids]}}}. Every change is written at once and atomically (a crash never leaves half a file).
Marks name faces by FaceId, which endpoints never reuse, so a stale mark is harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path

import platformdirs

from app.core.workspace import make_private_dirs, open_private

FILE_VERSION = 1


class MarksFileError(ValueError):
    """The marks file exists but cannot be read as one; the message names the file."""


def default_marks_path(endpoint_url: str, profile_name: str | None = None) -> Path:
    """<user data dir>/rekurator/remote-marks/<host>-<digest>.json, one file per endpoint and profile."""
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", re.sub(r"^[a-z]+://", "", endpoint_url))[:60].strip("_") or "endpoint"
    digest = hashlib.sha256(f"{endpoint_url}\n{profile_name or ''}".encode()).hexdigest()[:12]
    return Path(platformdirs.user_data_dir("rekurator", appauthor=False)) / "remote-marks" / f"{host}-{digest}.json"


class PersonMarks:
    def __init__(self, path: str | os.PathLike, endpoint_url: str):
        self.path = Path(path)
        self.endpoint_url = endpoint_url
        self._lock = threading.Lock()
        self._marks: dict[str, dict[str, set[str]]] = self._read()

    def _read(self) -> dict[str, dict[str, set[str]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise MarksFileError(f"cannot read the not-this-person marks file {self.path}: {exc}") from exc
        try:
            doc = json.loads(text)
            if doc.get("Version") != FILE_VERSION:
                raise ValueError(f"unknown Version {doc.get('Version')!r}")
            return {cid: {uid: set(map(str, ids)) for uid, ids in users.items()} for cid, users in doc["Marks"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MarksFileError(f"the not-this-person marks file {self.path} is damaged ({exc}); move it away to "
                                 "start without marks") from exc

    def _write(self) -> None:
        doc = {"Version": FILE_VERSION, "Endpoint": self.endpoint_url,
               "Marks": {cid: {uid: sorted(ids) for uid, ids in users.items() if ids}
                         for cid, users in sorted(self._marks.items()) if any(users.values())}}
        make_private_dirs(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open_private(tmp, "w", encoding="utf-8") as out:
            out.write(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def faces(self, collection_id: str, user_id: str) -> set[str]:
        with self._lock:
            return set(self._marks.get(collection_id, {}).get(user_id, ()))

    def change(self, collection_id: str, user_id: str, face_ids, rejected: bool) -> list[str]:
        """Mark (or unmark) faces; the ones whose mark actually changed, in the order given."""
        with self._lock:
            marked = self._marks.setdefault(collection_id, {}).setdefault(user_id, set())
            changed = [f for f in dict.fromkeys(face_ids) if (f in marked) != rejected]
            if changed:
                if rejected:
                    marked.update(changed)
                else:
                    marked.difference_update(changed)
                self._write()
            return changed

    def forget(self, collection_id: str, user_id: str | None = None, face_ids=None) -> None:
        """Drop the marks of a deleted collection, of a deleted user, or on deleted faces."""
        with self._lock:
            users = self._marks.get(collection_id)
            if not users:
                return
            if user_id is None and face_ids is None:
                del self._marks[collection_id]
            elif user_id is not None:
                if users.pop(user_id, None) is None:
                    return
            else:
                gone = set(face_ids)
                if not any(ids & gone for ids in users.values()):
                    return
                for ids in users.values():
                    ids -= gone
            self._write()
