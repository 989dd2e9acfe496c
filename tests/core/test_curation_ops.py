"""The curation extensions: PlanAssociation, MoveFaces, MergeUsers, SplitUser, ApplyChangeSet."""

import uuid

import numpy as np
import pytest

from app.core import change_sets
from app.core.errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    InvalidParameterException,
    ResourceNotFoundException,
)

from .fakes import analyzed_face, face_of, identity_centres


def index_people(engine, analyzer, rng, people: int, each: int, collection: str = "c", seed: int = 77) -> list[list[str]]:
    """`people` identities with `each` faces, indexed 50 faces per photo."""
    centres = identity_centres(people, seed=seed)
    out = []
    for k, centre in enumerate(centres):
        ids: list[str] = []
        for start in range(0, each, 50):
            n = min(50, each - start)
            faces = [analyzed_face(face_of(centre, rng), left=0.018 * i, size=0.015) for i in range(n)]
            data = analyzer.register(f"{collection}-{seed}-p{k}-{start}".encode(), faces, width=4000, height=4000)
            r = engine.index_faces(CollectionId=collection, Image={"Bytes": data})
            ids += [rec["Face"]["FaceId"] for rec in r["FaceRecords"]]
        out.append(ids)
    return out


def owners(engine, ids) -> dict:
    faces = engine.list_faces(CollectionId="c", FaceIds=list(ids), MaxResults=len(ids))["Faces"]
    return {f["FaceId"]: f.get("UserId") for f in faces}


def all_owners(engine) -> dict:
    out, token = {}, None
    while True:
        page = engine.list_faces(CollectionId="c", MaxResults=4096, **({"NextToken": token} if token else {}))
        out.update({f["FaceId"]: f.get("UserId") for f in page["Faces"]})
        token = page.get("NextToken")
        if not token:
            return out


@pytest.fixture
def people(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    return index_people(engine, analyzer, rng, people=4, each=40)


def expected_response(plan: dict) -> tuple[list, list]:
    """AssociateFaces' lists as the plan predicts them."""
    associated = [f["FaceId"] for f in plan["Faces"] if f["Outcome"] in ("ASSOCIATE", "MOVE")]
    failed = [(f["FaceId"], tuple(f["Reasons"]), f.get("Confidence")) for f in plan["Faces"] if f["Outcome"] == "FAIL"]
    return associated, failed


def test_plan_reports_every_outcome_and_the_running_budget(engine, people):
    a, b = people[0], people[1]
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="bob")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=a[:5])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=b[:5])
    missing = str(uuid.uuid4())
    request = [a[0], a[5], b[0], b[6], missing, a[5]]
    plan = engine.plan_association(CollectionId="c", UserId="alice", FaceIds=request)
    outcome = {f["FaceId"]: f for f in plan["Faces"]}
    assert [f["FaceId"] for f in plan["Faces"]] == [a[0], a[5], b[0], b[6], missing]  # duplicates collapsed
    assert outcome[a[0]]["Outcome"] == "ALREADY_ASSOCIATED"
    assert outcome[a[5]]["Outcome"] == "ASSOCIATE" and outcome[a[5]]["UserFaceCount"] == 6
    assert outcome[b[0]]["Outcome"] == "FAIL" and outcome[b[0]]["OwnerUserId"] == "bob"
    assert "ASSOCIATED_TO_A_DIFFERENT_USER" in outcome[b[0]]["Reasons"]
    assert outcome[b[6]]["Reasons"] == ["LOW_MATCH_CONFIDENCE"] and outcome[b[6]]["Confidence"] < 75
    assert outcome[missing]["Reasons"] == ["FACE_NOT_FOUND"]
    assert plan["UserFaceCount"] == 5 and plan["UserFaceCountAfter"] == 6 and plan["ThresholdApplied"] is True
    moving = engine.plan_association(CollectionId="c", UserId="alice", FaceIds=[b[0]], UserMatchThreshold=0,
                                     MoveFromOwners=True)
    assert moving["Faces"][0]["Outcome"] == "MOVE" and moving["Faces"][0]["OwnerUserId"] == "bob"
    assert owners(engine, [b[0]]) == {b[0]: "bob"}  # a plan writes nothing


def test_preview_equals_outcome_over_random_drops(engine, people, rng):
    """Hundreds of random drops (owners, cap, threshold, missing faces, moves): what PlanAssociation
    says is exactly what AssociateFaces / MoveFaces then do, and the change set says what changed."""
    pool = [f for group in people for f in group]
    users = ["u0", "u1", "u2", "u3"]
    for u in users:
        engine.create_user(CollectionId="c", UserId=u)
    # one user starts near the cap, with a mixed first batch (no threshold on a first batch)
    engine.associate_faces(CollectionId="c", UserId="u0", FaceIds=people[0][:33] + people[1][:33] + people[2][:33])
    seen: set = set()
    for trial in range(300):
        # u0 often, so that drops on a (nearly) full user come up
        user = "u0" if rng.random() < 0.4 else users[int(rng.integers(len(users)))]
        size = int(rng.integers(1, 12))
        batch = [str(x) for x in rng.choice(pool, size=size, replace=True)]
        if rng.random() < 0.2:
            batch.append(str(uuid.uuid4()))
        threshold = float(rng.choice([0.0, 0.0, 50.0, 75.0, float(rng.uniform(60, 95))]))
        move = bool(rng.random() < 0.5)
        before = owners(engine, [f for f in batch if f in set(pool)])
        plan = engine.plan_association(CollectionId="c", UserId=user, FaceIds=batch, UserMatchThreshold=threshold,
                                       MoveFromOwners=move)
        if move:
            r = engine.move_faces(CollectionId="c", UserId=user, FaceIds=batch, UserMatchThreshold=threshold)
        else:
            r = engine.associate_faces(CollectionId="c", UserId=user, FaceIds=batch, UserMatchThreshold=threshold)
        associated, failed = expected_response(plan)
        seen.update(f["Outcome"] for f in plan["Faces"])
        seen.update(reason for f in plan["Faces"] for reason in f.get("Reasons", []))
        assert [f["FaceId"] for f in r["AssociatedFaces"]] == associated, trial
        assert [(f["FaceId"], tuple(f["Reasons"]), f.get("Confidence")) for f in r["UnsuccessfulFaceAssociations"]] == \
            failed, trial
        assert r["UserStatus"] == plan["UserStatus"]
        after = owners(engine, [f for f in batch if f in set(pool)])
        assert all(after[f] == user for f in associated)
        assert all(after[f] == before[f] for f in after if f not in associated)
        if move:
            assert r["ChangeSet"]["FaceChanges"] == [change_sets.face_change(f, before[f], user) for f in associated]
            counts = {u["UserId"]: u.get("FaceCount") for u in r["ChangeSet"]["UserChanges"]}
            for uid, n in counts.items():
                assert n == sum(1 for o in all_owners(engine).values() if o == uid)
        assert sum(1 for o in all_owners(engine).values() if o == user) <= 100
    # the drops covered every outcome and every reason
    assert seen >= {"ASSOCIATE", "MOVE", "ALREADY_ASSOCIATED", "FAIL", "FACE_NOT_FOUND", "LOW_MATCH_CONFIDENCE",
                    "ASSOCIATED_TO_A_DIFFERENT_USER", "USER_FACE_LIMIT_EXCEEDED"}, seen


def test_move_is_one_transaction_and_undo_puts_faces_back(engine, people):
    a, b = people[0], people[1]
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="bob")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=a[:3] + b[:2])  # two of bob's faces filed wrongly
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=b[2:8])
    r = engine.move_faces(CollectionId="c", UserId="bob", FaceIds=b[:2])
    assert r["MovedFaces"] == [{"FaceId": b[0], "FromUserId": "alice"}, {"FaceId": b[1], "FromUserId": "alice"}]
    assert owners(engine, b[:2]) == {b[0]: "bob", b[1]: "bob"}
    users = {u["UserId"]: u for u in r["ChangeSet"]["UserChanges"]}
    assert users["alice"]["FaceCount"] == 3 and users["bob"]["FaceCount"] == 8
    undo = engine.apply_change_set(**change_sets.inverse(r["ChangeSet"]))
    assert owners(engine, b[:2]) == {b[0]: "alice", b[1]: "alice"}
    engine.apply_change_set(**change_sets.inverse(undo["ChangeSet"], "REDO"))
    assert owners(engine, b[:2]) == {b[0]: "bob", b[1]: "bob"}
    # the journal tells undo and redo from decisions
    ops = [(e["Operation"], e["Request"].get("Purpose")) for e in engine.journal_entries()]
    assert ops[-3:] == [("MoveFaces", None), ("ApplyChangeSet", "UNDO"), ("ApplyChangeSet", "REDO")]


def test_redo_of_a_move_onto_a_full_user_changes_nothing(engine, people):
    """The reported defect: a move redone when the target is full must not leave the face ownerless."""
    a, b = people[0], people[1]
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="bob")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=[b[0]])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=b[1:40])
    done = engine.move_faces(CollectionId="c", UserId="bob", FaceIds=[b[0]], UserMatchThreshold=0)
    undone = engine.apply_change_set(**change_sets.inverse(done["ChangeSet"]))
    # meanwhile bob fills up to 100 faces
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=(people[2] + people[3])[:61], UserMatchThreshold=0)
    assert engine.describe_user("c", "bob")["FaceCount"] == 100
    before = all_owners(engine)
    with pytest.raises(ConflictException, match="more than 100"):
        engine.apply_change_set(**change_sets.inverse(undone["ChangeSet"], "REDO"))
    assert all_owners(engine) == before
    assert before[b[0]] == "alice"


def test_apply_change_set_refuses_stale_changes(engine, people):
    a = people[0]
    engine.create_user(CollectionId="c", UserId="alice")
    done = engine.move_faces(CollectionId="c", UserId="alice", FaceIds=a[:2])
    engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=a[:1])  # someone else changed a[0]
    with pytest.raises(ConflictException, match="no longer where"):
        engine.apply_change_set(**change_sets.inverse(done["ChangeSet"]))
    assert owners(engine, a[:2]) == {a[0]: None, a[1]: "alice"}
    with pytest.raises(InvalidParameterException, match="more than once"):
        engine.apply_change_set(CollectionId="c", Purpose="UNDO", FaceChanges=[{"FaceId": a[1]}, {"FaceId": a[1]}])
    with pytest.raises(InvalidParameterException, match="Purpose"):
        engine.apply_change_set(CollectionId="c", Purpose="LATER", FaceChanges=[])


def test_merge_users_within_the_cap_deletes_emptied_sources_and_undoes(engine, people):
    a = people[0]
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="alice2")
    engine.create_user(CollectionId="c", UserId="alice3")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=a[:10])
    engine.associate_faces(CollectionId="c", UserId="alice2", FaceIds=a[10:20])
    engine.associate_faces(CollectionId="c", UserId="alice3", FaceIds=a[20:25])
    engine.set_not_this_person("c", "alice2", people[1][:1])
    r = engine.merge_users(CollectionId="c", UserId="alice", SourceUserIds=["alice2", "alice3"])
    assert [f["FaceId"] for f in r["AssociatedFaces"]] == a[10:25]
    assert r["DeletedUserIds"] == ["alice2", "alice3"]
    assert [u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]] == ["alice"]
    assert engine.describe_user("c", "alice")["FaceCount"] == 25
    assert engine.rejected_face_ids("c", "alice") == {people[1][0]}  # the negative feedback survives the merge
    engine.apply_change_set(**change_sets.inverse(r["ChangeSet"]))
    assert {u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]} == {"alice", "alice2", "alice3"}
    assert set(owners(engine, a[:25]).values()) == {"alice", "alice2", "alice3"}
    assert owners(engine, a[10:20]) == dict.fromkeys(a[10:20], "alice2")


def test_merge_stops_at_100_faces_and_keeps_the_rest_on_their_source(engine, analyzer, rng, people):
    big = index_people(engine, analyzer, rng, people=1, each=70, seed=5)[0]
    engine.create_user(CollectionId="c", UserId="x")
    engine.create_user(CollectionId="c", UserId="y")
    engine.associate_faces(CollectionId="c", UserId="x", FaceIds=big[:60])
    engine.associate_faces(CollectionId="c", UserId="y", FaceIds=people[0][:40] + big[60:])
    r = engine.merge_users(CollectionId="c", UserId="x", SourceUserIds=["y"])
    assert len(r["AssociatedFaces"]) == 40
    assert len(r["UnsuccessfulFaceAssociations"]) == 10
    assert all(f["Reasons"] == ["USER_FACE_LIMIT_EXCEEDED"] for f in r["UnsuccessfulFaceAssociations"])
    assert r["DeletedUserIds"] == []
    assert engine.describe_user("c", "x")["FaceCount"] == 100
    assert engine.describe_user("c", "y")["FaceCount"] == 10


def test_merge_errors_write_nothing(engine, people):
    engine.create_user(CollectionId="c", UserId="alice")
    with pytest.raises(ResourceNotFoundException):
        engine.merge_users(CollectionId="c", UserId="alice", SourceUserIds=["ghost"])
    with pytest.raises(InvalidParameterException, match="must not include"):
        engine.merge_users(CollectionId="c", UserId="alice", SourceUserIds=["alice"])
    with pytest.raises(InvalidParameterException, match="SourceUserIds"):
        engine.merge_users(CollectionId="c", UserId="alice", SourceUserIds=[])
    assert [u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]] == ["alice"]


def test_split_user_moves_chosen_faces_to_a_new_user(engine, people):
    a, b = people[0], people[1]
    engine.create_user(CollectionId="c", UserId="mixed")
    engine.associate_faces(CollectionId="c", UserId="mixed", FaceIds=a[:6] + b[:4])
    r = engine.split_user(CollectionId="c", UserId="mixed", FaceIds=b[:4], NewUserId="bob")
    assert [f["FaceId"] for f in r["AssociatedFaces"]] == b[:4]
    assert owners(engine, b[:4]) == dict.fromkeys(b[:4], "bob")
    created = [u for u in r["ChangeSet"]["UserChanges"] if u["Change"] == "CREATE"]
    assert created == [{"UserId": "bob", "Change": "CREATE", "FaceCount": 4, "UserStatus": "ACTIVE"}]
    with pytest.raises(ConflictException):
        engine.split_user(CollectionId="c", UserId="mixed", FaceIds=a[:1], NewUserId="bob")
    with pytest.raises(InvalidParameterException, match="not faces of mixed"):
        engine.split_user(CollectionId="c", UserId="mixed", FaceIds=[a[0], b[5]], NewUserId="carol")
    assert "carol" not in {u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]}
    engine.apply_change_set(**change_sets.inverse(r["ChangeSet"]))
    assert owners(engine, b[:4]) == dict.fromkeys(b[:4], "mixed")
    assert "bob" not in {u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]}


def test_extension_writes_replay_their_token(engine, people):
    a = people[0]
    engine.create_user(CollectionId="c", UserId="alice")
    first = engine.move_faces(CollectionId="c", UserId="alice", FaceIds=a[:2], ClientRequestToken="t1")
    engine.disassociate_faces(CollectionId="c", UserId="alice", FaceIds=a[:2])
    assert engine.move_faces(CollectionId="c", UserId="alice", FaceIds=a[:2], ClientRequestToken="t1") == first
    assert owners(engine, a[:2]) == {a[0]: None, a[1]: None}  # a replay writes nothing
    with pytest.raises(IdempotentParameterMismatchException):
        engine.move_faces(CollectionId="c", UserId="alice", FaceIds=a[:3], ClientRequestToken="t1")


def test_extension_requests_are_validated_from_the_model(engine, people):
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        engine.move_faces(CollectionId="c", UserId="alice", FaceIds=[])
    with pytest.raises(InvalidParameterException, match="UserMatchThreshold"):
        engine.plan_association(CollectionId="c", UserId="alice", FaceIds=people[0][:1], UserMatchThreshold=101)
    with pytest.raises(InvalidParameterException, match="Unknown parameter 'Bogus'"):
        engine.split_user(CollectionId="c", UserId="a", FaceIds=people[0][:1], NewUserId="b", Bogus=1)
    with pytest.raises(InvalidParameterException, match="NewUserId"):
        engine.split_user(CollectionId="c", UserId="a", FaceIds=people[0][:1], NewUserId="bad name")


def test_plan_score_matches_search_users(engine, people):
    """The plan's confidence is the AssociateFaces score: the same scale SearchUsers uses."""
    engine.create_user(CollectionId="c", UserId="alice")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:5])
    plan = engine.plan_association(CollectionId="c", UserId="alice", FaceIds=people[0][5:6] + people[1][:1])
    conf = [f["Confidence"] for f in plan["Faces"]]
    assert conf[0] > 75 > conf[1]
    assert np.isfinite(conf).all()


def test_a_null_threshold_is_the_default_not_no_threshold(engine, people):
    """JSON null for an optional member is the member left out, for the extensions too: a null
    UserMatchThreshold must not switch the match check off."""
    engine.create_user(CollectionId="c", UserId="alice")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:3])
    stranger = people[1][0]
    plan = engine.plan_association(CollectionId="c", UserId="alice", FaceIds=[stranger], UserMatchThreshold=None)
    assert plan["UserMatchThreshold"] == 75 and plan["Faces"][0]["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    r = engine.move_faces(CollectionId="c", UserId="alice", FaceIds=[stranger], UserMatchThreshold=None,
                          ClientRequestToken=None)
    assert r["AssociatedFaces"] == [] and r["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["LOW_MATCH_CONFIDENCE"]


def test_a_merge_is_one_generation_step_and_the_index_follows_it(engine, people):
    """The merge moves faces and deletes users in one transaction: one generation step, applied to the
    in-memory index at commit (no catch-up needed), and searches see the merged user at once."""
    a = people[0]
    for uid, ids in (("alice", a[:5]), ("alice2", a[5:10])):
        engine.create_user(CollectionId="c", UserId=uid)
        engine.associate_faces(CollectionId="c", UserId=uid, FaceIds=ids)
    engine.search_users(CollectionId="c", FaceId=a[20])  # the index is loaded
    pk = next(iter(engine._indexes))
    before = engine._indexes[pk].generation
    engine.merge_users(CollectionId="c", UserId="alice", SourceUserIds=["alice2"])
    assert engine._indexes[pk].generation == before + 1
    matches = engine.search_users(CollectionId="c", FaceId=a[20])["UserMatches"]
    assert [m["User"]["UserId"] for m in matches] == ["alice"]


def test_plan_merge_is_the_merge_unwritten(engine, analyzer, rng, people):
    """PlanMerge answers the very decision MergeUsers then makes (the window's merge preview reads it)."""
    big = index_people(engine, analyzer, rng, people=1, each=70, seed=5)[0]
    for uid in ("x", "y", "z"):
        engine.create_user(CollectionId="c", UserId=uid)
    engine.associate_faces(CollectionId="c", UserId="x", FaceIds=big[:60])
    engine.associate_faces(CollectionId="c", UserId="y", FaceIds=people[0][:5])
    engine.associate_faces(CollectionId="c", UserId="z", FaceIds=people[0][5:40] + big[60:])
    before = all_owners(engine)
    plan = engine.plan_merge(CollectionId="c", UserId="x", SourceUserIds=["y", "z"])
    assert all_owners(engine) == before  # nothing written
    assert plan["UserFaceCount"] == 60 and plan["UserFaceCountAfter"] == 100
    assert plan["DeletedUserIds"] == ["y"]  # z keeps what the cap keeps out
    assert {f["OwnerUserId"] for f in plan["Faces"]} == {"y", "z"}
    kept_out = [f["FaceId"] for f in plan["Faces"] if f["Outcome"] == "FAIL"]
    assert len(kept_out) == 10 and all(f["Reasons"] == ["USER_FACE_LIMIT_EXCEEDED"] for f in plan["Faces"]
                                       if f["Outcome"] == "FAIL")
    r = engine.merge_users(CollectionId="c", UserId="x", SourceUserIds=["y", "z"])
    assert [f["FaceId"] for f in r["AssociatedFaces"]] == [f["FaceId"] for f in plan["Faces"] if f["Outcome"] == "MOVE"]
    assert [f["FaceId"] for f in r["UnsuccessfulFaceAssociations"]] == kept_out
    assert r["DeletedUserIds"] == plan["DeletedUserIds"]


def test_plan_merge_with_a_threshold_names_the_faces_that_do_not_match(engine, people):
    engine.create_user(CollectionId="c", UserId="alice")
    engine.create_user(CollectionId="c", UserId="mixed")
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:10])
    engine.associate_faces(CollectionId="c", UserId="mixed", FaceIds=people[0][10:13] + people[1][:2], UserMatchThreshold=0)
    plan = engine.plan_merge(CollectionId="c", UserId="alice", SourceUserIds=["mixed"], UserMatchThreshold=75)
    low = {f["FaceId"] for f in plan["Faces"] if "LOW_MATCH_CONFIDENCE" in f.get("Reasons", [])}
    assert low == set(people[1][:2]) and plan["DeletedUserIds"] == []
    r = engine.merge_users(CollectionId="c", UserId="alice", SourceUserIds=["mixed"], UserMatchThreshold=75)
    assert {f["FaceId"] for f in r["UnsuccessfulFaceAssociations"]} == low


def test_plan_merge_errors(engine, people):
    engine.create_user(CollectionId="c", UserId="alice")
    with pytest.raises(ResourceNotFoundException):
        engine.plan_merge(CollectionId="c", UserId="alice", SourceUserIds=["ghost"])
    with pytest.raises(InvalidParameterException, match="PlanMerge: SourceUserIds must not include"):
        engine.plan_merge(CollectionId="c", UserId="alice", SourceUserIds=["alice"])
    with pytest.raises(InvalidParameterException, match="more than once"):
        engine.plan_merge(CollectionId="c", UserId="alice", SourceUserIds=["bob", "bob"])
    with pytest.raises(InvalidParameterException, match="SourceUserIds"):
        engine.plan_merge(CollectionId="c", UserId="alice", SourceUserIds=[])


def person_of(engine, uid: str) -> dict:
    """The stored metadata: an automatic cover (none set) is left out."""
    p = engine.describe_people(CollectionId="c", UserIds=[uid])["People"][0]
    if p.get("CoverFaceAutomatic"):
        del p["CoverFaceId"]
    return {k: p[k] for k in ("DisplayName", "CoverFaceId") if k in p}


def test_undoing_a_merge_brings_the_merged_people_back_with_their_name_and_cover(engine, people):
    a = people[0]
    for uid, name, faces in (("ann", "Ann Lee", a[:4]), ("ann2", "Ann L.", a[4:7]), ("ann3", "Änne", a[7:9])):
        engine.create_user(CollectionId="c", UserId=uid)
        engine.associate_faces(CollectionId="c", UserId=uid, FaceIds=faces)
        engine.update_person(CollectionId="c", UserId=uid, DisplayName=name, CoverFaceId=faces[-1])
    r = engine.merge_users(CollectionId="c", UserId="ann", SourceUserIds=["ann2", "ann3"])
    deletes = [u for u in r["ChangeSet"]["UserChanges"] if u["Change"] == "DELETE"]
    assert deletes == [{"UserId": "ann2", "Change": "DELETE", "DisplayName": "Ann L.", "CoverFaceId": a[6]},
                       {"UserId": "ann3", "Change": "DELETE", "DisplayName": "Änne", "CoverFaceId": a[8]}]
    assert person_of(engine, "ann") == {"DisplayName": "Ann Lee", "CoverFaceId": a[3]}  # the target keeps its own
    undo = engine.apply_change_set(**change_sets.inverse(r["ChangeSet"]))
    assert person_of(engine, "ann2") == {"DisplayName": "Ann L.", "CoverFaceId": a[6]}
    assert person_of(engine, "ann3") == {"DisplayName": "Änne", "CoverFaceId": a[8]}
    # redo deletes them again, and the undo of the redo brings them back again
    redo = engine.apply_change_set(**change_sets.inverse(undo["ChangeSet"], "REDO"))
    assert {u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]} == {"ann"}
    engine.apply_change_set(**change_sets.inverse(redo["ChangeSet"]))
    assert person_of(engine, "ann2") == {"DisplayName": "Ann L.", "CoverFaceId": a[6]}


def test_redoing_a_split_brings_the_new_person_back_with_its_name(engine, people):
    a = people[0]
    engine.create_user(CollectionId="c", UserId="ann")
    engine.associate_faces(CollectionId="c", UserId="ann", FaceIds=a[:6])
    r = engine.split_user(CollectionId="c", UserId="ann", FaceIds=a[4:6], NewUserId="bo")
    engine.update_person(CollectionId="c", UserId="bo", DisplayName="Bo Chen")
    undo = engine.apply_change_set(**change_sets.inverse(r["ChangeSet"]))
    assert "bo" not in {u["UserId"] for u in engine.list_users(CollectionId="c")["Users"]}
    engine.apply_change_set(**change_sets.inverse(undo["ChangeSet"], "REDO"))
    assert person_of(engine, "bo") == {"DisplayName": "Bo Chen"}


def test_a_re_created_person_whose_cover_is_gone_comes_back_without_it(engine, people):
    a = people[0]
    engine.create_user(CollectionId="c", UserId="ann")
    engine.associate_faces(CollectionId="c", UserId="ann", FaceIds=a[:2])
    request = {"CollectionId": "c", "FaceChanges": [], "Purpose": "UNDO",
               "UserChanges": [{"UserId": "zoe", "Change": "CREATE", "DisplayName": "Zoë", "CoverFaceId": a[0]}]}
    engine.apply_change_set(**request)
    assert person_of(engine, "zoe") == {"DisplayName": "Zoë"}  # a[0] is ann's, not zoe's


def test_a_bad_display_name_in_a_change_set_writes_nothing(engine, people):
    users = engine.list_users(CollectionId="c")["Users"]
    for name, match in (("   ", "DisplayName"), ("a\u0007b", "control"), ("x" * 201, "1 to 200")):
        with pytest.raises(InvalidParameterException, match=match):
            engine.apply_change_set(CollectionId="c", FaceChanges=[], Purpose="UNDO",
                                    UserChanges=[{"UserId": "zoe", "Change": "CREATE", "DisplayName": name}])
    assert engine.list_users(CollectionId="c")["Users"] == users
