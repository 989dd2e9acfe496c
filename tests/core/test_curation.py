"""Curation extensions: crops, previews, dry-run association, "not this person", migrations."""

import dataclasses
import sqlite3
import uuid

import pytest

from app.core.errors import InvalidParameterException, ResourceNotFoundException
from app.core.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from app.core.store import Store
from app.core.workspace import database_path

from .fakes import analyzed_face, face_of, identity_centres


def index_people(engine, analyzer, rng, people=3, each=5):
    centres = identity_centres(people, seed=21)
    ids = []
    for k, c in enumerate(centres):
        faces = [dataclasses.replace(analyzed_face(face_of(c, rng), left=0.1 * i, size=0.05), thumbnail=f"jpeg-{k}-{i}".encode())
                 for i in range(each)]
        data = analyzer.register(f"p{k}".encode(), faces, preview=f"photo-{k}".encode())
        out = engine.index_faces(CollectionId="c", Image={"Bytes": data})
        ids.append([r["Face"]["FaceId"] for r in out["FaceRecords"]])
    return ids


@pytest.fixture
def ids(engine, analyzer, rng):
    engine.create_collection(CollectionId="c")
    return index_people(engine, analyzer, rng)


def test_thumbnails_previews_and_details(engine, ids):
    thumbs = engine.face_thumbnails("c", ids[0][:2] + [str(uuid.uuid4())])
    assert set(thumbs) == set(ids[0][:2])
    assert all(t.startswith(b"jpeg-0-") for t in thumbs.values())
    image_id = engine.list_faces(CollectionId="c", FaceIds=[ids[1][0]])["Faces"][0]["ImageId"]
    assert engine.image_preview("c", image_id) == b"photo-1"
    assert engine.image_preview("c", str(uuid.uuid4())) is None
    details = engine.face_details("c", [ids[2][0]])
    assert details[ids[2][0]]["Confidence"] == 99.0 and "BoundingBox" in details[ids[2][0]]
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        engine.face_thumbnails("c", ["nope"])
    with pytest.raises(ResourceNotFoundException):
        engine.face_thumbnails("missing", ids[0][:1])
    engine.delete_faces(CollectionId="c", FaceIds=ids[0][:1])
    assert set(engine.face_thumbnails("c", ids[0][:2])) == {ids[0][1]}


def test_plan_agrees_with_the_real_call(engine, ids, rng):
    engine.create_user(CollectionId="c", UserId="a")
    engine.create_user(CollectionId="c", UserId="b")
    engine.associate_faces(CollectionId="c", UserId="b", FaceIds=ids[1][:2])
    engine.associate_faces(CollectionId="c", UserId="a", FaceIds=ids[0][:2])
    pool = [f for group in ids for f in group] + [str(uuid.uuid4())]
    for trial in range(6):
        batch = [str(f) for f in rng.choice(pool, size=6, replace=True)]
        threshold = float(rng.uniform(40, 95))
        plan = engine.plan_association(CollectionId="c", UserId="a", FaceIds=batch, UserMatchThreshold=threshold)
        before = engine.list_faces(CollectionId="c", MaxResults=100)
        actual = engine.associate_faces(CollectionId="c", UserId="a", FaceIds=batch, UserMatchThreshold=threshold)
        assert [f["FaceId"] for f in actual["AssociatedFaces"]] == \
            [f["FaceId"] for f in plan["Faces"] if f["Outcome"] == "ASSOCIATE"], f"trial {trial}"
        assert [(f["FaceId"], f["Reasons"], f.get("Confidence")) for f in actual["UnsuccessfulFaceAssociations"]] == \
            [(f["FaceId"], f["Reasons"], f.get("Confidence")) for f in plan["Faces"] if f["Outcome"] == "FAIL"]
        assert actual["UserStatus"] == plan["UserStatus"]
        engine.disassociate_faces(CollectionId="c", UserId="a", FaceIds=[f["FaceId"] for f in actual["AssociatedFaces"]] or batch[:1])
        assert engine.list_faces(CollectionId="c", MaxResults=100) == before
    # the plan itself never writes
    journal_len = len(engine.journal_entries())
    engine.plan_association(CollectionId="c", UserId="a", FaceIds=ids[0][2:])
    assert len(engine.journal_entries()) == journal_len


def test_not_this_person_marks(engine, ids):
    engine.create_user(CollectionId="c", UserId="a")
    out = engine.set_not_this_person("c", "a", ids[1][:2])
    assert out == {"ChangedFaceIds": ids[1][:2]}
    assert engine.set_not_this_person("c", "a", ids[1][:1]) == {"ChangedFaceIds": []}  # already marked
    assert engine.rejected_face_ids("c", "a") == set(ids[1][:2])
    assert engine.journal_entries()[-1]["Operation"] == "MarkNotThisPerson"
    engine.set_not_this_person("c", "a", ids[1][:1], rejected=False)
    assert engine.rejected_face_ids("c", "a") == {ids[1][1]}
    with pytest.raises(InvalidParameterException, match="not in collection"):
        engine.set_not_this_person("c", "a", [str(uuid.uuid4())])
    assert engine.rejected_face_ids("c", "a") == {ids[1][1]}
    engine.delete_faces(CollectionId="c", FaceIds=[ids[1][1]])
    assert engine.rejected_face_ids("c", "a") == set()
    engine.set_not_this_person("c", "a", ids[2][:1])
    engine.delete_user(CollectionId="c", UserId="a")
    engine.create_user(CollectionId="c", UserId="a")
    assert engine.rejected_face_ids("c", "a") == set()


def test_version_1_workspace_is_migrated_in_place(tmp_path):
    ws = tmp_path / "old"
    ws.mkdir()
    conn = sqlite3.connect(database_path(ws))
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO meta(key, value) VALUES ('pagination_secret', 'abc')")
    conn.execute("INSERT INTO collections(collection_id, face_model_version, created_at) VALUES ('kept', 'dlib_resnet_v1+test', 1)")
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    store = Store(ws)
    c = store.connection()
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert c.execute("SELECT collection_id FROM collections").fetchall() == [("kept",)]
    assert c.execute("SELECT COUNT(*) FROM rejections").fetchone()[0] == 0
    store.close()
