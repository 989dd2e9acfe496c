"""The writes one window made on a remote endpoint, kept in memory for its session report.

A remote endpoint has no journal we can read, so the adapter records each write it performed,
in the entry shape of app.core.journal (Seq, Time, Operation, CollectionId, Request, Response,
FaceModelVersion), and app.core.report builds the same document from them. Requests are kept
without image bytes (a digest and size stand in), as the local journal keeps them.
"""

from __future__ import annotations

import json
import threading
import time

from app.core.journal import without_bytes


class SessionJournal:
    def __init__(self):
        self._entries: list[dict] = []
        self._lock = threading.Lock()  # workers of the window record from their own threads

    def record(self, operation: str, collection_id: str | None, request: dict, response: dict,
               model_version: str | None) -> int:
        # a JSON round trip: entries hold plain JSON values, exactly what a stored journal gives back
        entry = {"Time": time.time(), "Operation": operation, "CollectionId": collection_id,
                 "Request": json.loads(json.dumps(without_bytes(request), sort_keys=True)),
                 "Response": json.loads(json.dumps(response, sort_keys=True)), "FaceModelVersion": model_version}
        with self._lock:
            entry["Seq"] = len(self._entries) + 1
            self._entries.append(entry)
            return entry["Seq"]

    def entries(self, after_seq: int = 0, collection_id: str | None = None, limit: int | None = None) -> list[dict]:
        with self._lock:
            found = [dict(e) for e in self._entries[max(0, after_seq):]
                     if collection_id is None or e["CollectionId"] == collection_id]
        return found if limit is None else found[:limit]
