"""The workers' jobs (no Qt): one backend operation per edit, preview == outcome, change sets."""

from __future__ import annotations

import uuid

import pytest

from app.core import change_sets
from app.core.association_plan import USER_FACE_LIMIT_EXCEEDED
from app.core.errors import ResourceNotFoundException
from app.gui import association_preview as ap
from app.gui.curation_jobs import (face_similarities, run_association, run_change_set, run_disassociation,
                                   run_not_this_person, user_similarities)

from .conftest import index_people, owners


def expected_from(rows):
    """What the response will name: the owner of a moved face, or of a face refused as another user's."""
    return {r.face_id: (r.outcome, tuple(r.reasons),
                        r.owner if r.outcome == ap.MOVE or ap.DIFFERENT_USER in r.reasons else None) for r in rows}


def actual_from(outcome, face_ids):
    moved_from = {f: o for o, ids in outcome.moved.items() for f in ids}
    failed = {f["FaceId"]: f for f in outcome.response["UnsuccessfulFaceAssociations"]}
    out = {}
    for fid in dict.fromkeys(face_ids):
        if fid in moved_from:
            out[fid] = (ap.MOVE, (), moved_from[fid])
        elif fid in outcome.associated:
            out[fid] = (ap.ASSOCIATE, (), None)
        elif fid in failed:
            f = failed[fid]
            owner = f["UserId"] if "ASSOCIATED_TO_A_DIFFERENT_USER" in f["Reasons"] else None
            out[fid] = (ap.FAIL, tuple(f["Reasons"]), owner)
        else:
            out[fid] = (ap.ALREADY, (), None)
    return out


def test_preview_agrees_with_the_outcome_random_batches(engine, people, rng):
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:3])
    # a mistake to fix: one of person 0's faces sits on bob, so moving it to alice passes the match
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=[people[0][2]], UserMatchThreshold=0)
    pool = [f for g in people for f in g] + [str(uuid.uuid4())] + [people[0][2]] * 3
    seen = set()
    for trial in range(12):
        batch = [str(f) for f in rng.choice(pool, size=int(rng.integers(1, 9)), replace=True)]
        threshold = float(rng.uniform(30, 95))
        move = bool(trial % 2)
        user = "alice" if trial % 3 else "bob"
        plan = engine.plan_association(**ap.plan_request("c", user, batch, threshold, move))
        rows = ap.rows_from_plan(plan)
        outcome = run_association(engine, ap.AssociationRequest("c", user, tuple(batch), threshold, move))
        assert actual_from(outcome, batch) == expected_from(rows), f"trial {trial}"
        seen |= {r.outcome for r in rows}
        # undo through the change set puts everything back
        run_change_set(engine, change_sets.inverse(outcome.change_set))
    assert seen == {ap.ASSOCIATE, ap.MOVE, ap.FAIL, ap.ALREADY}  # every kind of outcome was exercised


def test_move_respects_the_cap_like_the_preview(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    (a,) = index_people(engine, analyzer, rng, people=1, each=52, tag="x")
    (b,) = index_people(engine, analyzer, rng, people=1, each=52, tag="y", seed=5)  # the same person again
    faces = a + b
    for u in ("alice", "bob"):
        engine.create_user(CollectionId="c", UserId=u)
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=faces[:50], UserMatchThreshold=0)
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=faces[50:97], UserMatchThreshold=0)
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=faces[97:100], UserMatchThreshold=0)
    batch = faces[100:102] + faces[97:100]  # two free faces, then three of bob's
    rows = ap.rows_from_plan(engine.plan_association(**ap.plan_request("c", "alice", batch, 0.0, True)))
    assert [r.outcome for r in rows] == [ap.ASSOCIATE, ap.ASSOCIATE, ap.MOVE, ap.FAIL, ap.FAIL]
    assert rows[3].reasons == [USER_FACE_LIMIT_EXCEEDED]  # only the cap stands in the way
    outcome = run_association(engine, ap.AssociationRequest("c", "alice", tuple(batch), 0.0, True))
    assert actual_from(outcome, batch) == expected_from(rows)
    state = owners(engine)
    assert sum(u == "alice" for u in state.values()) == 100
    assert [state[f] for f in faces[97:100]] == ["alice", "bob", "bob"]


def test_a_failed_move_writes_nothing(engine, people):
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[0][:2])
    before = owners(engine)
    engine.delete_user(CollectionId="c", UserId="alice")  # "deleted meanwhile"
    with pytest.raises(ResourceNotFoundException, match="alice"):
        run_association(engine, ap.AssociationRequest("c", "alice", tuple(people[0][:3]), 75.0, True))
    before.update(dict.fromkeys(people[0][:2], "bob"))
    assert owners(engine) == before  # one transaction: bob keeps his faces


def test_request_limits():
    with pytest.raises(ValueError, match="at least one"):
        ap.AssociationRequest("c", "u", (), 75.0, False)


def test_disassociation_per_user_keeps_going(engine, people):
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    engine.associate_faces(CollectionId="c", UserId="bob", FaceIds=people[1][:2])
    out = run_disassociation(engine, "c", {"ghost": people[2][:1], "alice": people[0][:2], "bob": people[1][:1]})
    assert isinstance(out.errors["ghost"], ResourceNotFoundException)
    assert out.disassociated == {"alice": people[0][:2], "bob": people[1][:1]}
    assert {u["UserId"]: u["FaceCount"] for u in out.change_set["UserChanges"]} == {"alice": 0, "bob": 1}
    assert owners(engine)[people[1][1]] == "bob"


def test_not_this_person_takes_the_face_off_and_marks_it(engine, people):
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[0][:2])
    out = run_not_this_person(engine, "c", "alice", [people[0][1], people[1][0]])
    assert out.disassociated == [people[0][1]] and out.marked == [people[0][1], people[1][0]]
    assert owners(engine)[people[0][1]] is None
    assert engine.rejected_face_ids("c", "alice") == {people[0][1], people[1][0]}


def test_similarities(engine, people):
    scores = face_similarities(engine, "c", people[1][0])
    assert scores[people[1][0]] == 100.0
    same = [scores[f] for f in people[1][1:]]
    others = [scores.get(f, 0.0) for f in people[0] + people[2]]
    assert min(same) > max(others)
    with pytest.raises(Exception, match="no faces yet"):
        user_similarities(engine, "c", "alice", people[0])
    engine.associate_faces(CollectionId="c", UserId="alice", FaceIds=people[2][:2])
    engine.set_not_this_person("c", "alice", [people[2][4]])
    pool = [f for g in people for f in g]
    scores = user_similarities(engine, "c", "alice", pool)
    assert people[2][4] not in scores and people[2][0] not in scores  # marked / already hers
    assert min(scores[f] for f in people[2][2:4]) > max(scores[f] for f in people[0] + people[1])
