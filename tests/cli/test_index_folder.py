"""`rekurator index-folder`: a folder of photos, some of them bad, indexed file by file."""

import io
import json
import sys

import numpy as np

from app.cli.main import main
from app.core.engine import Engine
from app.workflows.photo_import import BATCH_SIZE
from tests.core.fakes import analyzed_face


def make_folder(photos):
    folder = photos.folder
    photos.make("a.jpg", 0)
    photos.make("b.JPEG", 1, faces=2)
    photos.make("c.png", 0, folder=folder / "sub")
    photos.make(".hidden.jpg", 1)
    (folder / "notes.txt").write_text("not a photo")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")  # the analyzer cannot read it
    (folder / "gone.jpg").symlink_to(folder / "nowhere.jpg")  # listed, but cannot be read
    return folder


def test_index_folder_goes_on_past_bad_files(cli, photos):
    folder = make_folder(photos)
    cli("create-collection", "--collection-id", "c")
    result = cli("index-folder", "--collection-id", "c", "--folder", folder)
    assert result.rc == 1, result.err  # some files failed; the rest are stored
    summary = result.json
    assert summary["FileCount"] == 4 and summary["IndexedFileCount"] == 2 and summary["FailedFileCount"] == 2
    assert summary["SkippedFileCount"] == 1 and summary["FacesIndexed"] == 3 and summary["UnindexedFaces"] == 0
    by_file = {f["File"]: f for f in summary["Files"]}
    assert sorted(by_file) == ["a.jpg", "b.JPEG", "broken.jpg", "gone.jpg"]
    assert by_file["broken.jpg"]["Error"]["Code"] == "InvalidImageFormatException"
    assert by_file["gone.jpg"]["Error"]["Code"] == "FileReadError"
    assert len(by_file["b.JPEG"]["FaceIds"]) == 2 and by_file["a.jpg"]["ExternalImageId"] == "a.jpg"
    assert "error: broken.jpg: InvalidImageFormatException" in result.err
    assert "\r[" not in result.err  # no progress bar: stderr is not a terminal

    stored = cli("list-faces", "--collection-id", "c").json["Faces"]
    assert sorted(f["ExternalImageId"] for f in stored) == ["a.jpg", "b.JPEG", "b.JPEG"]


def test_recursive_with_path_ids_and_rerun_stores_nothing_new(cli, photos, tmp_path):
    folder = make_folder(photos)
    (folder / "broken.jpg").unlink()
    (folder / "gone.jpg").unlink()
    cli("create-collection", "--collection-id", "c")
    first = cli("index-folder", "--collection-id", "c", "--folder", folder, "--recursive", "--external-image-id-from", "path")
    assert first.rc == 0, first.err
    by_file = {f["File"]: f for f in first.json["Files"]}
    assert by_file["sub/c.png"]["ExternalImageId"] == "sub:c.png"
    again = cli("index-folder", "--collection-id", "c", "--folder", folder, "--recursive", "--external-image-id-from", "path")
    assert again.json["Files"] == first.json["Files"]
    assert len(cli("list-faces", "--collection-id", "c").json["Faces"]) == 4

    with Engine(tmp_path / "workspace") as engine:  # the journal says where each image came from
        sources = [e["Request"]["SourceFile"] for e in engine.journal_entries() if e["Operation"] == "IndexFaces"]
    assert sorted(set(sources)) == ["a.jpg", "b.JPEG", "sub/c.png"]


def test_batches_and_a_file_that_spoils_its_batch(cli, photos, analyzer):
    cli("create-collection", "--collection-id", "c")
    for i in range(BATCH_SIZE + 3):
        photos.make(f"p{i:02d}.jpg", i % 3)
    odd = photos.folder / "p05.jpg"  # a descriptor of the wrong length makes the store refuse the batch
    analyzer.register(odd.read_bytes(), [analyzed_face(np.ones(64, np.float32))])
    result = cli("index-folder", "--collection-id", "c", "--folder", photos.folder, "--quality-filter", "NONE",
                 "--max-faces", "1", "--debug")
    assert result.rc == 1
    failed = [f["File"] for f in result.json["Files"] if "Error" in f]
    assert failed == ["p05.jpg"]
    assert result.json["FacesIndexed"] == BATCH_SIZE + 2
    assert "Storing 16 analysed image(s) in one transaction" in result.err
    assert len(cli("list-faces", "--collection-id", "c").json["Faces"]) == BATCH_SIZE + 2


def test_progress_bar_only_on_a_terminal(photos, analyzer, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    photos.make("a.jpg", 0)
    assert main(["create-collection", "--collection-id", "c"], analyzer=analyzer) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["index-folder", "--collection-id", "c", "--folder", str(photos.folder)], analyzer=analyzer) == 0
    assert "\r[##############################] 1/1 files, 1 faces, 0 errors" in terminal.getvalue()
    assert json.loads(capsys.readouterr().out)["FacesIndexed"] == 1


def test_index_folder_refusals(cli, photos, tmp_path):
    photos.make("a.jpg", 0)
    unknown = cli("index-folder", "--collection-id", "nope", "--folder", photos.folder)
    assert unknown.rc == 254 and "(ResourceNotFoundException)" in unknown.err and unknown.out == ""
    cli("create-collection", "--collection-id", "c")
    assert cli("index-folder", "--collection-id", "c", "--folder", tmp_path / "absent").rc == 253
    assert cli("index-folder", "--collection-id", "c").rc == 252
    bad = cli("index-folder", "--collection-id", "c", "--folder", photos.folder, "--max-faces", "0")
    assert bad.rc == 254 and "MaxFaces" in bad.err
    assert cli("list-faces", "--collection-id", "c").json["Faces"] == []


def test_against_a_remote_endpoint_each_file_is_one_index_faces_call(cli, photos):
    from app.core.errors import InvalidImageFormatException

    calls = []

    class Remote:
        def __init__(self, **settings):
            pass

        def call(self, operation, params):
            calls.append((operation, params))
            if operation == "IndexFaces":
                if params["Image"]["Bytes"] == b"bad":
                    raise InvalidImageFormatException("Request has invalid image format")
                return {"FaceRecords": [{"Face": {"FaceId": f"id-{len(calls)}", "ImageId": "img"}}], "UnindexedFaces": []}
            return {}

    photos.make("a.jpg", 0)
    (photos.folder / "b.png").write_bytes(b"bad")
    result = cli("--endpoint-url", "http://h:1", "index-folder", "--collection-id", "c", "--folder", photos.folder,
                 "--external-image-id-from", "none", remote_backend_factory=Remote)
    assert result.rc == 1
    assert [op for op, _ in calls] == ["DescribeCollection", "IndexFaces", "IndexFaces"]
    assert calls[1][1] == {"CollectionId": "c", "Image": {"Bytes": (photos.folder / "a.jpg").read_bytes()}}
    files = {f["File"]: f for f in result.json["Files"]}
    assert files["a.jpg"]["FaceIds"] == ["id-2"] and files["b.png"]["Error"]["Code"] == "InvalidImageFormatException"
