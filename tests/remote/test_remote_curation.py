"""The curation extensions on a remote endpoint (app/remote/remote_curation.py), against the local engine.

Twins: the same photos are indexed into a local Engine and into the workspace a real local endpoint
serves (FaceIds are deterministic, so both hold the same ids); each extension is run on the engine
directly and through RemoteCurationBackend over the wire, and must give the same per-face results,
the same change sets and the same final state. Thresholds are 0 (or the faces unscored), so no answer
depends on a Confidence, which a remote plan cannot know. Then failures are injected half-way with a
wrapper around the RemoteBackend, and what they leave is checked against the module's docstring.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from app.core import change_sets
from app.core.engine import Engine
from app.core.errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    InternalServerError,
    InvalidParameterException,
    RekognitionError,
    ResourceNotFoundException,
)
from app.core.report import build_report
from app.remote.boto3_backend import RemoteBackend
from app.remote.curation_backend import RemoteCurationBackend
from app.remote.remote_curation import PartialWriteError, plan_from_owners
from tests.core.fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres
from tests.server.endpoint_fixtures import RunningEndpoint

C = "c"
REPORT_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "resources" / "report.schema.json").read_text())


class FaultyRemote:
    """A RemoteBackend that fails on demand: `fail("AssociateFaces")` makes the next AssociateFaces raise.

    skip: matching calls let through first; times: how many fail (None: all from then on); applied: the
    call reaches the endpoint and is done there, and its answer is lost (raised instead); when: a
    predicate on the request.
    """

    def __init__(self, remote: RemoteBackend) -> None:
        self.remote = remote
        self.endpoint_url = remote.endpoint_url
        self.calls: list[tuple[str, dict]] = []
        self.faults: list[dict] = []

    def fail(self, operation: str, skip: int = 0, times: int | None = 1, applied: bool = False,
             when: Callable[[dict], bool] | None = None, error: Exception | None = None) -> None:
        self.faults.append({"operation": operation, "skip": skip, "times": times, "applied": applied,
                            "when": when or (lambda params: True), "error": error})

    def heal(self) -> None:
        self.faults.clear()

    def call(self, operation: str, params: dict | None = None) -> dict:
        params = params or {}
        self.calls.append((operation, params))
        for fault in self.faults:
            if fault["operation"] != operation or not fault["when"](params) or fault["times"] == 0:
                continue
            if fault["skip"]:
                fault["skip"] -= 1
                continue
            if fault["times"] is not None:
                fault["times"] -= 1
            if fault["applied"]:
                self.remote.call(operation, params)
            raise fault["error"] or InternalServerError(f"injected: {operation} failed")
        return self.remote.call(operation, params)

    def writes(self) -> list[str]:
        return [op for op, _ in self.calls if op in ("CreateUser", "DeleteUser", "AssociateFaces", "DisassociateFaces")]

    def close(self) -> None:
        self.remote.close()


class Twins:
    """A local Engine and the endpoint's workspace holding the same faces, and a backend on the endpoint."""

    def __init__(self, local: Engine, served: Engine, backend: RemoteCurationBackend, faulty: FaultyRemote,
                 people: list[list[str]]):
        self.local, self.served, self.backend, self.faulty, self.people = local, served, backend, faulty, people

    def both(self, method: str, **params: Any) -> tuple[dict, dict]:
        """The same call on the engine and over the wire: (engine's response, remote's response)."""
        return getattr(self.local, method)(**params), getattr(self.backend, method)(**params)

    def setup(self, method: str, **params: Any) -> None:
        """The same AWS call on both workspaces (engine calls, not under test)."""
        getattr(self.local, method)(**params)
        getattr(self.served, method)(**params)

    def state(self, engine: Engine | None = None) -> tuple[dict, set]:
        """(every face -> its user, the set of users) of one side (default: the endpoint's)."""
        engine = engine or self.served
        owners, token = {}, None
        while True:
            page = engine.list_faces(CollectionId=C, MaxResults=4096, **({"NextToken": token} if token else {}))
            owners.update({f["FaceId"]: f.get("UserId") for f in page["Faces"]})
            token = page.get("NextToken")
            if not token:
                break
        users = {u["UserId"] for u in engine.list_users(CollectionId=C, MaxResults=500)["Users"]}
        return owners, users

    def assert_same_state(self) -> None:
        assert self.state(self.served) == self.state(self.local)


def populate(pairs: list[tuple[Engine, RegisteredAnalyzer]], rng: np.random.Generator, people: int, each: int,
             seed: int = 77) -> list[list[str]]:
    """`people` identities with `each` faces (50 a photo), indexed into every (engine, analyzer) pair alike."""
    out = []
    for k, centre in enumerate(identity_centres(people, seed=seed)):
        ids: list[str] = []
        for start in range(0, each, 50):
            faces = [analyzed_face(face_of(centre, rng), left=0.018 * i, size=0.015) for i in range(min(50, each - start))]
            data = f"photo-{seed}-{k}-{start}".encode()
            for engine, analyzer in pairs:
                analyzer.register(data, faces, width=4000, height=4000)
                r = engine.index_faces(CollectionId=C, Image={"Bytes": data})
                got = [rec["Face"]["FaceId"] for rec in r["FaceRecords"]]
            ids += got
        out.append(ids)
    return out


@pytest.fixture
def twins(endpoint: RunningEndpoint, tmp_path: Path, rng: np.random.Generator) -> Iterator[Twins]:
    analyzer = RegisteredAnalyzer()
    local = Engine(tmp_path / "local", analyzer=analyzer)
    for engine in (local, endpoint.engine):
        engine.create_collection(CollectionId=C)
    people = populate([(local, analyzer), (endpoint.engine, endpoint.analyzer)], rng, people=5, each=40)
    faulty = FaultyRemote(RemoteBackend(endpoint.url, "us-east-1", unsigned=True, max_attempts=1))
    backend = RemoteCurationBackend(faulty, marks_path=tmp_path / "marks.json")  # type: ignore[arg-type]
    t = Twins(local, endpoint.engine, backend, faulty, people)
    for person in ("alice", "bob", "carol", "dave"):
        t.setup("create_user", CollectionId=C, UserId=person)
    a, b, c = people[0], people[1], people[2]
    t.setup("associate_faces", CollectionId=C, UserId="alice", FaceIds=a[:10] + b[:3])  # bob's three filed wrongly
    t.setup("associate_faces", CollectionId=C, UserId="bob", FaceIds=b[3:12])
    t.setup("associate_faces", CollectionId=C, UserId="carol", FaceIds=c[:8])
    t.assert_same_state()
    yield t
    backend.close()
    local.close()


def without_confidence(response: dict) -> dict:
    """A response with every Confidence dropped (the remote plan cannot know them; the threshold is 0)."""
    out = dict(response)
    for key in ("UnsuccessfulFaceAssociations", "Faces"):
        if key in out:
            out[key] = [{k: v for k, v in f.items() if k != "Confidence"} for f in out[key]]
    return out


def same_result(local: dict, remote: dict) -> None:
    assert without_confidence(remote) == without_confidence(local)


# -- same answers as the engine ---------------------------------------------------------------------------


def test_plan_association_matches_the_engine_but_checks_no_match(twins: Twins) -> None:
    a, b, d = twins.people[0], twins.people[1], twins.people[3]
    missing = str(uuid.uuid4())
    for move in (False, True):
        request = [a[0], a[12], b[0], b[5], missing, a[12], d[0]]
        local, remote = twins.both("plan_association", CollectionId=C, UserId="alice", FaceIds=request,
                                   UserMatchThreshold=0, MoveFromOwners=move)
        assert local.pop("MatchChecked") is True and remote.pop("MatchChecked") is False
        same_result(local, remote)
        assert all("Confidence" not in f for f in remote["Faces"])
        assert [f["Outcome"] for f in remote["Faces"]] == ["ALREADY_ASSOCIATED", "ASSOCIATE", "ALREADY_ASSOCIATED",
                                                           "MOVE" if move else "FAIL", "FAIL", "ASSOCIATE"]
    # the cap by running count: dave at 98 faces takes two more
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=twins.people[4][:40] + d[:40], UserMatchThreshold=0)
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=twins.people[2][20:38], UserMatchThreshold=0)
    local, remote = twins.both("plan_association", CollectionId=C, UserId="dave", FaceIds=a[20:25], UserMatchThreshold=0)
    assert local.pop("MatchChecked") is True and remote.pop("MatchChecked") is False
    same_result(local, remote)
    assert [f.get("Reasons") for f in remote["Faces"]] == [None, None] + [["USER_FACE_LIMIT_EXCEEDED"]] * 3
    assert remote["UserFaceCount"] == 98 and remote["UserFaceCountAfter"] == 100
    # the default threshold applies to a user with faces: the endpoint will check the match on the write
    remote = twins.backend.plan_association(CollectionId=C, UserId="alice", FaceIds=a[20:21])
    assert remote["ThresholdApplied"] is True and remote["UserMatchThreshold"] == 75.0 and remote["MatchChecked"] is False
    for user, error in (("nobody", ResourceNotFoundException),):
        with pytest.raises(error, match="does not exist in the collection: c"):
            twins.backend.plan_association(CollectionId=C, UserId=user, FaceIds=a[:1])
    with pytest.raises(ResourceNotFoundException, match="collection id: gone"):
        twins.backend.plan_association(CollectionId="gone", UserId="alice", FaceIds=a[:1])
    assert twins.faulty.writes() == [] and twins.backend.journal_entries() == []  # a plan writes nothing


def test_plan_from_owners_is_the_engine_rule_without_scores() -> None:
    owners = {"f1": None, "f2": "u", "f3": "v", "f4": None}
    plan = plan_from_owners("c", "u", ["f1", "f2", "f3", "f4", "f5", "f1"], owners, 99, 75.0, False)
    assert [(f.face_id, f.outcome, f.reasons) for f in plan.faces] == [
        ("f1", "ASSOCIATE", []), ("f2", "ALREADY_ASSOCIATED", []),
        ("f3", "FAIL", ["ASSOCIATED_TO_A_DIFFERENT_USER", "USER_FACE_LIMIT_EXCEEDED"]),
        ("f4", "FAIL", ["USER_FACE_LIMIT_EXCEEDED"]), ("f5", "FAIL", ["FACE_NOT_FOUND"])]
    assert plan.as_response()["UserFaceCountAfter"] == 100


def test_move_faces_matches_the_engine(twins: Twins) -> None:
    a, b, c, e = twins.people[0], twins.people[1], twins.people[2], twins.people[4]
    missing = str(uuid.uuid4())
    # from two owners (alice's three wrong ones, one of carol's), free faces, one already there, a missing one
    request = dict(CollectionId=C, UserId="bob", FaceIds=b[:3] + [c[0], b[3], b[20], missing, e[0]], UserMatchThreshold=0)
    local, remote = twins.both("move_faces", **request)
    same_result(local, remote)
    assert remote["MovedFaces"] == ([{"FaceId": f, "FromUserId": "alice"} for f in b[:3]]
                                   + [{"FaceId": c[0], "FromUserId": "carol"}])
    users = {u["UserId"]: u for u in remote["ChangeSet"]["UserChanges"]}
    assert users["bob"]["FaceCount"] == 9 + 6 and users["alice"]["FaceCount"] == 10 and users["carol"]["FaceCount"] == 7
    twins.assert_same_state()
    # MoveFromOwners false: faces of other users fail as in AssociateFaces
    local, remote = twins.both("move_faces", CollectionId=C, UserId="carol", FaceIds=[a[0], e[1]], UserMatchThreshold=0,
                               MoveFromOwners=False)
    same_result(local, remote)
    assert remote["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]
    twins.assert_same_state()
    # the default threshold: the endpoint decides the match, and its decision is what comes back
    local, remote = twins.both("move_faces", CollectionId=C, UserId="alice", FaceIds=[a[30], e[5], c[1]])
    assert remote == local  # refusals decided by the endpoint carry its Confidence
    assert [f["Reasons"] for f in remote["UnsuccessfulFaceAssociations"]] == [["LOW_MATCH_CONFIDENCE"]] * 2
    twins.assert_same_state()  # c[1] refused for the match: put back on carol
    # the 100-face cap
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=e[10:40] + twins.people[3][:40] + c[20:40],
                UserMatchThreshold=0)
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=b[30:38], UserMatchThreshold=0)  # 98 faces
    local, remote = twins.both("move_faces", CollectionId=C, UserId="dave", FaceIds=a[:4], UserMatchThreshold=0)
    same_result(local, remote)
    assert len(remote["AssociatedFaces"]) == 2 and remote["UserStatus"] == "ACTIVE"
    twins.assert_same_state()
    with pytest.raises(ResourceNotFoundException):
        twins.backend.move_faces(CollectionId=C, UserId="nobody", FaceIds=a[:1])


def test_random_moves_and_their_undo_match_the_engine(twins: Twins, rng: np.random.Generator) -> None:
    """Sixty random moves (owners, cap, missing faces, duplicates), each undone or redone at random on both
    sides: same responses, same change sets, same state after every step."""
    pool = [f for person in twins.people for f in person]
    users = ["alice", "bob", "carol", "dave"]
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=twins.people[3][:40] + twins.people[4][:40] +
                twins.people[2][20:38], UserMatchThreshold=0)  # near the cap
    seen: set = set()
    for trial in range(60):
        user = users[int(rng.integers(len(users)))]
        batch = [str(f) for f in rng.choice(pool, size=int(rng.integers(1, 8)), replace=True)]
        if rng.random() < 0.2:
            batch.append(str(uuid.uuid4()))
        move = bool(rng.random() < 0.7)
        local, remote = twins.both("move_faces", CollectionId=C, UserId=user, FaceIds=batch, UserMatchThreshold=0,
                                   MoveFromOwners=move)
        same_result(local, remote)
        seen.update(r for f in remote["UnsuccessfulFaceAssociations"] for r in f["Reasons"])
        if remote["MovedFaces"]:
            seen.add("MOVE")
        twins.assert_same_state()
        if rng.random() < 0.4 and remote["ChangeSet"]["FaceChanges"]:
            local, remote = twins.both("apply_change_set", **change_sets.inverse(remote["ChangeSet"]))
            assert remote == local, trial
            twins.assert_same_state()
            if rng.random() < 0.5:
                local, remote = twins.both("apply_change_set", **change_sets.inverse(remote["ChangeSet"], "REDO"))
                assert remote == local, trial
                twins.assert_same_state()
    assert seen >= {"MOVE", "FACE_NOT_FOUND", "ASSOCIATED_TO_A_DIFFERENT_USER", "USER_FACE_LIMIT_EXCEEDED"}, seen


def test_merge_users_matches_the_engine_and_carries_the_marks(twins: Twins) -> None:
    a, b = twins.people[0], twins.people[1]
    twins.setup("create_user", CollectionId=C, UserId="alice2")
    twins.setup("create_user", CollectionId=C, UserId="empty")
    twins.setup("associate_faces", CollectionId=C, UserId="alice2", FaceIds=a[10:20], UserMatchThreshold=0)
    twins.backend.set_not_this_person(C, "alice2", b[30:31])
    twins.local.set_not_this_person(C, "alice2", b[30:31])
    local, remote = twins.both("merge_users", CollectionId=C, UserId="alice", SourceUserIds=["alice2", "empty"])
    same_result(local, remote)
    remote_merge = remote
    assert remote["DeletedUserIds"] == ["alice2", "empty"] and len(remote["AssociatedFaces"]) == 10
    twins.assert_same_state()
    assert twins.backend.rejected_face_ids(C, "alice") == twins.local.rejected_face_ids(C, "alice") == {b[30]}
    assert twins.backend.rejected_face_ids(C, "alice2") == set()
    # undone: the sources come back with their faces
    local, remote = twins.both("apply_change_set", **change_sets.inverse(remote["ChangeSet"]))
    assert remote == local
    twins.assert_same_state()
    assert [e["Operation"] for e in twins.backend.journal_entries()] == ["MarkNotThisPerson", "MergeUsers", "ApplyChangeSet"]
    assert twins.backend.journal_entries()[-1]["Request"]["Purpose"] == "UNDO"
    assert [e["Response"] for e in twins.backend.journal_entries()[1:]] == [remote_merge, remote]
    jsonschema.validate(build_report(twins.backend.journal_entries(), twins.backend.workspace), REPORT_SCHEMA)


def test_merge_users_stops_at_the_cap_like_the_engine(twins: Twins) -> None:
    d, e = twins.people[3], twins.people[4]
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=d[:40] + e[:40], UserMatchThreshold=0)
    twins.setup("associate_faces", CollectionId=C, UserId="dave", FaceIds=twins.people[2][20:30], UserMatchThreshold=0)
    local_plan, remote_plan = twins.both("plan_merge", CollectionId=C, UserId="dave", SourceUserIds=["carol", "bob"],
                                         UserMatchThreshold=0)
    assert remote_plan["MatchChecked"] is False and remote_plan["DeletedUserIds"] == local_plan["DeletedUserIds"]
    assert [(f["FaceId"], f["Outcome"]) for f in remote_plan["Faces"]] == [(f["FaceId"], f["Outcome"])
                                                                           for f in local_plan["Faces"]]
    local, remote = twins.both("merge_users", CollectionId=C, UserId="dave", SourceUserIds=["carol", "bob"],
                               UserMatchThreshold=0)
    same_result(local, remote)
    assert [f["FaceId"] for f in remote["AssociatedFaces"]] == [f["FaceId"] for f in remote_plan["Faces"]
                                                                if f["Outcome"] == "MOVE"]  # carol's 8 faces and 2 of bob's 9 fit in dave's 10 free places
    assert len(remote["AssociatedFaces"]) == 10 and remote["DeletedUserIds"] == ["carol"]
    assert all(f["Reasons"] == ["USER_FACE_LIMIT_EXCEEDED"] for f in remote["UnsuccessfulFaceAssociations"])
    twins.assert_same_state()
    writes = len(twins.faulty.writes())
    for source, error, match in ((["dave"], InvalidParameterException, "must not include"),
                                 (["bob", "bob"], InvalidParameterException, "more than once"),
                                 (["ghost"], ResourceNotFoundException, "ghost"),
                                 ([], InvalidParameterException, "SourceUserIds")):
        with pytest.raises(error, match=match):
            twins.backend.merge_users(CollectionId=C, UserId="dave", SourceUserIds=source)
    assert len(twins.faulty.writes()) == writes  # refused before any write


def test_split_user_matches_the_engine(twins: Twins) -> None:
    a, b = twins.people[0], twins.people[1]
    local, remote = twins.both("split_user", CollectionId=C, UserId="alice", FaceIds=b[:3], NewUserId="bob2")
    same_result(local, remote)
    assert remote["ChangeSet"]["UserChanges"][0] == {"UserId": "bob2", "Change": "CREATE", "FaceCount": 3, "UserStatus": "ACTIVE"}
    twins.assert_same_state()
    with pytest.raises(ConflictException, match="already exists"):
        twins.backend.split_user(CollectionId=C, UserId="alice", FaceIds=a[:1], NewUserId="bob2")
    with pytest.raises(InvalidParameterException, match="not faces of alice"):
        twins.backend.split_user(CollectionId=C, UserId="alice", FaceIds=[a[0], b[5]], NewUserId="erin")
    with pytest.raises(InvalidParameterException, match="must differ"):
        twins.backend.split_user(CollectionId=C, UserId="alice", FaceIds=[a[0]], NewUserId="alice")
    with pytest.raises(InvalidParameterException, match="NewUserId"):
        twins.backend.split_user(CollectionId=C, UserId="alice", FaceIds=[a[0]], NewUserId="bad name")
    twins.assert_same_state()
    local, remote = twins.both("apply_change_set", **change_sets.inverse(remote["ChangeSet"]))
    assert remote == local
    twins.assert_same_state()


def test_apply_change_set_refuses_what_the_engine_refuses_before_writing(twins: Twins) -> None:
    a, b = twins.people[0], twins.people[1]
    local, remote = twins.both("move_faces", CollectionId=C, UserId="bob", FaceIds=b[:3], UserMatchThreshold=0)
    undo = change_sets.inverse(remote["ChangeSet"])
    twins.setup("disassociate_faces", CollectionId=C, UserId="bob", FaceIds=b[:1])  # changed meanwhile
    cases = [
        (undo, ConflictException, "no longer where"),
        ({**undo, "FaceChanges": undo["FaceChanges"] * 2}, InvalidParameterException, "more than once"),
        ({**undo, "FaceChanges": [{"FaceId": str(uuid.uuid4()), "ToUserId": "bob"}]}, ConflictException, "no longer exist"),
        ({**undo, "FaceChanges": [{"FaceId": a[30], "ToUserId": "ghost"}]}, ResourceNotFoundException, "ghost"),
        ({**undo, "FaceChanges": [], "UserChanges": [{"UserId": "bob", "Change": "CREATE"}]}, ConflictException,
         "already exists"),
        ({**undo, "FaceChanges": [], "UserChanges": [{"UserId": "bob", "Change": "DELETE"}]}, ConflictException,
         "still has 11 faces"),
        ({**undo, "FaceChanges": [], "UserChanges": [{"UserId": "ghost", "Change": "DELETE"}]}, ResourceNotFoundException,
         "ghost"),
        ({**undo, "Purpose": "LATER"}, InvalidParameterException, "Purpose"),
    ]
    for request, error, match in cases:
        with pytest.raises(error, match=match):
            twins.local.apply_change_set(**request)
        with pytest.raises(error, match=match):
            twins.backend.apply_change_set(**request)
    twins.assert_same_state()
    # a redo onto a full user is refused whole (the defect of issue 10 item 1, on a remote endpoint)
    local, remote = twins.both("move_faces", CollectionId=C, UserId="alice", FaceIds=b[1:3], UserMatchThreshold=0)
    undone_local, undone = twins.both("apply_change_set", **change_sets.inverse(remote["ChangeSet"]))
    twins.setup("associate_faces", CollectionId=C, UserId="alice", FaceIds=twins.people[3][:40] + twins.people[4][:40]
                + twins.people[2][20:30], UserMatchThreshold=0)
    for side, done in ((twins.local, undone_local), (twins.backend, undone)):
        with pytest.raises(ConflictException, match="more than 100"):
            side.apply_change_set(**change_sets.inverse(done["ChangeSet"], "REDO"))
    twins.assert_same_state()
    assert twins.state()[0][b[1]] == "bob"  # not left ownerless
    assert twins.faulty.writes().count("CreateUser") == 0


def test_tokens_replay_within_the_session_and_requests_are_validated_locally(twins: Twins) -> None:
    b = twins.people[1]
    first = twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:2], UserMatchThreshold=0, ClientRequestToken="t1")
    writes = len(twins.faulty.writes())
    assert twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:2], UserMatchThreshold=0,
                                    ClientRequestToken="t1") == first
    assert len(twins.faulty.writes()) == writes  # a replay sends nothing
    with pytest.raises(IdempotentParameterMismatchException):
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3], ClientRequestToken="t1")
    assert [e["Operation"] for e in twins.backend.journal_entries()] == ["MoveFaces"]
    calls = len(twins.faulty.calls)
    with pytest.raises(InvalidParameterException, match="UserMatchThreshold"):
        twins.backend.plan_association(CollectionId=C, UserId="bob", FaceIds=b[:1], UserMatchThreshold=101)
    with pytest.raises(InvalidParameterException, match="Unknown parameter 'Bogus'"):
        twins.backend.split_user(CollectionId=C, UserId="bob", FaceIds=b[:1], NewUserId="x", Bogus=1)
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=[])
    assert len(twins.faulty.calls) == calls  # refused before anything went over the wire


# -- failures half-way ----------------------------------------------------------------------------------------


def test_a_failed_associate_is_rolled_back_and_the_error_raised(twins: Twins) -> None:
    b, c = twins.people[1], twins.people[2]
    before = twins.state()
    twins.faulty.fail("AssociateFaces")  # the move's AssociateFaces on bob: after both DisassociateFaces
    with pytest.raises(InternalServerError, match="injected"):
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3] + [c[0]], UserMatchThreshold=0)
    assert twins.faulty.writes() == ["DisassociateFaces", "DisassociateFaces", "AssociateFaces",  # the move
                                     "AssociateFaces", "AssociateFaces"]  # alice's and carol's faces put back
    assert twins.state() == before
    assert twins.backend.journal_entries() == []  # nothing changed, nothing journaled


def test_a_write_done_but_its_answer_lost_is_found_and_undone(twins: Twins) -> None:
    b = twins.people[1]
    before = twins.state()
    twins.faulty.fail("AssociateFaces", applied=True)  # the endpoint moved the faces to bob; the answer never came
    with pytest.raises(InternalServerError):
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3], UserMatchThreshold=0)
    assert twins.state() == before  # taken off bob again and put back on alice


def test_faces_that_cannot_be_put_back_end_unassigned_and_are_named(twins: Twins) -> None:
    b, c = twins.people[1], twins.people[2]
    before = twins.state()
    # the move's AssociateFaces fails, and so does every AssociateFaces on alice (putting her faces back)
    twins.faulty.fail("AssociateFaces", times=1, when=lambda p: p["UserId"] == "bob")
    twins.faulty.fail("AssociateFaces", times=None, when=lambda p: p["UserId"] == "alice")
    with pytest.raises(PartialWriteError) as info:
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3] + [c[0]], UserMatchThreshold=0)
    err = info.value
    assert isinstance(err.cause, InternalServerError) and err.operation == "MoveFaces"
    assert err.unassigned_face_ids == b[:3] and err.former_owners == dict.fromkeys(b[:3], "alice")
    for fid in b[:3]:
        assert f"{fid} (was on alice)" in err.message
    owners, users = twins.state()
    assert {f: owners[f] for f in b[:3]} == dict.fromkeys(b[:3], None)  # unassigned, as the error says
    assert owners[c[0]] == "carol"  # carol's face was put back
    assert {f: o for f, o in owners.items() if f not in b[:3]} == {f: o for f, o in before[0].items() if f not in b[:3]}
    assert err.change_set == {"CollectionId": C, "FaceChanges": [{"FaceId": f, "FromUserId": "alice"} for f in b[:3]],
                              "UserChanges": [{"UserId": "alice", "Change": "UPDATE", "FaceCount": 10, "UserStatus": "ACTIVE"}]}
    entry = twins.backend.journal_entries()[-1]  # journaled with what it left
    assert entry["Operation"] == "MoveFaces" and entry["Response"]["UnassignedFaceIds"] == b[:3]
    assert entry["Response"]["Error"]["Code"] == "PartialWriteException"
    assert entry["Response"]["ChangeSet"] == err.change_set
    report = build_report(twins.backend.journal_entries(), twins.backend.workspace, {"Kind": "session"})
    jsonschema.validate(report, REPORT_SCHEMA)
    # once the endpoint answers again, the inverse of the change set puts them back
    twins.faulty.heal()
    twins.backend.apply_change_set(**change_sets.inverse(err.change_set))
    assert twins.state() == before


def test_an_endpoint_that_cannot_be_read_back_names_every_face_in_flight(twins: Twins) -> None:
    b = twins.people[1]
    twins.faulty.fail("AssociateFaces", times=None)
    twins.faulty.fail("ListFaces", skip=2, times=None)  # the plan's two reads work, the roll-back's do not
    with pytest.raises(PartialWriteError) as info:
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3], UserMatchThreshold=0)
    assert info.value.change_set is None and info.value.unverified_face_ids == b[:3]
    assert "could not be read back" in info.value.message


def test_a_merge_failing_at_its_second_delete_is_rolled_back(twins: Twins) -> None:
    a = twins.people[0]
    twins.setup("create_user", CollectionId=C, UserId="alice2")
    twins.setup("create_user", CollectionId=C, UserId="alice3")
    twins.setup("associate_faces", CollectionId=C, UserId="alice2", FaceIds=a[10:15], UserMatchThreshold=0)
    twins.setup("associate_faces", CollectionId=C, UserId="alice3", FaceIds=a[15:20], UserMatchThreshold=0)
    twins.backend.set_not_this_person(C, "alice2", a[30:31])
    before = twins.state()
    twins.faulty.fail("DeleteUser", skip=1)  # alice2 is deleted, deleting alice3 fails
    with pytest.raises(InternalServerError):
        twins.backend.merge_users(CollectionId=C, UserId="alice", SourceUserIds=["alice2", "alice3"])
    assert twins.state() == before  # alice2 re-created, every face back on its source
    assert twins.backend.rejected_face_ids(C, "alice2") == {a[30]}  # marks untouched: nothing was merged
    assert twins.backend.rejected_face_ids(C, "alice") == set()


def test_a_merge_whose_deleted_source_cannot_be_re_created_says_so(twins: Twins) -> None:
    a = twins.people[0]
    twins.setup("create_user", CollectionId=C, UserId="alice2")
    twins.setup("create_user", CollectionId=C, UserId="alice3")
    twins.setup("associate_faces", CollectionId=C, UserId="alice2", FaceIds=a[10:15], UserMatchThreshold=0)
    twins.setup("associate_faces", CollectionId=C, UserId="alice3", FaceIds=a[15:20], UserMatchThreshold=0)
    twins.backend.set_not_this_person(C, "alice2", a[30:31])
    before = twins.state()
    twins.faulty.fail("DeleteUser", skip=1)  # alice2 is deleted, deleting alice3 fails
    twins.faulty.fail("CreateUser", times=None)  # and alice2 cannot be re-created
    with pytest.raises(PartialWriteError) as info:
        twins.backend.merge_users(CollectionId=C, UserId="alice", SourceUserIds=["alice2", "alice3"])
    err = info.value
    assert "users deleted and not re-created: alice2" in err.message
    assert err.unassigned_face_ids == []  # alice2's faces stay on alice rather than end on no user
    owners, users = twins.state()
    assert users == before[1] - {"alice2"}
    assert {f: owners[f] for f in a[10:20]} == {**dict.fromkeys(a[10:15], "alice"), **dict.fromkeys(a[15:20], "alice3")}
    assert err.change_set is not None
    assert err.change_set["FaceChanges"] == [{"FaceId": f, "FromUserId": "alice2", "ToUserId": "alice"} for f in a[10:15]]
    assert err.change_set["UserChanges"] == [{"UserId": "alice2", "Change": "DELETE"},
                                             {"UserId": "alice", "Change": "UPDATE", "FaceCount": 18, "UserStatus": "ACTIVE"}]
    assert twins.backend.rejected_face_ids(C, "alice") == {a[30]}  # as a merge does, for the source it deleted
    twins.faulty.heal()
    twins.backend.apply_change_set(**change_sets.inverse(err.change_set))
    assert twins.state() == before


def test_a_failed_read_of_the_counts_at_the_end_undoes_the_call(twins: Twins) -> None:
    b = twins.people[1]
    before = twins.state()
    twins.faulty.fail("ListFaces", skip=2)  # the plan's two reads work; the first count for the change set fails
    with pytest.raises(InternalServerError):
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3], UserMatchThreshold=0)
    assert twins.faulty.writes()[:2] == ["DisassociateFaces", "AssociateFaces"]  # the move was done...
    assert twins.state() == before  # ...and undone


def test_a_split_failing_half_way_deletes_the_user_it_created(twins: Twins) -> None:
    b = twins.people[1]
    before = twins.state()
    twins.faulty.fail("AssociateFaces")
    with pytest.raises(InternalServerError):
        twins.backend.split_user(CollectionId=C, UserId="alice", FaceIds=b[:3], NewUserId="bob2")
    assert twins.state() == before and "bob2" not in before[1]


def test_an_undo_failing_half_way_is_rolled_back(twins: Twins) -> None:
    a = twins.people[0]
    twins.setup("create_user", CollectionId=C, UserId="alice2")
    twins.setup("associate_faces", CollectionId=C, UserId="alice2", FaceIds=a[10:15], UserMatchThreshold=0)
    merged = twins.backend.merge_users(CollectionId=C, UserId="alice", SourceUserIds=["alice2"])
    before = twins.state()
    twins.faulty.fail("AssociateFaces", error=ThrottledOnce("slow down"))
    with pytest.raises(ThrottledOnce):
        twins.backend.apply_change_set(**change_sets.inverse(merged["ChangeSet"]))
    assert twins.state() == before  # alice2 (re-created by the undo) deleted again, faces on alice
    twins.faulty.heal()
    twins.backend.apply_change_set(**change_sets.inverse(merged["ChangeSet"]))
    assert twins.state()[0][a[10]] == "alice2"


class ThrottledOnce(RekognitionError):
    code = "ThrottlingException"


def test_a_non_typed_failure_is_rolled_back_too(twins: Twins) -> None:
    b = twins.people[1]
    before = twins.state()
    twins.faulty.fail("AssociateFaces", error=RuntimeError("connection pool closed"))
    with pytest.raises(RuntimeError):
        twins.backend.move_faces(CollectionId=C, UserId="bob", FaceIds=b[:3], UserMatchThreshold=0)
    assert twins.state() == before


class _NoWire:
    """A RemoteBackend stand-in that must never be called."""

    endpoint_url = "http://127.0.0.1:9"

    def call(self, operation: str, params: dict) -> dict:
        raise AssertionError(f"{operation} reached the endpoint")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("operation, params", [
    ("ClusterFaces", {"CollectionId": C}), ("SuggestFaces", {"CollectionId": C, "UserId": "alice"}),
    ("NameGroup", {"CollectionId": C, "GroupId": "g", "UserId": "alice"}), ("DescribePeople", {"CollectionId": C}),
])
def test_people_and_groups_are_unavailable_remotely_without_a_call(tmp_path: Path, operation: str, params: dict) -> None:
    from app.core.capabilities import PEOPLE_AND_GROUPS, CapabilityUnavailable

    backend = RemoteCurationBackend(_NoWire(), marks_path=tmp_path / "marks.json")  # type: ignore[arg-type]
    assert PEOPLE_AND_GROUPS not in backend.capabilities
    with pytest.raises(CapabilityUnavailable) as raised:
        backend.call(operation, params)
    assert raised.value.capability == PEOPLE_AND_GROUPS and "descriptors" in str(raised.value)
