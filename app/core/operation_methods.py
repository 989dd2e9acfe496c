"""One keyword-argument method per operation, forwarding to `self.call`, declared where readers and
type checkers see them.

The engine and the remote backends share these, so `backend.associate_faces(CollectionId=...)` means
the same thing on each. tests/core/test_operation_methods.py checks the list against the service
model and the extensions, so a new operation cannot be forgotten here.
"""

from __future__ import annotations

from typing import Any


class AwsOperationMethods:
    """The sixteen Rekognition operations as methods (AWS member names as keywords)."""

    def call(self, operation: str, params: dict | None = None) -> dict:
        raise NotImplementedError

    def create_collection(self, **params: Any) -> dict:
        """CreateCollection."""
        return self.call("CreateCollection", params)

    def delete_collection(self, **params: Any) -> dict:
        """DeleteCollection."""
        return self.call("DeleteCollection", params)

    def describe_collection(self, **params: Any) -> dict:
        """DescribeCollection."""
        return self.call("DescribeCollection", params)

    def list_collections(self, **params: Any) -> dict:
        """ListCollections."""
        return self.call("ListCollections", params)

    def index_faces(self, **params: Any) -> dict:
        """IndexFaces."""
        return self.call("IndexFaces", params)

    def list_faces(self, **params: Any) -> dict:
        """ListFaces."""
        return self.call("ListFaces", params)

    def delete_faces(self, **params: Any) -> dict:
        """DeleteFaces."""
        return self.call("DeleteFaces", params)

    def create_user(self, **params: Any) -> dict:
        """CreateUser."""
        return self.call("CreateUser", params)

    def delete_user(self, **params: Any) -> dict:
        """DeleteUser."""
        return self.call("DeleteUser", params)

    def list_users(self, **params: Any) -> dict:
        """ListUsers."""
        return self.call("ListUsers", params)

    def associate_faces(self, **params: Any) -> dict:
        """AssociateFaces."""
        return self.call("AssociateFaces", params)

    def disassociate_faces(self, **params: Any) -> dict:
        """DisassociateFaces."""
        return self.call("DisassociateFaces", params)

    def search_users(self, **params: Any) -> dict:
        """SearchUsers."""
        return self.call("SearchUsers", params)

    def search_users_by_image(self, **params: Any) -> dict:
        """SearchUsersByImage."""
        return self.call("SearchUsersByImage", params)

    def search_faces(self, **params: Any) -> dict:
        """SearchFaces."""
        return self.call("SearchFaces", params)

    def search_faces_by_image(self, **params: Any) -> dict:
        """SearchFacesByImage."""
        return self.call("SearchFacesByImage", params)


class ExtensionMethods:
    """Our extension operations as methods (see app.core.extension_model and the README)."""

    def call(self, operation: str, params: dict | None = None) -> dict:
        raise NotImplementedError

    def plan_association(self, **params: Any) -> dict:
        """PlanAssociation (extension, ours)."""
        return self.call("PlanAssociation", params)

    def move_faces(self, **params: Any) -> dict:
        """MoveFaces (extension, ours)."""
        return self.call("MoveFaces", params)

    def plan_merge(self, **params: Any) -> dict:
        """PlanMerge (extension, ours): what MergeUsers would do now, writing nothing."""
        return self.call("PlanMerge", params)

    def merge_users(self, **params: Any) -> dict:
        """MergeUsers (extension, ours)."""
        return self.call("MergeUsers", params)

    def split_user(self, **params: Any) -> dict:
        """SplitUser (extension, ours)."""
        return self.call("SplitUser", params)

    def apply_change_set(self, **params: Any) -> dict:
        """ApplyChangeSet (extension, ours)."""
        return self.call("ApplyChangeSet", params)

    def cluster_faces(self, **params: Any) -> dict:
        """ClusterFaces (extension, ours): anonymous groups of the unassigned faces."""
        return self.call("ClusterFaces", params)

    def name_group(self, **params: Any) -> dict:
        """NameGroup (extension, ours): a group's most representative faces to a (new) person."""
        return self.call("NameGroup", params)

    def suggest_faces(self, **params: Any) -> dict:
        """SuggestFaces (extension, ours): unassigned faces a user most likely owns."""
        return self.call("SuggestFaces", params)

    def suggest_users(self, **params: Any) -> dict:
        """SuggestUsers (extension, ours): the users a group most likely is."""
        return self.call("SuggestUsers", params)

    def describe_people(self, **params: Any) -> dict:
        """DescribePeople (extension, ours): users with display name, cover face and face count."""
        return self.call("DescribePeople", params)

    def propose_user_id(self, **params: Any) -> dict:
        """ProposeUserId (extension, ours): a free UserId slug for a display name."""
        return self.call("ProposeUserId", params)

    def update_person(self, **params: Any) -> dict:
        """UpdatePerson (extension, ours): set a user's display name or cover face."""
        return self.call("UpdatePerson", params)
