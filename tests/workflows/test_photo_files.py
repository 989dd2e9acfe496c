"""Which files an import takes, in which order, and the ExternalImageId each gets."""

import os
from pathlib import Path, PurePath

import pytest

from app.core.errors import InvalidParameterException
from app.workflows.photo_files import external_image_id, find_photos, list_photos


def make(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_folders_depth_first_in_name_order_hidden_ones_passed_over(tmp_path):
    make(tmp_path, "b.jpg", "a/z.PNG", "a/y.txt", "a.jpe", "c.JPEG", ".hidden.jpg", ".cache/d.jpg", "sub/e.png",
         "notes.md")
    os.symlink(tmp_path / "nowhere.jpg", tmp_path / "gone.jpg")  # a photo name that cannot be read: listed
    os.symlink(tmp_path / "a", tmp_path / "link")  # a link to a folder: not followed
    found = find_photos([tmp_path])
    assert [p.relative.as_posix() for p in found.photos] == ["a/z.PNG", "a.jpe", "b.jpg", "c.JPEG", "gone.jpg", "sub/e.png"]
    assert found.skipped == 2  # a/y.txt and notes.md; hidden files are not counted
    assert all(p.path == tmp_path / p.relative for p in found.photos)
    flat = find_photos([tmp_path], recursive=False)
    assert [p.relative.as_posix() for p in flat.photos] == ["a.jpe", "b.jpg", "c.JPEG", "gone.jpg"] and flat.skipped == 1


def test_files_named_directly_are_taken_as_they_are_and_listed_once(tmp_path):
    make(tmp_path, "f/x.jpg", "f/g/y.png", "odd.bin")
    found = find_photos([tmp_path / "odd.bin", tmp_path / "f", tmp_path / "f" / "x.jpg"])
    assert [(p.path.relative_to(tmp_path).as_posix(), p.relative.as_posix()) for p in found.photos] == \
        [("odd.bin", "odd.bin"), ("f/g/y.png", "g/y.png"), ("f/x.jpg", "x.jpg")]
    assert list_photos([tmp_path / "f"]) == [tmp_path / "f/g/y.png", tmp_path / "f/x.jpg"]
    with pytest.raises(InvalidParameterException, match="No such file or folder"):
        find_photos([tmp_path / "missing"])


def test_a_folder_that_cannot_be_listed_holds_nothing(tmp_path, monkeypatch):
    make(tmp_path, "ok.jpg", "locked/in.jpg")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert [p.relative.as_posix() for p in find_photos([tmp_path]).photos] == ["ok.jpg"]


def test_external_image_ids():
    where = PurePath("trips/2024 Rome/Zoë (1).jpg")
    assert external_image_id(where) == "Zo___1_.jpg"
    assert external_image_id(where, "path") == "trips:2024_Rome:Zo___1_.jpg"
    assert external_image_id(where, "none") is None
    long = external_image_id(PurePath("a" * 300 + ".jpg"))
    assert long is not None and len(long) == 255 and long.endswith(".jpg")
    with pytest.raises(ValueError, match="source"):
        external_image_id(where, "stem")
