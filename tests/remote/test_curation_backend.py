"""RemoteCurationBackend: the window's backend interface over a real local endpoint (no Qt)."""

from __future__ import annotations

import json

import pytest

from app.core import capabilities as caps
from app.core.errors import InvalidParameterException, ResourceNotFoundException
from app.core.report import build_report
from app.remote.curation_backend import RemoteCurationBackend
from app.remote.person_marks import MarksFileError, default_marks_path
from tests.core.fakes import analyzed_face, face_of, identity_centres


@pytest.fixture
def served(endpoint, rng):
    """Collection "c" on the endpoint: two photos of two people, two faces each; user alice."""
    eng, analyzer = endpoint.engine, endpoint.analyzer
    eng.create_collection(CollectionId="c")
    centres = identity_centres(2, seed=3)
    ids = []
    for k, c in enumerate(centres):
        data = analyzer.register(f"p{k}".encode(), [analyzed_face(face_of(c, rng), left=0.1 + 0.4 * i, size=0.2)
                                                   for i in range(2)])
        ids.append([r["Face"]["FaceId"] for r in eng.index_faces(CollectionId="c", Image={"Bytes": data})["FaceRecords"]])
    eng.create_user(CollectionId="c", UserId="alice")
    return ids


@pytest.fixture
def backend(endpoint, tmp_path):
    b = RemoteCurationBackend.connect(endpoint.url, "us-east-1", marks_path=tmp_path / "marks.json", max_attempts=1)
    yield b
    b.close()


def test_capabilities_and_what_is_not_available(backend, served):
    assert backend.capabilities == {caps.NOT_THIS_PERSON}
    assert caps.capabilities_of(backend) == {caps.NOT_THIS_PERSON}
    assert caps.capabilities_of(object()) == caps.ALL  # the local Engine declares none: it has them all
    assert backend.workspace == backend.endpoint_url and backend.endpoint_url.startswith("http://127.0.0.1:")
    face = served[0][0]
    assert backend.face_thumbnails("c", [face]) == {}
    assert backend.image_preview("c", "any-image") is None
    plan = backend.plan_association(CollectionId="c", UserId="alice", FaceIds=[face])
    assert plan["MatchChecked"] is False  # no descriptors over the wire: the endpoint decides the match
    with pytest.raises(caps.CapabilityUnavailable, match="IndexFaces"):
        backend.store_analyzed("c", [])


def test_face_details_come_from_list_faces(backend, served, endpoint):
    a, b = served[0]
    details = backend.face_details("c", [a, b, a])
    local = endpoint.engine.face_details("c", [a, b])
    assert set(details) == {a, b}
    for fid in (a, b):
        assert details[fid]["Confidence"] == pytest.approx(local[fid]["Confidence"])
        assert details[fid]["BoundingBox"] == pytest.approx(local[fid]["BoundingBox"])
    with pytest.raises(InvalidParameterException, match="FaceIds"):
        backend.face_details("c", [])


def test_operations_go_over_the_wire_and_writes_are_journaled(backend, served, endpoint, rng):
    a, b = served[0]
    assert backend.journal_entries() == []
    backend.create_user(CollectionId="c", UserId="bob")
    r = backend.associate_faces(CollectionId="c", UserId="alice", FaceIds=[a, b], UserMatchThreshold=70)
    assert {f["FaceId"] for f in r["AssociatedFaces"]} == {a, b}
    assert {f["FaceId"]: f.get("UserId") for f in endpoint.engine.list_faces(CollectionId="c")["Faces"]}[a] == "alice"
    backend.list_faces(CollectionId="c")  # reads are not journaled
    data = endpoint.analyzer.register(b"new-photo", [analyzed_face(face_of(identity_centres(1, seed=8)[0], rng))])
    backend.index_faces(CollectionId="c", Image={"Bytes": data}, ExternalImageId="new.jpg")
    entries = backend.journal_entries()
    assert [e["Operation"] for e in entries] == ["CreateUser", "AssociateFaces", "IndexFaces"]
    assert [e["Seq"] for e in entries] == [1, 2, 3]
    assert set(entries[0]) == {"Seq", "Time", "Operation", "CollectionId", "Request", "Response", "FaceModelVersion"}
    index = entries[2]
    assert index["Request"]["Image"]["Bytes"]["Size"] == len(data)  # no image bytes in the journal
    assert "FaceDetail" not in json.dumps(index["Response"])
    assert index["FaceModelVersion"] == endpoint.analyzer.model_version
    assert [e["Seq"] for e in backend.journal_entries(after_seq=1, limit=1)] == [2]
    assert backend.journal_entries(collection_id="other") == []
    report = build_report(backend.journal_entries(), backend.workspace, {"Kind": "session"})
    assert report["Summary"]["Users"][0]["Outcomes"] == {"ASSOCIATED": 2}


def test_not_this_person_marks_are_kept_locally_per_endpoint(backend, served, endpoint, tmp_path):
    a, b = served[1]
    assert backend.set_not_this_person("c", "alice", [a, b]) == {"ChangedFaceIds": [a, b]}
    assert backend.set_not_this_person("c", "alice", [a]) == {"ChangedFaceIds": []}
    assert backend.rejected_face_ids("c", "alice") == {a, b}
    doc = json.loads((tmp_path / "marks.json").read_text())
    assert doc["Endpoint"] == endpoint.url and sorted(doc["Marks"]["c"]["alice"]) == sorted([a, b])
    # another window on the same endpoint sees them
    again = RemoteCurationBackend.connect(endpoint.url, "us-east-1", marks_path=tmp_path / "marks.json")
    assert again.rejected_face_ids("c", "alice") == {a, b}
    again.close()
    assert backend.set_not_this_person("c", "alice", [b], rejected=False) == {"ChangedFaceIds": [b]}
    assert [e["Operation"] for e in backend.journal_entries()] == ["MarkNotThisPerson", "MarkNotThisPerson",
                                                            "UnmarkNotThisPerson"]
    with pytest.raises(ResourceNotFoundException, match="nobody"):
        backend.set_not_this_person("c", "nobody", [a])
    with pytest.raises(InvalidParameterException, match="not in collection c"):
        backend.set_not_this_person("c", "alice", ["11111111-1111-1111-1111-111111111111"])
    # deleting faces, the user or the collection through the backend drops their marks
    backend.delete_faces(CollectionId="c", FaceIds=[a])
    assert backend.rejected_face_ids("c", "alice") == set()
    backend.set_not_this_person("c", "alice", [served[0][0]])
    backend.delete_user(CollectionId="c", UserId="alice")
    assert backend.rejected_face_ids("c", "alice") == set()


def test_a_damaged_marks_file_is_refused_by_name(endpoint, tmp_path):
    bad = tmp_path / "marks.json"
    bad.write_text("{not json")
    with pytest.raises(MarksFileError, match="marks.json is damaged"):
        RemoteCurationBackend.connect(endpoint.url, "us-east-1", marks_path=bad)


def test_default_marks_path_is_per_endpoint_and_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    one = default_marks_path("http://127.0.0.1:8085")
    assert one.parent.name == "remote-marks" and one.name.startswith("127.0.0.1_8085-") and one.suffix == ".json"
    assert default_marks_path("http://127.0.0.1:8086") != one
    assert default_marks_path("http://127.0.0.1:8085", "work") != one
    assert default_marks_path("http://127.0.0.1:8085") == one
