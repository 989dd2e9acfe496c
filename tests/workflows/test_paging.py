"""pages/items: NextToken followed through every page of ListCollections, ListUsers and ListFaces."""

import pytest

from app.workflows.paging import RepeatedTokenError, items, pages
from tests.core.fakes import analyzed_face, face_of, identity_centres


def test_items_of_every_paginated_listing(engine, analyzer):
    import numpy as np

    rng = np.random.default_rng(3)
    for n in range(5):
        engine.create_collection(CollectionId=f"c{n}")
    centre = identity_centres(1, seed=1)[0]
    data = analyzer.register(b"group", [analyzed_face(face_of(centre, rng), left=0.05 + 0.12 * i, size=0.1)
                                        for i in range(7)])
    faces = [r["Face"]["FaceId"] for r in engine.index_faces(CollectionId="c0", Image={"Bytes": data},
                                                             MaxFaces=7, QualityFilter="NONE")["FaceRecords"]]
    for n in range(9):
        engine.create_user(CollectionId="c0", UserId=f"u{n}")

    requests = []

    def call(operation, request):
        requests.append(dict(request))
        return engine.call(operation, request)

    assert list(items(call, "ListCollections", {"MaxResults": 2}, "CollectionIds")) == [f"c{n}" for n in range(5)]
    assert len(requests) == 3 and "NextToken" not in requests[0] and all("NextToken" in r for r in requests[1:])
    users = [u["UserId"] for u in items(call, "ListUsers", {"CollectionId": "c0", "MaxResults": 4}, "Users")]
    assert users == [f"u{n}" for n in range(9)]
    listed = [f["FaceId"] for f in items(call, "ListFaces", {"CollectionId": "c0", "MaxResults": 3}, "Faces")]
    assert sorted(listed) == sorted(faces) and len(listed) == 7
    assert [len(p["Faces"]) for p in pages(lambda r: engine.call("ListFaces", r), {"CollectionId": "c0", "MaxResults": 3})] \
        == [3, 3, 1]


def test_a_starting_token_and_a_service_that_repeats_its_token():
    answers = {None: {"Items": [1], "NextToken": "a"}, "a": {"Items": [2], "NextToken": "b"}, "b": {"Items": [3]}}
    asked = []

    def call(request):
        asked.append(request.get("NextToken"))
        return dict(answers[request.get("NextToken")])

    assert [p["Items"] for p in pages(call, {"NextToken": "a"})] == [[2], [3]]
    assert asked == ["a", "b"]

    def stuck(request):
        return {"Items": [0], "NextToken": "same"}

    seen = pages(stuck, {})
    assert next(seen)["Items"] == [0] and next(seen)["Items"] == [0]
    with pytest.raises(RepeatedTokenError, match="The same next token was received twice: {'NextToken': 'same'}"):
        next(seen)


def test_other_token_names_and_an_empty_token_ends():
    answers = {None: {"Rows": [1], "Marker": "m"}, "m": {"Rows": [2], "Marker": ""}}
    got = list(pages(lambda r: answers[r.get("Start")], {}, input_token="Start", output_token="Marker"))
    assert [p["Rows"] for p in got] == [[1], [2]]
    assert list(items(lambda op, r: {"Users": None}, "ListUsers", {}, "Users")) == []
