"""Index files carry checksums; damaged or stale ones are rebuilt from SQLite; catch-up is incremental."""

import io
import pathlib
import re
import sqlite3
import tokenize

import numpy as np
import pytest

from app.core import engine as engine_module
from app.core.engine import Engine
from app.core.index_file import BLOCK, MEMORY_CRC_BLOCK, DamagedIndexError, IndexFile, write_index_file
from app.core.schema import FACE_CHANGES_KEPT, MIGRATIONS, SCHEMA_VERSION
from app.core.store import Store, _statements
from app.core.vector_index import CollectionIndex
from app.core.workspace import database_path

from .fakes import analyzed_face, face_of, identity_centres
from .test_index_sidecar import fill, matches


@pytest.fixture(autouse=True)
def small_sidecar_threshold(monkeypatch):
    monkeypatch.setattr(engine_module, "SIDECAR_MIN_FACES", 1)


@pytest.fixture
def loads_from_db(monkeypatch):
    """Every CollectionIndex.load (a read of all descriptors from SQLite), recorded."""
    calls = []
    original = CollectionIndex.load.__func__

    def spy(cls, *args, **kwargs):
        calls.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(CollectionIndex, "load", classmethod(spy))
    return calls


def big_collection(eng, analyzer, rng, people=40, per_person=10):
    """Enough faces that the sidecar's descriptor section spans many 4 KiB blocks."""
    eng.create_collection(CollectionId="c")
    ids = []
    for p, centre in enumerate(identity_centres(people, seed=7)):
        analyzer.register(
            f"p{p}".encode(),
            [analyzed_face(face_of(centre, rng), left=0.09 * i, size=0.05) for i in range(per_person)],
        )
        ids += [
            r["Face"]["FaceId"]
            for r in eng.index_faces(CollectionId="c", Image={"Bytes": f"p{p}".encode()})["FaceRecords"]
        ]
    return ids


def all_matches(eng, ids):
    return [
        eng.search_faces(CollectionId="c", FaceId=fid, FaceMatchThreshold=0, MaxFaces=20)["FaceMatches"]
        for fid in ids
    ]


@pytest.mark.parametrize("where", ["vectors", "rowids", "owners", "header", "crc_table"])
def test_zeroed_block_inside_the_sidecar_is_detected_and_rebuilt(
    tmp_path, analyzer, rng, loads_from_db, where
):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        ids = big_collection(eng, analyzer, rng)
        probes = ids[::37]
        expected = all_matches(eng, probes)
    [sidecar] = (ws / "index").glob("collection-*.index")
    with IndexFile.open(sidecar) as f:
        data_start, header = f._data_start, f.header
    size = sidecar.stat().st_size
    if where == "header":
        start = 40
    elif where == "crc_table":
        start = data_start + header["data_bytes"]
    else:
        sec = header["sections"][where]
        start = data_start + sec["offset"] + min(sec["nbytes"] // 2, 100)
    data = bytearray(sidecar.read_bytes())
    data[start : start + BLOCK] = bytes(len(data[start : start + BLOCK]))  # zero 4 KB, same length
    sidecar.write_bytes(bytes(data))
    assert sidecar.stat().st_size == size
    with Engine(ws, analyzer=analyzer) as eng:
        assert all_matches(eng, probes) == expected
    assert len(loads_from_db) == 2  # the damaged file was ignored, the index rebuilt from SQLite
    assert CollectionIndex.load_file(sidecar, 1, 128) is not None  # ... and the sidecar rewritten intact


def test_a_single_flipped_bit_is_detected(tmp_path):
    path = tmp_path / "f.index"
    vectors = np.random.default_rng(0).standard_normal((100, 128)).astype(np.float32)
    write_index_file(path, {"x": 1}, [("vectors", vectors)])
    with IndexFile.open(path) as f:
        assert np.array_equal(f.read("vectors"), vectors)
        start = f._data_start
    data = bytearray(path.read_bytes())
    data[start + 12345] ^= 0x10
    path.write_bytes(bytes(data))
    with IndexFile.open(path) as f, pytest.raises(DamagedIndexError):
        f.read("vectors")


def test_disk_section_checks_the_blocks_it_reads(tmp_path):
    path = tmp_path / "f.index"
    vectors = np.random.default_rng(0).standard_normal((1000, 128)).astype(np.float32)
    write_index_file(path, {}, [("vectors", vectors)])
    with IndexFile.open(path) as f:
        start = f._data_start
    data = bytearray(path.read_bytes())
    data[start + 600 * 512 : start + 600 * 512 + 16] = bytes(16)  # inside row 600
    path.write_bytes(bytes(data))
    with IndexFile.open(path) as f:
        mapped = f.on_disk("vectors")
    assert np.array_equal(
        mapped.rows(np.array([3, 999, 10])), vectors[[3, 999, 10]]
    )  # intact blocks read fine
    with pytest.raises(DamagedIndexError):
        mapped.rows(np.array([5, 601]))  # row 601 shares row 600's block
    mapped.close()


def test_truncated_or_extended_file_is_refused(tmp_path):
    path = tmp_path / "f.index"
    write_index_file(path, {}, [("a", np.arange(5000, dtype=np.int64))])
    good = path.read_bytes()
    path.write_bytes(good[:-1])
    assert IndexFile.open(path) is None
    path.write_bytes(good + b"\0")
    assert IndexFile.open(path) is None
    path.write_bytes(good)
    assert IndexFile.open(path) is not None


def test_catch_up_reads_only_the_changes(tmp_path, analyzer, rng, loads_from_db):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        ids = big_collection(eng, analyzer, rng, people=10)
        eng.search_faces(CollectionId="c", FaceId=ids[0])  # index in memory, current
        statements = []
        eng.store.connection().set_trace_callback(statements.append)
        with Engine(ws, analyzer=analyzer) as other:  # another process: owners, deletions, new faces
            other.create_user(CollectionId="c", UserId="u")
            other.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[:5])
            other.disassociate_faces(CollectionId="c", UserId="u", FaceIds=ids[:2])
            other.create_user(CollectionId="c", UserId="v")
            other.associate_faces(CollectionId="c", UserId="v", FaceIds=ids[10:13])
            other.delete_user(CollectionId="c", UserId="v")
            other.delete_faces(CollectionId="c", FaceIds=ids[20:25])
            more = fill(other, analyzer, rng, "late", n=4, seed=3)
            other.associate_faces(CollectionId="c", UserId="u", FaceIds=more[:1])
        probes = [fid for fid in ids[::7] if fid not in ids[20:25]] + more
        got_faces = all_matches(eng, probes)
        got_users = eng.search_users(CollectionId="c", FaceId=ids[0], UserMatchThreshold=0)["UserMatches"]
        eng.store.connection().set_trace_callback(None)
        index = next(iter(eng._indexes.values()))
    # no statement re-read every face of the collection (the old catch-up read all owners)
    assert not [
        s
        for s in statements
        if "FROM faces WHERE collection_pk = ?" in s.replace(str(1), "?")
        and "pk >" not in s
        and "LIMIT" not in s
        and "COUNT" not in s
        and "face_id" not in s
    ]
    assert len(loads_from_db) == 1
    with Engine(ws, analyzer=analyzer) as fresh:  # the same answers as an index read from scratch
        (ws / "index").exists() and [p.unlink() for p in (ws / "index").iterdir()]
        fresh_faces = all_matches(fresh, probes)
        for a, b in zip(fresh_faces, got_faces, strict=False):
            assert [(m["Face"]["FaceId"], m["Similarity"]) for m in a] == [
                (m["Face"]["FaceId"], m["Similarity"]) for m in b
            ]
        assert fresh_faces == got_faces
        assert (
            fresh.search_users(CollectionId="c", FaceId=ids[0], UserMatchThreshold=0)["UserMatches"]
            == got_users
        )
        reference = next(iter(fresh._indexes.values()))
    live = np.isfinite(index.sqnorms[: index.n])
    assert np.array_equal(index.rowids[: index.n][live], reference.rowids[: reference.n])
    assert np.array_equal(index.owners[: index.n][live], reference.owners[: reference.n])
    assert index.user_counts == reference.user_counts


def test_pruned_change_log_makes_a_stale_sidecar_reload(tmp_path, analyzer, rng, loads_from_db):
    ws = tmp_path / "ws"
    with Engine(ws, analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        ids = fill(eng, analyzer, rng, "a")
        eng.search_faces(CollectionId="c", FaceId=ids[0])
    with Engine(ws, analyzer=analyzer) as other:
        other.delete_faces(CollectionId="c", FaceIds=[ids[1]])
        with other.store.write() as conn:  # as if a million later changes had pruned the log
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('face_changes_floor', '999999')")
    with Engine(ws, analyzer=analyzer) as eng:
        assert matches(eng, ids[0]) == sorted(ids[2:])
    assert len(loads_from_db) == 2


def test_change_log_prunes_itself_and_records_the_floor(tmp_path):
    store = Store(tmp_path / "ws")
    last = 4096 * (FACE_CHANGES_KEPT // 4096 + 2)  # the pruning trigger runs every 4096th entry
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO face_changes(seq, collection_pk, face_pk, user_pk) VALUES (?, 1, 1, 0)",
            [(s,) for s in (1, 4096, 5000)],
        )
        conn.execute(
            "INSERT INTO face_changes(seq, collection_pk, face_pk, user_pk) VALUES (?, 1, 1, 0)", (last,)
        )
        left = [r[0] for r in conn.execute("SELECT seq FROM face_changes ORDER BY seq")]
    assert left == [last]
    assert store.meta("face_changes_floor") == str(last - FACE_CHANGES_KEPT)
    store.close()


def test_triggers_log_owner_changes_and_deletions(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    ids = fill(engine, analyzer, rng, "a", n=3)
    engine.create_user(CollectionId="c", UserId="u")
    engine.associate_faces(CollectionId="c", UserId="u", FaceIds=ids[:2])
    engine.delete_user(CollectionId="c", UserId="u")
    engine.delete_faces(CollectionId="c", FaceIds=[ids[2]])
    conn = engine.store.connection()
    rows = conn.execute("SELECT face_pk, user_pk FROM face_changes ORDER BY seq").fetchall()
    user_pk = 1
    assert rows == [(1, user_pk), (2, user_pk), (1, 0), (2, 0), (3, -1)]
    engine.delete_collection(CollectionId="c")
    assert conn.execute("SELECT COUNT(*) FROM face_changes").fetchone()[0] == 0


def test_collection_face_counts_follow_every_write_path(engine, analyzer, rng):
    """Schema 7's triggers keep collections.face_count equal to the faces stored, through indexing,
    deleting faces, a write that fails and rolls back, and deleting another collection."""
    conn = engine.store.connection()

    def counts():
        kept = dict(conn.execute("SELECT collection_id, face_count FROM collections"))
        real = dict(conn.execute("SELECT c.collection_id, (SELECT COUNT(*) FROM faces f WHERE f.collection_pk = c.pk) "
                                 "FROM collections c"))
        assert kept == real
        return kept

    engine.create_collection(CollectionId="c")
    engine.create_collection(CollectionId="d")
    ids = fill(engine, analyzer, rng, "a", n=5)
    assert counts() == {"c": 5, "d": 0}
    engine.delete_faces(CollectionId="c", FaceIds=ids[:2])
    assert counts() == {"c": 3, "d": 0} and engine.describe_collection(CollectionId="c")["FaceCount"] == 3
    with pytest.raises(RuntimeError), engine.store.write() as tx:
        tx.execute("DELETE FROM faces WHERE pk = (SELECT MIN(pk) FROM faces)")
        raise RuntimeError("the write fails after deleting a face")
    assert counts() == {"c": 3, "d": 0}
    with engine.store.write() as tx:  # were a face ever moved between collections, both counts follow
        tx.execute("UPDATE faces SET collection_pk = (SELECT pk FROM collections WHERE collection_id = 'd') "
                   "WHERE pk = (SELECT MAX(pk) FROM faces)")
    assert counts() == {"c": 2, "d": 1}
    engine.delete_collection(CollectionId="d")
    assert counts() == {"c": 2}


def test_migration_from_schema_3_keeps_faces_and_logs_changes(tmp_path, analyzer, rng):
    ws = tmp_path / "ws"
    ws.mkdir()
    conn = sqlite3.connect(database_path(ws), isolation_level=None)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    for step in range(3):
        for statement in _statements(MIGRATIONS[step]):
            conn.execute(statement)
    conn.execute("PRAGMA application_id=1380272981")
    conn.execute("INSERT INTO meta(key, value) VALUES ('pagination_secret', ?)", ("ab" * 32,))
    conn.execute(
        "INSERT INTO collections(collection_id, face_model_version, created_at) VALUES ('c', ?, 0)",
        (analyzer.model_version,),
    )
    vector = face_of(identity_centres(1)[0], rng)
    conn.execute(
        "INSERT INTO faces(collection_pk, face_id, image_id, bbox_width, bbox_height, bbox_left, bbox_top,"
        " confidence, model_version, descriptor, created_at) VALUES (1, ?, 'i', .1, .1, .1, .1, 99, ?, ?, 0)",
        ("11111111-1111-5111-8111-111111111111", analyzer.model_version, vector.tobytes()),
    )
    conn.execute("PRAGMA user_version=3")
    conn.execute("COMMIT")
    conn.close()
    with Engine(ws, analyzer=analyzer) as eng:
        db = eng.store.connection()
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert (
            eng.list_faces(CollectionId="c")["Faces"][0]["FaceId"] == "11111111-1111-5111-8111-111111111111"
        )
        eng.create_user(CollectionId="c", UserId="u")
        eng.associate_faces(CollectionId="c", UserId="u", FaceIds=["11111111-1111-5111-8111-111111111111"])
        assert db.execute("SELECT face_pk, user_pk FROM face_changes").fetchall() == [(1, 1)]


def test_storage_path_finds_inserted_faces_by_primary_key(engine, analyzer, rng):
    """Bulk imports must not walk the collection: the inserted pks are checked by rowid only."""
    engine.create_collection(CollectionId="c")
    fill(engine, analyzer, rng, "a", n=3)
    statements = []
    conn = engine.store.connection()
    conn.set_trace_callback(statements.append)
    ids = fill(engine, analyzer, rng, "b", n=4, seed=2)
    conn.set_trace_callback(None)
    assert len(ids) == 4 and engine.list_faces(CollectionId="c", FaceIds=ids)["Faces"]
    pk_checks = [s for s in statements if "FROM faces WHERE pk IN" in s]
    assert pk_checks
    for sql in pk_checks:
        plan = " ".join(str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "INTEGER PRIMARY KEY" in plan, plan
    # an image new to the collection needs no FaceId lookups before its faces are inserted
    assert not [s for s in statements if "face_id IN" in s]


@pytest.mark.parametrize("crc_block", [BLOCK, 4 * BLOCK, MEMORY_CRC_BLOCK])
@pytest.mark.parametrize("chunk", [BLOCK, 3 * BLOCK, 64 * BLOCK])
def test_large_sections_read_by_several_threads_are_checked_chunk_by_chunk(tmp_path, monkeypatch, chunk, crc_block):
    """Sections above READ_CHUNK are read and checked a chunk per thread: same bytes, every damaged
    block noticed wherever it lies, and no reader left running afterwards."""
    import threading

    from app.core import index_file

    monkeypatch.setattr(index_file, "READ_CHUNK", chunk)
    path = tmp_path / "f.index"
    rows = 1001 if crc_block < MEMORY_CRC_BLOCK else 20001  # a partial last block, and several chunks
    codes = np.random.default_rng(1).integers(-128, 128, (rows, 128), dtype=np.int8)
    radii = np.random.default_rng(2).random(rows).astype(np.float32)
    write_index_file(path, {}, [("codes", codes), ("radii", radii)], crc_block=crc_block)
    with IndexFile.open(path) as f:
        assert f.crc_block == crc_block
        assert np.array_equal(f.read("codes"), codes) and np.array_equal(f.read("radii"), radii)
        start = f._data_start
    good = path.read_bytes()
    for where in [0, len(codes.tobytes()) // 2, len(codes.tobytes()) - 1]:
        data = bytearray(good)
        data[start + where] ^= 0x01
        path.write_bytes(bytes(data))
        with IndexFile.open(path) as f, pytest.raises(DamagedIndexError, match="codes: checksum"):
            f.read("codes")
    assert not [t for t in threading.enumerate() if t.name.startswith("index-file-reader")]


def test_large_checksum_blocks_cover_every_section_and_the_table(tmp_path):
    """Files read whole use 1 MiB checksum blocks: empty sections, partial last blocks and sections
    smaller than a block all check out, and damage in any section or the CRC table is noticed."""
    path = tmp_path / "f.index"
    rng = np.random.default_rng(3)
    sections = [
        ("big", rng.standard_normal((5000, 128)).astype(np.float32)),  # 2.4 blocks
        ("empty", np.zeros((0, 128), np.float32)),
        ("small", np.arange(7, dtype=np.int64)),
    ]
    write_index_file(path, {"x": 1}, sections, crc_block=MEMORY_CRC_BLOCK)
    with IndexFile.open(path) as f:
        assert f.header["crc_block"] == MEMORY_CRC_BLOCK and f.header["x"] == 1
        for name, array in sections:
            assert np.array_equal(f.read(name), array)
        start, header = f._data_start, f.header
    good = path.read_bytes()
    for name in ("big", "small"):
        sec = header["sections"][name]
        data = bytearray(good)
        data[start + sec["offset"] + sec["nbytes"] - 1] ^= 0x80
        path.write_bytes(bytes(data))
        with IndexFile.open(path) as f, pytest.raises(DamagedIndexError, match=f"{name}: checksum"):
            f.read(name)
    data = bytearray(good)
    data[start + header["data_bytes"] + 5] ^= 0x01  # the CRC table itself
    path.write_bytes(bytes(data))
    assert IndexFile.open(path) is None


def test_a_file_without_crc_block_in_its_header_reads_as_4_kib_blocks(tmp_path):
    """Files written before the header named its checksum block size are read as they were written."""
    path = tmp_path / "f.index"
    vectors = np.random.default_rng(4).standard_normal((300, 128)).astype(np.float32)
    write_index_file(path, {}, [("a", np.arange(3, dtype=np.int64)), ("vectors", vectors)])
    rewrite_header(path, lambda header: header.pop("crc_block"))
    with IndexFile.open(path) as f:
        assert "crc_block" not in f.header and f.crc_block == BLOCK
        assert np.array_equal(f.read("vectors"), vectors)
        disk = f.on_disk("vectors")
    assert np.array_equal(disk.rows(np.array([299, 0])), vectors[[299, 0]])
    disk.close()


@pytest.mark.parametrize("bad", [3, 2048, 3 * BLOCK, 1 << 40, "4096", None])
def test_a_header_naming_an_impossible_checksum_block_is_refused(tmp_path, bad):
    path = tmp_path / "f.index"
    write_index_file(path, {}, [("a", np.arange(5000, dtype=np.int64))])
    rewrite_header(path, lambda header: header.update(crc_block=bad))
    assert IndexFile.open(path) is None


def test_bad_checksum_block_sizes_and_row_reads_of_large_blocks_are_refused(tmp_path):
    path = tmp_path / "f.index"
    with pytest.raises(ValueError, match="crc_block"):
        write_index_file(path, {}, [("a", np.arange(5, dtype=np.int64))], crc_block=3 * BLOCK)
    assert not path.exists()
    write_index_file(path, {}, [("v", np.zeros((10, 4), np.float32))], crc_block=MEMORY_CRC_BLOCK)
    with IndexFile.open(path) as f, pytest.raises(ValueError, match="row by row"):
        f.on_disk("v")


def rewrite_header(path, change) -> None:
    """Rewrite an index file's JSON header (with a valid header CRC) after `change(header)`."""
    import json
    import zlib

    from app.core.index_file import MAGIC

    data = path.read_bytes()
    length = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "little")
    header = json.loads(data[len(MAGIC) + 8 : len(MAGIC) + 8 + length])
    change(header)
    head = json.dumps(header, sort_keys=True).encode()
    prefix = MAGIC + len(head).to_bytes(8, "little") + head + zlib.crc32(head).to_bytes(4, "little")
    old_prefix = len(MAGIC) + 8 + length + 4
    data_start = old_prefix + (-old_prefix % BLOCK)
    assert len(prefix) <= data_start, "the new header must fit where the old one was"
    path.write_bytes(prefix + bytes(data_start - len(prefix)) + data[data_start:])


def test_a_read_error_on_the_reader_thread_reaches_the_caller(tmp_path, monkeypatch):
    from app.core import index_file

    monkeypatch.setattr(index_file, "READ_CHUNK", BLOCK)
    path = tmp_path / "f.index"
    write_index_file(path, {}, [("a", np.arange(5000, dtype=np.int64))])
    calls = []

    def failing_preadv(fd, buffers, offset):
        calls.append(offset)
        if len(calls) == 3:
            raise OSError(5, "Input/output error")
        return real(fd, buffers, offset)

    real = index_file.os.preadv
    monkeypatch.setattr(index_file.os, "preadv", failing_preadv)
    with IndexFile.open(path) as f, pytest.raises(OSError, match="Input/output"):
        f.read("a")
    monkeypatch.setattr(index_file.os, "preadv", lambda fd, buffers, offset: 0)  # the file ends early
    with IndexFile.open(path) as f, pytest.raises(DamagedIndexError, match="truncated"):
        f.read("a")


_FACES_INSERT = re.compile(r"\bINSERT\s+(OR\s+\w+\s+)?INTO\s+faces\b(?!_)", re.IGNORECASE)


def test_faces_are_inserted_only_where_the_face_count_is_kept():
    """Schema 7 counts inserted faces in store_analyzed (deletions by triggers): SQL inserting faces
    anywhere else in app/ would leave collections.face_count short, and every large index file would
    then be refused and rebuilt."""
    app = pathlib.Path(__file__).resolve().parents[2] / "app"
    places = []
    for path in sorted(app.rglob("*.py")):
        for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if tok.type == tokenize.STRING and _FACES_INSERT.search(tok.string):
                places.append(f"{path.relative_to(app)}:{tok.start[0]}")
    assert [p.split(":")[0] for p in places] == ["core/face_ops.py"], places
    assert _FACES_INSERT.search('"INSERT INTO faces(collection_pk) VALUES (?)"')  # the check itself works
    assert not _FACES_INSERT.search('"INSERT INTO face_changes(face_pk) VALUES (?)"')
    assert not _FACES_INSERT.search('"INSERT INTO faces_by_x"')
