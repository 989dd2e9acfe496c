"""The curation window's backend interface over a remote Rekognition endpoint (no Qt here).

The window talks to the local Engine: the sixteen operations plus a few extensions of ours
(face crops, the association dry run, "not this person" marks, the journal...). Over the wire
only the operations exist, so this adapter gives each extension the honest remote behaviour and
names what it can offer in `capabilities` (see app.core.capabilities), which the window reads
to enable its actions:

- face_thumbnails: {} (the API returns no face crops; the window draws a "no crop" tile);
- face_details: the bounding box and confidence ListFaces returns (no landmarks, pose, quality);
- image_preview: None;
- store_analyzed: CapabilityUnavailable (storing needs local analysis; imports send the image
  bytes with IndexFaces instead); PlanAssociation decides from ListFaces alone (MatchChecked false);
- set_not_this_person / rejected_face_ids: kept on this computer, one JSON file per endpoint
  (person_marks.py), checked against the endpoint's faces and users when set;
- the people-and-groups extensions (ClusterFaces, NameGroup, SuggestFaces, SuggestUsers,
  DescribePeople, ProposeUserId, UpdatePerson): CapabilityUnavailable (people_and_groups), since
  they need face descriptors, which the API never returns;
- journal_entries: the writes this adapter made in this session (session_journal.py), so the
  session report works; there is no workspace journal to read.

The curation extensions (PlanAssociation, MoveFaces, MergeUsers, SplitUser, ApplyChangeSet) run
here as sequences of AWS calls with compensation (remote_curation.py, which says what a failure
half-way leaves). Each completed extension write is one journal entry, as in the local journal
(its AWS calls are not journaled one by one); one that failed half-way and changed the endpoint is
journaled with its error and the change it left. MergeUsers carries the "not this person" marks of
the users it deletes over to the target, as the engine does.
"""

from __future__ import annotations

import os

from app.core.backend import Backend
from app.core.capabilities import LOCAL_ANALYSIS, NOT_THIS_PERSON, PEOPLE_AND_GROUPS, CapabilityUnavailable
from app.core.curation import check_face_ids
from app.core.errors import InvalidParameterException, ResourceNotFoundException
from app.core.extension_model import EXTENSIONS, PEOPLE_EXTENSIONS
from app.core.validation import validate_request

from .boto3_backend import RemoteBackend
from .person_marks import PersonMarks, default_marks_path
from .remote_curation import PartialWriteError, RemoteCuration
from .session_journal import SessionJournal

# the operations that change the endpoint: each successful one goes into the session journal
WRITES = frozenset({"CreateCollection", "DeleteCollection", "IndexFaces", "DeleteFaces", "CreateUser", "DeleteUser",
                    "AssociateFaces", "DisassociateFaces"})
LIST_FACES_MAX_IDS = 4096  # ListFaces FaceIds: at most this many per call (service model)
LIST_USERS_PAGE = 500


class RemoteCurationBackend(Backend):
    capabilities = frozenset({NOT_THIS_PERSON})

    def __init__(self, remote: RemoteBackend, marks_path: str | os.PathLike | None = None,
                 profile_name: str | None = None):
        """`marks_path`: where "not this person" marks are kept (default: per endpoint and profile, under the user data dir)."""
        self.remote = remote
        self.endpoint_url: str = remote.endpoint_url
        self.workspace = self.endpoint_url  # what the window works on (title, settings keys, reports)
        self.marks = PersonMarks(marks_path or default_marks_path(self.endpoint_url, profile_name), self.endpoint_url)
        self.journal = SessionJournal()
        self._model_versions: dict[str, str] = {}  # collection id -> FaceModelVersion, as the endpoint reported it
        # the extensions' AWS calls go to the endpoint directly: the journal keeps the extension, not its steps
        self.curation = RemoteCuration(self._wire, on_write=self._after_extension)

    @classmethod
    def connect(cls, endpoint_url: str | None = None, region_name: str | None = None, profile_name: str | None = None,
                verify: bool | str | None = None, marks_path: str | os.PathLike | None = None,
                **remote_options) -> RemoteCurationBackend:
        """A RemoteBackend made from these settings, adapted; bad settings raise RemoteConfigurationError."""
        remote = RemoteBackend(endpoint_url=endpoint_url, region_name=region_name, profile_name=profile_name,
                               verify=verify, **remote_options)
        try:
            return cls(remote, marks_path, profile_name)
        except Exception:
            remote.close()
            raise

    # -- the operations ----------------------------------------------------------------------------
    def call(self, operation: str, params: dict | None = None) -> dict:
        params = {} if params is None else params
        if operation in EXTENSIONS:
            return self._extension(operation, params)
        response = self._wire(operation, params)
        if operation in WRITES:
            self._after_write(operation, params, response)
        return response

    def _wire(self, operation: str, params: dict) -> dict:
        """One AWS operation on the endpoint, not journaled."""
        response = self.remote.call(operation, params)
        cid = params.get("CollectionId")
        if response.get("FaceModelVersion") and cid:
            self._model_versions[cid] = response["FaceModelVersion"]
        return response

    def _extension(self, operation: str, params: dict) -> dict:
        """An extension of ours as AWS calls (remote_curation.py; its `run` validates the request first, as the engine does)."""
        if operation in PEOPLE_EXTENSIONS:
            raise CapabilityUnavailable(
                PEOPLE_AND_GROUPS, f"{operation} needs the face descriptors and the workspace's people and group tables, "
                f"which a remote endpoint ({self.endpoint_url}) does not offer: the API returns no descriptors. "
                "Group, suggest and name people in a local workspace")
        try:
            return self.curation.run(operation, params)
        except PartialWriteError as exc:
            self._after_change(operation, params, exc.change_set)
            self.journal.record(operation, params["CollectionId"], params,
                                {"Error": {"Code": exc.code, "Message": exc.message}, "ChangeSet": exc.change_set,
                                 "UnassignedFaceIds": exc.unassigned_face_ids,
                                 "UnverifiedFaceIds": exc.unverified_face_ids},
                                self._model_versions.get(params["CollectionId"]))
            raise

    def _after_extension(self, operation: str, request: dict, response: dict) -> None:
        """A completed extension write: journaled, and the marks of the users it deleted carried or dropped."""
        self._after_change(operation, request, response.get("ChangeSet"))
        cid = request["CollectionId"]
        self.journal.record(operation, cid, request, response, self._model_versions.get(cid))

    def _after_change(self, operation: str, request: dict, change_set: dict | None) -> None:
        cid = request["CollectionId"]
        for change in (change_set or {}).get("UserChanges", []):
            if change["Change"] != "DELETE":
                continue
            if operation == "MergeUsers":  # "not this person" for a merged user holds for the target too
                self.marks.change(cid, request["UserId"], self.marks.faces(cid, change["UserId"]), True)
            self.marks.forget(cid, user_id=change["UserId"])

    def _after_write(self, operation: str, params: dict, response: dict) -> None:
        cid: str = params["CollectionId"]  # every write names its collection (validated)
        journaled = response
        if operation == "IndexFaces":  # as the local journal keeps it: the outcome without FaceDetails
            journaled = {"FaceRecords": [{"Face": r["Face"]} for r in response.get("FaceRecords", [])],
                         "FaceModelVersion": response.get("FaceModelVersion"),
                         "UnindexedFaces": [{"Reasons": u.get("Reasons", [])} for u in response.get("UnindexedFaces", [])]}
        self.journal.record(operation, cid, params, journaled, self._model_versions.get(cid))
        if operation == "DeleteCollection":
            self.marks.forget(cid)
            self._model_versions.pop(cid, None)
        elif operation == "DeleteUser":
            self.marks.forget(cid, user_id=params["UserId"])
        elif operation == "DeleteFaces":
            self.marks.forget(cid, face_ids=response.get("DeletedFaces", []))

    def close(self) -> None:
        self.remote.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"RemoteCurationBackend({self.endpoint_url!r})"

    # -- the window's extensions ----------------------------------------------------------------------
    def face_thumbnails(self, collection_id: str, face_ids) -> dict[str, bytes]:
        return {}  # the API has no call that returns face crops

    def face_details(self, collection_id: str, face_ids) -> dict[str, dict]:
        """What ListFaces tells of each face: its bounding box and detection confidence."""
        faces = self._faces(collection_id, check_face_ids(face_ids))
        return {fid: {"BoundingBox": f["BoundingBox"], "Confidence": f["Confidence"]} for fid, f in faces.items()}

    def image_preview(self, collection_id: str, image_id: str) -> bytes | None:
        return None  # the endpoint keeps no photos we could read back

    def store_analyzed(self, collection_id: str, items, quality_filter: str = "AUTO", max_faces: int | None = None):
        raise CapabilityUnavailable(LOCAL_ANALYSIS, f"Faces analysed on this computer cannot be stored on a remote "
                                    f"endpoint ({self.endpoint_url}); send the image bytes with IndexFaces instead")

    def set_not_this_person(self, collection_id: str, user_id: str, face_ids, rejected: bool = True) -> dict:
        """Mark (or unmark) faces as "not this person" for a user, in this computer's marks file."""
        face_ids = check_face_ids(face_ids)
        validate_request("CreateUser", {"CollectionId": collection_id, "UserId": user_id})
        self._require_user(collection_id, user_id)
        found = self._faces(collection_id, face_ids)
        missing = [f for f in face_ids if f not in found]
        if missing:
            raise InvalidParameterException(f"FaceIds: not in collection {collection_id}: {', '.join(missing)}")
        response = {"ChangedFaceIds": self.marks.change(collection_id, user_id, face_ids, rejected)}
        self.journal.record("MarkNotThisPerson" if rejected else "UnmarkNotThisPerson", collection_id,
                            {"CollectionId": collection_id, "UserId": user_id, "FaceIds": face_ids}, response,
                            self._model_versions.get(collection_id))
        return response

    def describe_user(self, collection_id: str, user_id: str) -> dict:
        """{"UserId", "FaceCount", "UserStatus"}, from ListUsers and ListFaces (a user holds at most 100 faces)."""
        validate_request("CreateUser", {"CollectionId": collection_id, "UserId": user_id})
        self._require_user(collection_id, user_id)
        faces = self.call("ListFaces", {"CollectionId": collection_id, "UserId": user_id, "MaxResults": 100})["Faces"]
        return {"UserId": user_id, "FaceCount": len(faces), "UserStatus": "ACTIVE" if faces else "CREATED"}

    def analyzer_for_collection(self, collection_id: str):
        raise CapabilityUnavailable(LOCAL_ANALYSIS, f"Faces are not analysed on this computer for a remote endpoint "
                                    f"({self.endpoint_url}); send the image bytes with IndexFaces instead")

    def rejected_face_ids(self, collection_id: str, user_id: str) -> set[str]:
        # read often (every user selection): from the file only, no round trip
        return self.marks.faces(collection_id, user_id)

    def journal_entries(self, after_seq: int = 0, collection_id: str | None = None, limit: int | None = None) -> list[dict]:
        return self.journal.entries(after_seq, collection_id, limit)

    # -- reading the endpoint --------------------------------------------------------------------------
    def _faces(self, collection_id: str, face_ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for start in range(0, len(face_ids), LIST_FACES_MAX_IDS):
            chunk = face_ids[start : start + LIST_FACES_MAX_IDS]
            page = self.call("ListFaces", {"CollectionId": collection_id, "FaceIds": chunk, "MaxResults": len(chunk)})
            found.update({f["FaceId"]: f for f in page["Faces"]})
        return found

    def _require_user(self, collection_id: str, user_id: str) -> None:
        """ListUsers has no filter: page through it (as the local engine, a missing user is ResourceNotFound)."""
        params = {"CollectionId": collection_id, "MaxResults": LIST_USERS_PAGE}
        while True:
            page = self.call("ListUsers", params)
            if any(u["UserId"] == user_id for u in page["Users"]):
                return
            if not page.get("NextToken"):
                raise ResourceNotFoundException(f"The user id: {user_id} does not exist in the collection: {collection_id}")
            params["NextToken"] = page["NextToken"]
