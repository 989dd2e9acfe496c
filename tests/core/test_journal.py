"""The journal's JSON text: orjson where it can, json where it cannot, the same values either way."""

from __future__ import annotations

import json
import math

from app.core import journal


def test_text_reads_back_as_the_value_with_keys_sorted():
    value = {"b": [1, 2.5, 1e-7, 0.1 + 0.2, -0.0, 99.5, True, None], "a": {"ü": "snow ☃", "z": 3}, "c": ""}
    text = journal.encode(value)
    assert json.loads(text) == value
    assert list(json.loads(text)) == ["a", "b", "c"]
    assert repr(json.loads(text)["b"][3]) == repr(0.1 + 0.2)  # floats round-trip exactly


def test_what_orjson_refuses_still_gets_written():
    value = {"big": 2**70, "f": math.pi}
    assert json.loads(journal.encode(value)) == value
    assert json.loads(journal.encode({1: "a"})) == {"1": "a"}  # orjson, non-str keys allowed


def test_requests_are_recorded_without_image_bytes(tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "j.db")
    conn.execute("CREATE TABLE journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL, operation TEXT, "
                 "collection_id TEXT, request TEXT, response TEXT, model_version TEXT)")
    seq = journal.record(conn, "IndexFaces", "c", {"Image": {"Bytes": b"abc"}}, {"FaceRecords": []}, "m")
    journal.record_many(conn, [journal.entry_row("IndexFaces", "c", {"N": i}, {}, "m") for i in range(3)])
    [entry, *rest] = journal.entries(conn)
    assert entry["Seq"] == seq and entry["Request"]["Image"]["Bytes"] == {
        "Sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "Size": 3}
    assert [e["Request"]["N"] for e in rest] == [0, 1, 2]
