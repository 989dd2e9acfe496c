"""The input shapes of our extension operations, in the service model's own format.

Members reuse the Rekognition model's shapes (CollectionId, UserId, UserFaceIdList, Percent,
ClientRequestToken...), so an extension checks a UserId exactly as CreateUser does. The shapes
below are looked up by service_model.shape() beside the model's; their names start with
"Rekurator" so they never collide with one of AWS's.
"""

from __future__ import annotations

# Extensions (ours, not AWS operations): reads first, then writes.
EXTENSION_READS = ("PlanAssociation",)
EXTENSION_WRITES = ("MoveFaces", "MergeUsers", "SplitUser", "ApplyChangeSet")
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
    "RekuratorUserIdList": {"type": "list", "member": _member("UserId"), "min": 1, "max": 100},
    "RekuratorFaceChangeList": {"type": "list", "member": _member("RekuratorFaceChange"), "min": 0, "max": 4096},
    "RekuratorFaceChange": {
        "type": "structure",
        "required": ["FaceId"],
        "members": {"FaceId": _member("FaceId"), "FromUserId": _member("UserId"), "ToUserId": _member("UserId")},
    },
    "RekuratorUserChangeList": {"type": "list", "member": _member("RekuratorUserChange"), "min": 0, "max": 200},
    "RekuratorUserChange": {
        "type": "structure",
        "required": ["UserId", "Change"],
        "members": {"UserId": _member("UserId"), "Change": _member("RekuratorUserChangeKind")},
    },
    "RekuratorUserChangeKind": {"type": "string", "enum": ["CREATE", "DELETE"]},
    "RekuratorChangePurpose": {"type": "string", "enum": ["UNDO", "REDO"]},
}


def input_shape_name(operation: str) -> str:
    return f"Rekurator{operation}Request"
