"""Enrollment end to end: footage from the test photos, read through OpenCV, analysed by the real
default analyzer, stored and associated by the real engine."""

import re

import numpy as np
import pytest

from app.capture.enrollment import (
    COMPLETE,
    END_OF_STREAM,
    SOURCE_STOPPED,
    FramesDoNotMatch,
    capture_frames,
    enroll,
    match_check,
    owner_check,
)
from app.capture.errors import SourceStoppedError
from app.capture.frame_hints import FrameHint
from app.capture.sources import FileSource
from app.core.engine import Engine
from app.core.errors import InvalidParameterException, ResourceNotFoundException
from app.core.similarity import scale_for

from .video_frames import PROBLEM_SHOTS


def writes(engine, collection="c"):
    """The journal after the collection was created."""
    return [e for e in engine.journal_entries(collection_id=collection) if e["Operation"] != "CreateCollection"]


def user_faces(engine, user_id, collection="c"):
    return {f["FaceId"] for f in engine.list_faces(CollectionId=collection, UserId=user_id)["Faces"]}


def all_faces(engine, collection="c"):
    return engine.list_faces(CollectionId=collection)["Faces"]


def test_capture_keeps_five_varied_frames_and_tells_what_is_wrong(enrollment_capture, videos):
    outcome, verdicts = enrollment_capture
    shots = videos["enrollment"][1]
    assert outcome.ended == COMPLETE and outcome.complete and len(outcome.captured) == 5
    assert outcome.frames_read == len(verdicts) and outcome.frames_dropped == 0  # a file: every frame analysed
    # the operator's mistakes come first in the footage, each with its hint, and none is kept
    problem = {v.frame_index: v.hint for v in verdicts if v.frame_index <= len(PROBLEM_SHOTS)}
    assert [problem[i] for i in (1, 2)] == [FrameHint.SEVERAL_FACES] * 2  # the group photo
    assert len(verdicts[0].faces) >= 2
    assert [problem[i] for i in (3, 4)] == [FrameHint.TOO_DARK] * 2
    assert [problem[i] for i in (5, 6)] == [FrameHint.TOO_SMALL] * 2
    assert problem[7] is FrameHint.BLURRY
    kept = [f.frame_index for f in outcome.captured]
    assert min(kept) > len(PROBLEM_SHOTS)
    assert all(shots[i - 1].photo.startswith("obama") for i in kept)
    # held poses repeat: most of their frames were turned down as near-duplicates
    assert sum(v.hint is FrameHint.SIMILAR for v in verdicts) >= 3
    # every kept frame is one face, described, and at least the rule's step from every other kept frame
    vectors = np.stack([f.face.descriptor for f in outcome.captured])
    assert vectors.shape == (5, 128)
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)[np.triu_indices(5, 1)]
    assert distances.min() >= 0.1 * scale_for(outcome.captured[0].model_version).max_distance(80)
    assert distances.max() < 0.6  # one person
    assert all(f.face.thumbnail for f in outcome.captured)


def test_enroll_creates_the_user_and_associates_every_frame(engine, enrollment_capture):
    captured = enrollment_capture[0].captured
    steps = []
    result = enroll(engine, "c", "obama", captured, threshold=75, on_step=steps.append)
    assert steps == ["CreateUser", "IndexFaces", "AssociateFaces"]
    assert result.user_created and len(result.face_ids) == 5 and len(set(result.face_ids)) == 5
    assert result.associated_face_ids == result.face_ids and result.unsuccessful == []
    assert result.association["UserStatus"] == "ACTIVE"
    assert engine.list_users(CollectionId="c")["Users"] == [{"UserId": "obama", "UserStatus": "ACTIVE"}]
    assert user_faces(engine, "obama") == set(result.face_ids)
    faces = {f["FaceId"]: f for f in all_faces(engine)}
    assert len(faces) == 5
    for n, fid in enumerate(result.face_ids, 1):
        assert re.fullmatch(rf"enroll-obama-\d{{8}}T\d{{6}}Z-{n}", faces[fid]["ExternalImageId"])
        assert engine.image_preview("c", faces[fid]["ImageId"]) == captured[n - 1].jpeg
    assert set(engine.face_thumbnails("c", result.face_ids)) == set(result.face_ids)
    response = result.response()
    assert response["UserCreated"] is True and response["UserId"] == "obama"
    assert [f["FaceId"] for f in response["IndexedFaces"]] == result.face_ids
    assert response["AssociatedFaces"] == [{"FaceId": fid} for fid in result.face_ids]
    # the journal holds one IndexFaces per frame, naming the enrollment, between CreateUser and AssociateFaces
    journal = writes(engine)
    assert [e["Operation"] for e in journal] == ["CreateUser"] + ["IndexFaces"] * 5 + ["AssociateFaces"]
    assert journal[1]["Request"]["Enrollment"]["UserId"] == "obama"


def test_enrolling_the_same_frames_again_stores_nothing_new(engine, enrollment_capture):
    captured = enrollment_capture[0].captured
    first = enroll(engine, "c", "obama", captured)
    again = enroll(engine, "c", "obama", captured)
    assert not again.user_created and again.face_ids == first.face_ids  # deterministic FaceIds
    assert again.association["AssociatedFaces"] == []  # already this user's: silently ignored
    assert len(all_faces(engine)) == 5


def test_enroll_into_an_existing_user_checks_the_threshold(engine, enrollment_capture):
    captured = enrollment_capture[0].captured
    enroll(engine, "c", "obama", captured[:2])
    result = enroll(engine, "c", "obama", captured[2:], threshold=99.99)
    assert not result.user_created and result.associated_face_ids == []
    assert {u["FaceId"] for u in result.unsuccessful} == set(result.face_ids)
    for entry in result.unsuccessful:
        assert entry["Reasons"] == ["LOW_MATCH_CONFIDENCE"] and 75 < entry["Confidence"] < 99.99
    lenient = enroll(engine, "c", "obama", captured[2:], threshold=75)
    assert lenient.associated_face_ids == result.face_ids
    assert len(user_faces(engine, "obama")) == 5


def test_refusals_write_nothing(engine, enrollment_capture, tmp_path, analyzer):
    captured = enrollment_capture[0].captured
    assert engine.analyzer_for_collection("c") is analyzer
    with pytest.raises(ResourceNotFoundException):
        engine.analyzer_for_collection("nope")
    with pytest.raises(ResourceNotFoundException, match="user id: nobody does not exist"):
        enroll(engine, "c", "nobody", captured, create_user=False)
    with pytest.raises(ResourceNotFoundException, match="collection id: nope"):
        enroll(engine, "nope", "obama", captured)
    with pytest.raises(InvalidParameterException, match="UserId"):
        enroll(engine, "c", "bad user!", captured)
    with pytest.raises(InvalidParameterException, match="UserMatchThreshold"):
        enroll(engine, "c", "obama", captured, threshold=101)
    with pytest.raises(InvalidParameterException, match="at least one"):
        enroll(engine, "c", "obama", [])
    assert writes(engine) == []
    # a collection of another face model never takes these frames
    with Engine(tmp_path / "other", analyzer=analyzer, face_model_version="dlib_resnet_v1+other") as other:
        other.create_collection(CollectionId="c")
        with pytest.raises(InvalidParameterException, match="different models"):
            enroll(other, "c", "obama", captured)
        assert writes(other) == []


def test_a_failed_store_takes_back_the_user_it_created(engine, enrollment_capture, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(engine, "store_analyzed", broken)
    with pytest.raises(OSError, match="disk full"):
        enroll(engine, "c", "obama", enrollment_capture[0].captured)
    assert engine.list_users(CollectionId="c")["Users"] == []
    assert all_faces(engine) == []


def test_owner_check_finds_a_face_that_belongs_to_another_user(engine, enrollment_capture, videos, analyzer):
    captured = enrollment_capture[0].captured
    empty = owner_check(engine, "c", "someone", captured)
    assert not empty.known_elsewhere and empty.other_user_id is None and empty.message() is None
    enroll(engine, "c", "obama", captured[:3])

    check = owner_check(engine, "c", "someone", captured[3:], threshold=75)
    assert check.known_elsewhere and check.other_user_id == "obama" and check.similarity >= 75
    assert check.frames_checked == 2 and "belongs to user obama" in check.message()
    own = owner_check(engine, "c", "obama", captured[3:])  # the user being enrolled is not "another"
    assert not own.known_elsewhere and own.own_similarity >= 75
    # a raw frame works too; another person's face is nobody's here
    with FileSource(videos["biden"][0]) as source:
        biden = source.read()
    assert not owner_check(engine, "c", "biden", biden).known_elsewhere
    assert owner_check(engine, "c", "biden", captured[4].rgb).other_user_id == "obama"
    assert len(all_faces(engine)) == 3  # checking wrote nothing


def test_a_video_that_ends_early_enrolls_what_it_captured_completely(engine, videos, analyzer):
    with FileSource(videos["short"][0]) as source:
        outcome = capture_frames(source, analyzer, 5)
    assert outcome.ended == END_OF_STREAM and not outcome.complete
    assert 1 <= len(outcome.captured) < 5
    assert "the video ended after 5 frame(s)" in outcome.message()
    assert f"{len(outcome.captured)} of 5 good frame(s)" in outcome.message()
    result = enroll(engine, "c", "obama", outcome.captured)
    faces = all_faces(engine)
    assert len(faces) == len(outcome.captured) and {f["UserId"] for f in faces} == {"obama"}
    assert result.associated_face_ids == [f["FaceId"] for f in faces]


def test_footage_without_a_usable_face_captures_nothing(videos, analyzer):
    with FileSource(videos["nobody"][0]) as source:
        outcome = capture_frames(source, analyzer, 5)
    assert outcome.captured == [] and outcome.ended == END_OF_STREAM
    assert outcome.hint_counts == {"several_faces": 3, "too_dark": 2}
    assert "most often: several faces — only one person please (3), too dark (2)" in outcome.message()


class StopsAfter(FileSource):
    """A file that behaves like a camera unplugged after `frames` frames."""

    live = False

    def __init__(self, path, frames):
        super().__init__(path)
        self.limit = frames

    def read(self):
        if self.frames_read >= self.limit:
            self.close()
            raise SourceStoppedError(f"{self.description} stopped delivering frames after {self.limit} frame(s)")
        return super().read()


def test_a_source_that_stops_keeps_what_was_captured(engine, videos, analyzer):
    source = StopsAfter(videos["enrollment"][0], frames=14)  # problems, then three held views
    outcome = capture_frames(source, analyzer, 5)  # not open: capture_frames opens and closes it
    assert not source.is_open
    assert outcome.ended == SOURCE_STOPPED and isinstance(outcome.error, SourceStoppedError)
    assert outcome.frames_read == 14 and 1 <= len(outcome.captured) < 5
    assert "the source stopped after 14 frame(s)" in outcome.message()
    enroll(engine, "c", "obama", outcome.captured)
    assert len(user_faces(engine, "obama")) == len(outcome.captured)


def test_realtime_analysis_drops_frames_instead_of_queueing(videos, analyzer):
    # the unpaced file delivers frames far faster than they are analysed; the preview sees them all
    shown = []
    with FileSource(videos["enrollment"][0]) as source:
        outcome = capture_frames(source, analyzer, 5, realtime=True, on_frame=lambda rgb, n: shown.append(n))
    assert shown == list(range(1, outcome.frames_read + 1))
    assert outcome.frames_dropped > 0
    assert outcome.frames_analysed + outcome.frames_dropped == outcome.frames_read
    assert outcome.frames_analysed < outcome.frames_read / 2


def test_should_stop_and_budgets_end_the_capture(videos, analyzer):
    with FileSource(videos["enrollment"][0]) as source:
        stopped = capture_frames(source, analyzer, 5, should_stop=lambda: source.frames_read >= 3)
        assert source.is_open  # opened by the caller: left open
    assert stopped.ended == "stopped" and stopped.frames_read == 3
    with FileSource(videos["enrollment"][0]) as source:
        limited = capture_frames(source, analyzer, 5, max_frames=4)
    assert limited.ended == "frame_limit" and limited.frames_read == 4 and limited.captured == []
    ticks = iter(range(100))
    with FileSource(videos["enrollment"][0]) as source:
        timed = capture_frames(source, analyzer, 5, max_seconds=2.5, clock=lambda: float(next(ticks)))
    assert timed.ended == "time_limit" and timed.frames_read == 2


@pytest.fixture(scope="package")
def stranger_capture(videos, analyzer):
    """Four good frames of another person than the enrollment video's."""
    with FileSource(videos["stranger"][0]) as source:
        outcome = capture_frames(source, analyzer, 4)
    assert outcome.complete
    return outcome.captured


def test_the_match_check_is_the_engines_plan_and_writes_nothing(engine, enrollment_capture, stranger_capture):
    enroll(engine, "c", "katy", enrollment_capture[0].captured[:3])
    before = writes(engine)
    check = match_check(engine, "c", "katy", stranger_capture, threshold=75)
    assert check.user_exists and check.user_face_count == 3 and check.matching == []
    assert all(f["Reasons"] == ["LOW_MATCH_CONFIDENCE"] and f["Confidence"] < 75 for f in check.frames)
    best = max(f["Confidence"] for f in check.frames)
    assert check.message() == f"These frames do not look like katy: {best:.0f} < 75"
    assert writes(engine) == before and len(all_faces(engine)) == 3  # nothing stored to find that out
    # the same frames of katy herself would be taken
    same = match_check(engine, "c", "katy", enrollment_capture[0].captured[3:], threshold=75)
    assert len(same.matching) == 2 and same.message() is None
    # a user that does not exist takes them all (its first batch is unscored), as does one with no face yet
    assert not match_check(engine, "c", "nobody", stranger_capture).failing
    engine.create_user(CollectionId="c", UserId="empty")
    assert not match_check(engine, "c", "empty", stranger_capture).failing

    # by construction the plan AssociateFaces runs once the frames are stored: same FaceIds, same scores
    stored = enroll(engine, "c", "katy", stranger_capture)  # stored all the same (the operator's yes)
    assert [f["FaceId"] for f in check.frames] == stored.face_ids and stored.associated_face_ids == []
    assert [f["Confidence"] for f in stored.unsuccessful] == [f["Confidence"] for f in check.frames]
    plan = engine.plan_association(CollectionId="c", UserId="katy", FaceIds=stored.face_ids, UserMatchThreshold=75)
    assert [f["Confidence"] for f in plan["Faces"]] == [f["Confidence"] for f in check.frames]


def test_only_matching_frames_are_stored_without_the_operators_yes(engine, enrollment_capture, stranger_capture):
    captured = enrollment_capture[0].captured
    enroll(engine, "c", "katy", captured[:3])
    before = writes(engine)
    with pytest.raises(FramesDoNotMatch, match="These frames do not look like katy") as refused:
        enroll(engine, "c", "katy", stranger_capture, only_matching=True)
    assert refused.value.check.matching == [] and writes(engine) == before  # nothing written
    # frames of two people: katy's are stored and associated, the stranger's are not stored
    mixed = enroll(engine, "c", "katy", [*captured[3:], *stranger_capture], only_matching=True)
    assert len(mixed.face_ids) == 2 and mixed.associated_face_ids == mixed.face_ids and mixed.unsuccessful == []
    assert [f["FrameIndex"] for f in mixed.unmatched_frames] == [f.frame_index for f in stranger_capture]
    assert mixed.frames == captured[3:]
    assert {f["FaceId"] for f in all_faces(engine)} == user_faces(engine, "katy") and len(all_faces(engine)) == 5
    # explicit yes (only_matching False): stored, and not associated
    kept = enroll(engine, "c", "katy", stranger_capture)
    assert kept.associated_face_ids == [] and len(kept.face_ids) == 4


def test_a_face_the_association_still_refuses_is_not_kept(engine, enrollment_capture, stranger_capture, monkeypatch):
    # the workspace changed between the plan and the write (here: a plan that says yes to everything)
    enroll(engine, "c", "katy", enrollment_capture[0].captured[:3])
    real = engine.plan_analyzed

    def optimistic(*args, **kwargs):
        plan = real(*args, **kwargs)
        return {**plan, "Faces": [{**f, "Outcome": "ASSOCIATE", "Reasons": []} for f in plan["Faces"]]}

    monkeypatch.setattr(engine, "plan_analyzed", optimistic)
    steps = []
    result = enroll(engine, "c", "katy", stranger_capture, only_matching=True, on_step=steps.append)
    assert steps == ["IndexFaces", "AssociateFaces", "DeleteFaces"]
    assert result.face_ids == [] and result.frames == [] and len(result.unmatched_frames) == 4
    assert len(all_faces(engine)) == 3  # the stranger's frames were taken out again
