"""Crash safety (SIGKILL mid-write) and two processes writing one workspace."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.workspace import database_path

from .writer_process import FACES

ROOT = Path(__file__).resolve().parents[2]


def start_writer(workspace, tag, rounds):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.writer_process", str(workspace), tag, str(rounds)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def check_consistent(workspace) -> dict:
    """Every call either fully applied or not at all; returns counts."""
    conn = sqlite3.connect(database_path(workspace))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # IndexFaces is all or nothing: an image row always comes with all its faces
        per_image = conn.execute(
            "SELECT i.external_image_id, COUNT(f.pk) FROM images i LEFT JOIN faces f ON f.image_pk = i.pk GROUP BY i.pk"
        ).fetchall()
        assert all(n == FACES for _name, n in per_image), per_image
        # AssociateFaces is all or nothing: a user holds either none or all of its image's faces
        per_user = conn.execute(
            "SELECT u.user_id, COUNT(f.pk) FROM users u LEFT JOIN faces f ON f.user_pk = u.pk GROUP BY u.pk"
        ).fetchall()
        assert all(n in (0, FACES) for _name, n in per_user), per_user
        # the journal records exactly the calls that took effect
        journal = dict(conn.execute("SELECT operation, COUNT(*) FROM journal GROUP BY operation").fetchall())
        assert journal.get("IndexFaces", 0) == len(per_image)
        assert journal.get("CreateUser", 0) == len(per_user)
        assert journal.get("AssociateFaces", 0) == sum(1 for _u, n in per_user if n == FACES)
        return {"images": len(per_image), "users": len(per_user)}
    finally:
        conn.close()


def test_sigkill_mid_write_leaves_database_consistent(tmp_path):
    workspace = tmp_path / "ws"
    rnd = random.Random(2024)
    kills = 0
    for attempt in range(8):
        proc = start_writer(workspace, f"k{attempt}", 1000)
        # wait until the child is writing, then kill it at a random moment
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        time.sleep(rnd.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += proc.returncode == -signal.SIGKILL
        counts = check_consistent(workspace)
    assert kills == 8
    assert counts["images"] >= 8  # every child got at least one call through


@pytest.mark.parametrize("rounds", [12])
def test_two_processes_write_one_workspace(tmp_path, rounds):
    workspace = tmp_path / "ws"
    writers = [start_writer(workspace, tag, rounds) for tag in ("a", "b")]
    for proc in writers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "locked" not in err.lower()
    counts = check_consistent(workspace)
    assert counts == {"images": 2 * rounds, "users": 2 * rounds}
    conn = sqlite3.connect(database_path(workspace))
    full_users = conn.execute(
        "SELECT COUNT(*) FROM (SELECT user_pk FROM faces WHERE user_pk IS NOT NULL GROUP BY user_pk HAVING COUNT(*) = ?)", (FACES,)
    ).fetchone()[0]
    conn.close()
    assert full_users == 2 * rounds  # no lost write


def check_curation_consistent(workspace) -> int:
    """MoveFaces and MergeUsers are all or nothing: an image's faces are all on one user, and the
    journal holds exactly the calls that took effect. Returns the number of merges."""
    conn = sqlite3.connect(database_path(workspace))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        owners = conn.execute(
            "SELECT i.external_image_id, COUNT(DISTINCT COALESCE(u.user_id, '-')), MIN(u.user_id), COUNT(f.pk) "
            "FROM images i JOIN faces f ON f.image_pk = i.pk LEFT JOIN users u ON u.pk = f.user_pk GROUP BY i.pk"
        ).fetchall()
        assert all(n_owners == 1 for _img, n_owners, _u, _n in owners), owners
        users = {r[0] for r in conn.execute("SELECT user_id FROM users")}
        journal = dict(conn.execute("SELECT operation, COUNT(*) FROM journal GROUP BY operation").fetchall())
        on_b = sum(1 for _img, _n, user, _c in owners if user and user.startswith("b-"))
        on_c = sum(1 for _img, _n, user, _c in owners if user and user.startswith("c-"))
        assert journal.get("MergeUsers", 0) == on_c
        assert journal.get("MoveFaces", 0) == on_b + on_c
        merged_b = {f"b-{user[2:]}" for _img, _n, user, _c in owners if user and user.startswith("c-")}
        assert not merged_b & users  # a merge deletes its emptied source in the same transaction
        return on_c
    finally:
        conn.close()


def test_sigkill_mid_move_or_merge_leaves_database_consistent(tmp_path):
    workspace = tmp_path / "ws"
    rnd = random.Random(99)
    for _attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-m", "tests.core.curation_writer_process", str(workspace), "1000"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        time.sleep(rnd.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        merges = check_curation_consistent(workspace)
    assert merges >= 3
