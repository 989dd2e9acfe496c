"""JSON reports from the window: the session (journal entries since the window opened) or the workspace."""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.core.report import build_report


def last_journal_seq(engine, worker=None) -> int:
    """The newest journal sequence number (0 for an empty journal), found without reading it all.

    Sequence numbers grow, so a probe "is there an entry after s?" is monotone: an exponential
    then binary search needs about 2*log2(n) one-row reads.
    """
    def after(seq: int) -> bool:
        return bool(engine.journal_entries(after_seq=seq, limit=1))

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


def session_report(engine, since_seq: int) -> dict:
    entries = engine.journal_entries(after_seq=since_seq)
    return build_report(entries, str(engine.workspace), {"Kind": "session", "AfterSeq": since_seq})


def workspace_report(engine) -> dict:
    return build_report(engine.journal_entries(), str(engine.workspace), {"Kind": "workspace"})


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Write atomically: a half-written report never replaces a good one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def export_job(engine, scope: str, since_seq: int | None, path, worker=None) -> tuple[Path, int]:
    """Build the session (journal since `since_seq`) or workspace report and write it: (path, operations)."""
    if scope == "session":
        report = session_report(engine, since_seq if since_seq is not None else last_journal_seq(engine))
    else:
        report = workspace_report(engine)
    return write_report(report, path), len(report["Operations"])
