"""cluster-faces, suggest-faces, name-group, merge-users, split-user."""

import yaml


def test_cluster_name_suggest_merge_split(cli, collection):
    r = cli("cluster-faces", "--collection-id", "c")
    assert r.rc == 0, r.err
    groups = r.json["Groups"]
    assert set(r.json) == {"Groups", "UngroupedFaceIds"}
    assert [len(g["FaceIds"]) for g in groups] == [3, 2]
    assert set(groups[0]) == {"GroupId", "FaceIds", "CoverFaceId", "Cohesion"}
    assert set(groups[0]["FaceIds"]) == {collection["amy1"], collection["amy2"], collection["amy3"]}
    assert cli("cluster-faces", "--collection-id", "c", "--min-group-size", "3").json["Groups"][0]["GroupId"] == \
        groups[0]["GroupId"]
    named = cli("name-group", "--collection-id", "c", "--group-id", groups[0]["GroupId"], "--display-name", "Amy Pond")
    assert named.rc == 0, named.err
    assert named.json["UserId"] == "amy_pond" and len(named.json["AssociatedFaces"]) == 3
    cli("create-user", "--collection-id", "c", "--user-id", "bob")
    cli("associate-faces", "--collection-id", "c", "--user-id", "bob", "--face-ids", collection["bob1"])
    suggested = cli("suggest-faces", "--collection-id", "c", "--user-id", "bob")
    assert [s["FaceId"] for s in suggested.json["Suggestions"]] == [collection["bob2"]]
    split = cli("split-user", "--collection-id", "c", "--user-id", "amy_pond", "--face-ids", collection["amy3"],
                "--new-user-id", "amy_b")
    assert split.rc == 0, split.err
    merged = cli("merge-users", "--collection-id", "c", "--user-id", "amy_pond", "--source-user-ids", "amy_b")
    assert merged.rc == 0 and merged.json["DeletedUserIds"] == ["amy_b"]
    table = cli("cluster-faces", "--collection-id", "c", "--output", "yaml")
    assert table.rc == 0 and yaml.safe_load(table.out)["Groups"] == []


def test_people_command_errors(cli, collection):
    r = cli("name-group", "--collection-id", "c", "--group-id", "nope", "--user-id", "x")
    assert r.rc == 254 and "ResourceNotFoundException" in r.err
    bad = cli("cluster-faces", "--collection-id", "c", "--min-group-size", "1")
    assert bad.rc == 254 and "MinGroupSize" in bad.err
    assert "cluster-faces" in cli("help").out
    assert cli("cluster-faces", "--help").rc == 0
