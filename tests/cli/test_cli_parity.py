"""CLI parity details (issue 13.9)."""

from __future__ import annotations

import re

import pytest

from tests.core.fakes import analyzed_face, identity_centres


@pytest.mark.parametrize("prefix", ["file://", "fileb://"])
def test_a_missing_or_unreadable_param_file_exits_252(cli, tmp_path, prefix):
    missing = cli("create-collection", "--cli-input-json", f"{prefix}{tmp_path / 'absent.json'}")
    assert missing.rc == 252 and "Unable to load paramfile" in missing.err
    folder = tmp_path / "a-folder"
    folder.mkdir()
    unreadable = cli("index-faces", "--collection-id", "c", "--image-bytes", f"{prefix}{folder}")
    assert unreadable.rc == 252 and "Unable to load paramfile" in unreadable.err


def test_typing_rekognition_first_hints_to_drop_it(cli):
    result = cli("rekognition", "list-collections")
    assert result.rc == 252
    assert "drop `rekognition`" in result.err and "rekurator list-collections" in result.err


def test_a_file_name_given_as_image_bytes_hints_fileb(cli, tmp_path):
    photo = tmp_path / "alice.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    cli("create-collection", "--collection-id", "c")
    for value in ("alice.jpg", str(photo)):
        result = cli("index-faces", "--collection-id", "c", "--image-bytes", value)
        assert result.rc == 252
        assert f"fileb://{value}" in result.err
    not_a_file = cli("index-faces", "--collection-id", "c", "--image-bytes", "not base64!")
    assert not_a_file.rc == 252 and "fileb://" not in not_a_file.err


@pytest.mark.parametrize("argv", [("list-faces", "help"), ("list-faces", "--help"), ("index-folder", "help"),
                                  ("export-report", "--help")])
def test_each_command_help_lists_the_global_options(cli, argv):
    result = cli(*argv)
    assert result.rc == 0
    text = result.out
    assert "global options" in text
    for flag in ("--debug", "--endpoint-url", "--output", "--query", "--profile", "--region",
                 "--no-sign-request",
                 "--cli-binary-format", "--workspace"):
        assert f"[{flag}" in text, flag  # in the synopsis, as aws lists them
        assert re.search(rf"^  {re.escape(flag)}\b", text, re.M), flag  # and described


def test_list_faces_gives_every_face_a_numeric_index_faces_model_version(cli, analyzer, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"photo")
    centres = identity_centres(2)
    analyzer.register(b"photo", [analyzed_face(centres[0]), analyzed_face(centres[1], left=0.5)])
    cli("create-collection", "--collection-id", "c")
    assert cli("index-faces", "--collection-id", "c", "--image-bytes", f"fileb://{photo}").rc == 0
    faces = cli("list-faces", "--collection-id", "c").json["Faces"]
    assert len(faces) == 2
    versions = {face["IndexFacesModelVersion"] for face in faces}
    assert len(versions) == 1 and re.fullmatch(r"[0-9.]+", versions.pop())


def test_numeric_versions_are_stable_and_distinct():
    from app.core.model_versions import numeric_version

    assert numeric_version("dlib_resnet_v1+yunet_2023mar") == "1.0"
    other = numeric_version("arcface_x+scrfd_y")
    assert re.fullmatch(r"2\.[0-9]+", other) and other == numeric_version("arcface_x+scrfd_y")
    assert other != numeric_version("arcface_z+scrfd_y")
