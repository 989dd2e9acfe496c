"""`rekurator enroll` end to end on footage made from the test photos, and its refusals."""

import glob

import pytest

from app.core.engine import Engine


@pytest.fixture
def collection(cli):
    assert cli("create-collection", "--collection-id", "c").rc == 0


def workspace_state(cli):
    users = cli("list-users", "--collection-id", "c").json["Users"]
    faces = cli("list-faces", "--collection-id", "c").json["Faces"]
    return users, faces


def test_enroll_from_a_video_file(cli, collection, videos):
    result = cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["enrollment"][0])
    assert result.rc == 0, result.err
    out = result.json
    assert out["UserCreated"] is True and out["UserId"] == "obama" and out["CollectionId"] == "c"
    assert out["RequestedFrameCount"] == 5 and out["CapturedFrameCount"] == 5 and out["CaptureEnded"] == "complete"
    assert out["UserMatchThreshold"] == 75.0 and out["UserStatus"] == "ACTIVE"
    indexed = [f["FaceId"] for f in out["IndexedFaces"]]
    assert len(set(indexed)) == 5 and out["AssociatedFaces"] == [{"FaceId": f} for f in indexed]
    assert out["UnsuccessfulFaceAssociations"] == [] and "OtherUserMatches" not in out
    assert all(f["ExternalImageId"].startswith("enroll-obama-") for f in out["IndexedFaces"])
    # progress on stderr: what was wrong, each capture, the summary
    for line in ("enroll: [0/5] several faces — only one person please", "enroll: [0/5] too dark",
                 "enroll: [0/5] too small — come closer", "enroll: [0/5] blurry — hold still", "enroll: [5/5] captured",
                 "5 of 5 good frame(s) captured", "enroll: created user obama"):
        assert line in result.err
    users, faces = workspace_state(cli)
    assert users == [{"UserId": "obama", "UserStatus": "ACTIVE"}]
    assert {f["FaceId"] for f in faces} == set(indexed) and {f["UserId"] for f in faces} == {"obama"}


def test_enrolling_a_known_face_as_someone_else_warns(cli, collection, videos):
    assert cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["short"][0],
               "--frames", "1").rc == 0
    result = cli("enroll", "--collection-id", "c", "--user-id", "impostor", "--camera", videos["enrollment"][0],
                 "--frames", "2", "--query", "OtherUserMatches[0].User.UserId", "--output", "text")
    assert result.rc == 0, result.err
    assert result.out.strip() == "obama"
    assert "warning: this face already belongs to user obama" in result.err


def test_a_video_that_ends_early_exits_1_with_what_it_enrolled(cli, collection, videos):
    result = cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["short"][0])
    assert result.rc == 1, result.err
    out = result.json
    assert out["CaptureEnded"] == "end_of_stream" and 1 <= out["CapturedFrameCount"] < 5
    assert "the video ended after 5 frame(s)" in result.err
    users, faces = workspace_state(cli)
    assert users == [{"UserId": "obama", "UserStatus": "ACTIVE"}]
    assert len(faces) == out["CapturedFrameCount"] and {f["UserId"] for f in faces} == {"obama"}


def test_footage_without_a_usable_face_writes_nothing(cli, collection, videos, tmp_path):
    result = cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["nobody"][0])
    assert result.rc == 1 and result.out == ""
    assert "0 of 5 good frame(s)" in result.err and "nothing was enrolled" in result.err
    assert workspace_state(cli) == ([], [])


@pytest.mark.parametrize("camera, message", [
    ("missing.avi", "no such file"),
    (None, "camera"),  # an index with no camera behind it
])
def test_a_source_that_cannot_be_opened_exits_253_and_writes_nothing(cli, collection, tmp_path, camera, message):
    camera = str(tmp_path / camera) if camera else str(next(i for i in range(40, 64) if not glob.glob(f"/dev/video{i}")))
    result = cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", camera)
    assert result.rc == 253 and message in result.err and result.out == ""
    assert workspace_state(cli) == ([], [])
    with Engine(tmp_path / "workspace") as engine:
        assert [e["Operation"] for e in engine.journal_entries()] == ["CreateCollection"]


def test_refusals(cli, collection, videos):
    video = videos["enrollment"][0]
    base = ["enroll", "--collection-id", "c", "--user-id", "obama", "--camera"]
    unknown = cli("enroll", "--collection-id", "nope", "--user-id", "obama", "--camera", video)
    assert unknown.rc == 254 and "(ResourceNotFoundException) when calling the DescribeCollection" in unknown.err
    bad_user = cli("enroll", "--collection-id", "c", "--user-id", "no spaces", "--camera", video)
    assert bad_user.rc == 254 and "UserId" in bad_user.err
    for extra, text in ((["--frames", "0"], "--frames"), (["--frames", "101"], "--frames"),
                        (["--user-match-threshold", "120"], "--user-match-threshold"),
                        (["--max-seconds", "0"], "--max-seconds")):
        result = cli(*base, video, *extra)
        assert result.rc == 252 and text in result.err
    assert cli(*base, "ftp://host/x").rc == 252
    assert cli(*base[:-1]).rc == 252  # --camera is required
    assert workspace_state(cli) == ([], [])


def test_help_and_listing(cli):
    assert "--user-match-threshold" in cli("enroll", "help").out
    assert "enroll" in cli("help").out


def test_frames_an_existing_user_would_not_take_are_refused_before_anything_is_written(cli, collection, videos):
    assert cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["short"][0],
               "--frames", "2").rc == 0
    before = workspace_state(cli)
    result = cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["stranger"][0],
                 "--frames", "2")
    assert result.rc == 254, result.err
    assert "do not look like obama" in result.err
    assert workspace_state(cli) == before  # nothing stored
    # the operator's explicit yes: stored, and reported as not associated
    result = cli("enroll", "--collection-id", "c", "--user-id", "obama", "--camera", videos["stranger"][0],
                 "--frames", "2", "--store-non-matching")
    assert result.rc == 0, result.err
    assert result.json["AssociatedFaces"] == []
    assert {r for f in result.json["UnsuccessfulFaceAssociations"] for r in f["Reasons"]} == {"LOW_MATCH_CONFIDENCE"}
