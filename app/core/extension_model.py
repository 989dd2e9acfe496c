"""The input shapes of our extension operations, in the service model's own format.

Members reuse the Rekognition model's shapes (CollectionId, UserId, UserFaceIdList, Percent,
ClientRequestToken...), so an extension checks a UserId exactly as CreateUser does. The shapes
below are looked up by service_model.shape() beside the model's; their names start with
"Rekurator" so they never collide with one of AWS's.
"""

from __future__ import annotations

# Extensions (ours, not AWS operations): reads first, then writes.
EXTENSION_READS = ("PlanAssociation", "PlanMerge", "SuggestFaces", "SuggestUsers", "DescribePeople", "ProposeUserId")
EXTENSION_WRITES = ("MoveFaces", "MergeUsers", "SplitUser", "ApplyChangeSet", "ClusterFaces", "NameGroup", "UpdatePerson")
# the people-and-groups extensions (issue 11): they need the descriptors or the workspace's own tables
PEOPLE_EXTENSIONS = ("SuggestFaces", "SuggestUsers", "DescribePeople", "ProposeUserId", "ClusterFaces", "NameGroup",
                     "UpdatePerson")
EXTENSIONS = EXTENSION_READS + EXTENSION_WRITES


def _member(shape: str) -> dict:
    return {"shape": shape}


_COMMON = {"CollectionId": _member("CollectionId"), "UserId": _member("UserId")}

SHAPES: dict[str, dict] = {
    "RekuratorPlanAssociationRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId", "FaceIds"],
        "members": {**_COMMON, "FaceIds": _member("UserFaceIdList"), "UserMatchThreshold": _member("Percent"),
                    "MoveFromOwners": _member("Boolean")},
    },
    "RekuratorMoveFacesRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId", "FaceIds"],
        "members": {**_COMMON, "FaceIds": _member("UserFaceIdList"), "UserMatchThreshold": _member("Percent"),
                    "MoveFromOwners": _member("Boolean"), "ClientRequestToken": _member("ClientRequestToken")},
    },
    "RekuratorMergeUsersRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId", "SourceUserIds"],
        "members": {**_COMMON, "SourceUserIds": _member("RekuratorUserIdList"), "UserMatchThreshold": _member("Percent"),
                    "ClientRequestToken": _member("ClientRequestToken")},
    },
    "RekuratorPlanMergeRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId", "SourceUserIds"],
        "members": {**_COMMON, "SourceUserIds": _member("RekuratorUserIdList"), "UserMatchThreshold": _member("Percent")},
    },
    "RekuratorSplitUserRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId", "FaceIds", "NewUserId"],
        "members": {**_COMMON, "FaceIds": _member("UserFaceIdList"), "NewUserId": _member("UserId"),
                    "ClientRequestToken": _member("ClientRequestToken")},
    },
    "RekuratorApplyChangeSetRequest": {
        "type": "structure",
        "required": ["CollectionId", "FaceChanges", "Purpose"],
        "members": {"CollectionId": _member("CollectionId"), "FaceChanges": _member("RekuratorFaceChangeList"),
                    "UserChanges": _member("RekuratorUserChangeList"), "Purpose": _member("RekuratorChangePurpose"),
                    "ClientRequestToken": _member("ClientRequestToken")},
    },
    # people and groups (face_groups.py, people.py, suggestions.py)
    "RekuratorClusterFacesRequest": {
        "type": "structure",
        "required": ["CollectionId"],
        "members": {"CollectionId": _member("CollectionId"), "MinGroupSize": _member("RekuratorMinGroupSize"),
                    "GroupThreshold": _member("Percent"), "Algorithm": _member("RekuratorClusteringAlgorithm"),
                    "Recompute": _member("Boolean")},
    },
    "RekuratorSuggestFacesRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId"],
        "members": {**_COMMON, "MaxFaces": _member("MaxFaces"), "UserMatchThreshold": _member("Percent")},
    },
    "RekuratorSuggestUsersRequest": {
        "type": "structure",
        "required": ["CollectionId", "GroupId"],
        "members": {"CollectionId": _member("CollectionId"), "GroupId": _member("RekuratorGroupId"),
                    "MaxUsers": _member("MaxUserResults"), "UserMatchThreshold": _member("Percent")},
    },
    "RekuratorDescribePeopleRequest": {
        "type": "structure",
        "required": ["CollectionId"],
        "members": {"CollectionId": _member("CollectionId"), "UserIds": _member("RekuratorUserIdList")},
    },
    "RekuratorProposeUserIdRequest": {
        "type": "structure",
        "required": ["CollectionId", "DisplayName"],
        "members": {"CollectionId": _member("CollectionId"), "DisplayName": _member("RekuratorDisplayName")},
    },
    "RekuratorNameGroupRequest": {
        "type": "structure",
        "required": ["CollectionId", "GroupId"],
        "members": {**_COMMON, "GroupId": _member("RekuratorGroupId"), "DisplayName": _member("RekuratorDisplayName"),
                    "UserMatchThreshold": _member("Percent"), "ClientRequestToken": _member("ClientRequestToken")},
    },
    "RekuratorUpdatePersonRequest": {
        "type": "structure",
        "required": ["CollectionId", "UserId"],
        "members": {**_COMMON, "DisplayName": _member("RekuratorDisplayNameOrEmpty"),
                    "CoverFaceId": _member("RekuratorFaceIdOrEmpty"), "ClientRequestToken": _member("ClientRequestToken")},
    },
    "RekuratorGroupId": {"type": "string", "min": 1, "max": 128, "pattern": "[a-zA-Z0-9_.\\-:]+"},
    "RekuratorMinGroupSize": {"type": "integer", "min": 2, "max": 100000},
    "RekuratorClusteringAlgorithm": {"type": "string", "enum": ["CHINESE_WHISPERS", "DBSCAN"]},
    # 1-200 characters once trimmed (people.check_display_name); the shape only bounds the raw length
    "RekuratorDisplayName": {"type": "string", "min": 1, "max": 1000},
    "RekuratorDisplayNameOrEmpty": {"type": "string", "min": 0, "max": 1000},
    "RekuratorFaceIdOrEmpty": {"type": "string",
                               "pattern": "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?"},
    "RekuratorUserIdList": {"type": "list", "member": _member("UserId"), "min": 1, "max": 100},
    # an undo takes back a whole edit: a disassociation of many users' faces can exceed ListFaces' 4,096
    "RekuratorFaceChangeList": {"type": "list", "member": _member("RekuratorFaceChange"), "min": 0, "max": 100_000},
    "RekuratorFaceChange": {
        "type": "structure",
        "required": ["FaceId"],
        "members": {"FaceId": _member("FaceId"), "FromUserId": _member("UserId"), "ToUserId": _member("UserId")},
    },
    "RekuratorUserChangeList": {"type": "list", "member": _member("RekuratorUserChange"), "min": 0, "max": 200},
    "RekuratorUserChange": {
        "type": "structure",
        "required": ["UserId", "Change"],
        "members": {"UserId": _member("UserId"), "Change": _member("RekuratorUserChangeKind"),
                    # a user re-created by an undo or redo gets its person back (DELETE entries of change sets)
                    "DisplayName": _member("RekuratorDisplayName"), "CoverFaceId": _member("FaceId")},
    },
    "RekuratorUserChangeKind": {"type": "string", "enum": ["CREATE", "DELETE"]},
    "RekuratorChangePurpose": {"type": "string", "enum": ["UNDO", "REDO"]},
}


def input_shape_name(operation: str) -> str:
    return f"Rekurator{operation}Request"
