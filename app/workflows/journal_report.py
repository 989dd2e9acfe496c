"""The JSON report of the operations journal, as the window and `rekurator export-report` write it.

One document builder and one writer, so a report says the same thing in the same bytes whichever
surface wrote it: UTF-8 JSON, 2-space indent, members in document order, non-ASCII characters
written as they are (names stay readable), one newline at the end.

Scope says which journal entries the report holds: `SinceSeq` (entries after that sequence
number, absent for the whole journal), `CollectionId` (one collection's entries) and `Kind`
("session": the entries one window made since it opened).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from app.core.report import build_report


def report_clock() -> float:
    """Now, in seconds since the epoch: the report's GeneratedAt (tests put a fixed time here)."""
    return time.time()


def journal_report(backend: Any, *, since_seq: int = 0, collection_id: str | None = None, kind: str | None = None,
                   generated_at: float | None = None) -> dict:
    """The report of the backend's journal entries after `since_seq` (of one collection, if given)."""
    entries = backend.journal_entries(after_seq=since_seq, collection_id=collection_id)
    scope: dict[str, Any] = {}
    if kind is not None:
        scope["Kind"] = kind
    if collection_id is not None:
        scope["CollectionId"] = collection_id
    if since_seq:
        scope["SinceSeq"] = since_seq
    when = report_clock() if generated_at is None else generated_at
    return build_report(entries, str(backend.workspace), scope, generated_at=when)


def report_bytes(report: dict) -> bytes:
    """The report as a file holds it."""
    return (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_report(report: dict, path: str | os.PathLike[str]) -> Path:
    """Write the report to `path` in one step: a reader sees the old file or the whole new one, and a
    failed write leaves no temporary file behind. OSError says why it could not be written."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # opened normally, so the umask applies
    try:
        with open(temporary, "wb") as out:
            out.write(report_bytes(report))
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def last_journal_seq(backend: Any) -> int:
    """The newest journal sequence number (0 for an empty journal), found without reading it all.

    Sequence numbers grow, so a probe "is there an entry after s?" is monotone: an exponential
    then binary search needs about 2*log2(n) one-row reads.
    """
    def after(seq: int) -> bool:
        return bool(backend.journal_entries(after_seq=seq, limit=1))

    if not after(0):
        return 0
    low, high = 0, 1  # invariant: an entry exists after `low`
    while after(high):
        low, high = high, high * 2
    while high - low > 1:  # an entry after low, none after high
        mid = (low + high) // 2
        if after(mid):
            low = mid
        else:
            high = mid
    return high
