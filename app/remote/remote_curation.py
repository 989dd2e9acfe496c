"""The curation extensions (PlanAssociation, PlanMerge, MoveFaces, MergeUsers, SplitUser, ApplyChangeSet) on a remote
endpoint, as sequences of the AWS operations it offers (ListFaces, ListUsers, CreateUser, DeleteUser,
AssociateFaces, DisassociateFaces). No Qt here.

The local engine runs each extension as one SQLite transaction (app.core.curation_ops,
app.core.change_sets). An endpoint has no transactions, so each write here is: read what is needed,
decide with the engine's rules, refuse with the engine's error before writing anything when the engine
would, then a sequence of AWS writes; when a write fails, the writes already made are compensated
(rolled back) before the error is raised. Requests and responses have the engine's shapes and error
types (InvalidParameterException for bad input, ResourceNotFoundException for missing users,
ConflictException for a stale ApplyChangeSet or a full user).

What differs from the engine, because the API returns no face descriptors:

- PlanAssociation is decided from ListFaces alone: FACE_NOT_FOUND, ASSOCIATED_TO_A_DIFFERENT_USER
  (unless MoveFromOwners), ALREADY_ASSOCIATED and the 100-face cap by running count (the user's face
  count read with ListFaces). It has no Confidence and never LOW_MATCH_CONFIDENCE, and says so with
  `"MatchChecked": false` (the engine's says true): the endpoint decides the match when the write runs.
- In MoveFaces and MergeUsers the same plan chooses the faces to write; the endpoint's AssociateFaces
  then applies UserMatchThreshold, and a face it refuses is reported with the endpoint's Reasons and
  Confidence and put back on its owner. Failures decided before the write carry no Confidence. With a
  threshold above 0 the cap counts every face the plan admits, so a face refused for the match can
  leave a later face refused for the cap that the engine would have admitted.
- ClientRequestToken replays the first response (and refuses other parameters with
  IdempotentParameterMismatchException) within this process only.

The sequences (AssociateFaces and DisassociateFaces in chunks of 100 faces):

- MoveFaces: DisassociateFaces from each current owner (in order of first appearance), AssociateFaces on
  the target with the threshold, then AssociateFaces with UserMatchThreshold 0 to put each face the
  target refused back on its owner.
- MergeUsers: the same, from each source (threshold 0 unless one is given), then DeleteUser for each
  source left with no face.
- SplitUser: CreateUser, DisassociateFaces from the user, AssociateFaces on the new user (threshold 0).
- ApplyChangeSet: every check first (as the engine's, including the 100-face cap and users to delete
  ending empty), then CreateUser, DisassociateFaces per FromUserId, AssociateFaces per ToUserId
  (threshold 0), DeleteUser.

What a failure half-way leaves. Errors found by the reads before the first write (missing users, stale
change sets, bad input) leave the endpoint untouched, as in the engine. Once a write has been sent, any
failure (a typed error such as throttling after botocore's retries, a 5xx or an unreachable endpoint,
an untyped one, a refusal of a face the sequence needs, or a failed read of the counts at the end)
starts the roll-back: it reads the endpoint again, re-creates the users the call deleted, puts every
face the call touched back on the user it had before the call (DisassociateFaces from wherever it is
now, AssociateFaces with UserMatchThreshold 0 on its old user; a face that had no user is just
disassociated), and deletes the users the call created (when they hold no face). A write that did
happen but whose answer was lost is found by that read and undone like the others. Then:
- Everything restored: the original error is raised, and the endpoint holds what it held before the
  call (a user deleted and re-created is a new user with the same UserId, its faces back on it). No
  journal entry, no mark carried.
- Something could not be restored: PartialWriteError (code PartialWriteException) is raised instead,
  with the original error as `cause`. A face taken from its user and not put back ends on no user
  (unassigned); its message names each such face with the user it was on, and they are listed in
  `unassigned_face_ids` (former users in `former_owners`). A face whose former user could not be
  re-created stays on the user it was moved to rather than end on no user. Faces left on another user,
  users left created or deleted, and the roll-back's own errors are named in the message too. `change_set` is the
  net change the endpoint holds compared with before the call, in the ChangeSet format:
  `change_sets.inverse(error.change_set)` is the ApplyChangeSet request that takes it back once the
  endpoint answers again. The session journal keeps the call with its error and that change set.
- The endpoint cannot be read back at all: PartialWriteError with `change_set` None, naming every face
  the call touched in the message and in `unverified_face_ids`; each one is on the user it had before,
  on the user the call was moving it to, or on no user.
Nothing is retried beyond botocore's own retries, and nothing is left for later: the call has ended
when it raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from app.core import change_sets, idempotency
from app.core.association_plan import (
    ALREADY_ASSOCIATED,
    ASSOCIATE,
    DIFFERENT_USER,
    FAIL,
    MAX_FACES_PER_USER,
    MOVE,
    AssociationPlan,
    FaceFacts,
    admit_faces,
    requested_threshold,
    unique_ids,
)
from app.core.errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    InvalidParameterException,
    RekognitionError,
    ResourceNotFoundException,
)
from app.core.extension_model import EXTENSIONS, PEOPLE_EXTENSIONS
from app.core.rows import CollectionRow, UserRow, user_status
from app.core.validation import validate_request

Call = Callable[[str, dict], dict]

USER_FACE_IDS_MAX = 100  # AssociateFaces / DisassociateFaces FaceIds (UserFaceIdList)
LIST_FACES_MAX_IDS = 4096  # ListFaces FaceIds (FaceIdList) and MaxResults (PageSize)
LIST_USERS_PAGE = 500  # ListUsers MaxResults (MaxUserResults)


class PartialWriteError(RekognitionError):
    """An extension failed half-way and its roll-back did not restore everything (see the module docstring).

    `cause`: the error that stopped the sequence; `change_set`: what the endpoint holds now that it did
    not before the call (None when it could not be read); `unassigned_face_ids`: faces that had a user
    before the call and have none now, their former users in `former_owners`; `unverified_face_ids`:
    faces whose state could not be read back.
    """

    code = "PartialWriteException"
    http_status = 500

    def __init__(self, message: str, operation: str, cause: Exception, change_set: dict | None,
                 unassigned_face_ids: list[str], former_owners: dict[str, str], unverified_face_ids: list[str]):
        super().__init__(message)
        self.operation = operation
        self.cause = cause
        self.change_set = change_set
        self.unassigned_face_ids = unassigned_face_ids
        self.former_owners = former_owners
        self.unverified_face_ids = unverified_face_ids


def _describe(exc: Exception) -> str:
    if isinstance(exc, RekognitionError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def _missing_user(user_id: str, collection_id: str) -> RekognitionError:
    return ResourceNotFoundException(f"The user id: {user_id} does not exist in the collection: {collection_id}")


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _by_user(pairs: Iterable[tuple[str, str | None]]) -> dict[str, list[str]]:
    """face ids grouped by user, users in order of first appearance; pairs without a user are left out."""
    out: dict[str, list[str]] = {}
    for face_id, user_id in pairs:
        if user_id is not None:
            out.setdefault(user_id, []).append(face_id)
    return out


def plan_from_owners(collection_id: str, user_id: str, face_ids: list[str], owners: dict[str, str | None],
                     count_before: int, threshold: float | None, move_from_owners: bool) -> AssociationPlan:
    """The engine's plan_association without descriptors: `owners` maps each face found to its user (or None)."""
    facts = [FaceFacts(fid, fid in owners, owners.get(fid)) for fid in unique_ids(face_ids)]
    planned = admit_faces(facts, user_id, count_before, threshold, move_from_owners)
    # rows that only carry the ids: the plan's responses read nothing else of them
    coll = CollectionRow(0, collection_id, "", 0.0, 0)
    return AssociationPlan(coll, UserRow(0, user_id, 0.0), threshold, move_from_owners, count_before, planned)


@dataclass
class _Sequence:
    """What a write has done so far, for its roll-back."""

    collection_id: str
    before: dict[str, str | None] = field(default_factory=dict)  # face id -> its user before the call
    creating: list[str] = field(default_factory=list)  # users this call creates (CreateUser sent)
    deleting: list[str] = field(default_factory=list)  # users this call deletes (DeleteUser sent)
    wrote: bool = False  # a write has been sent


class RemoteCuration:
    """The five extensions over `call`, a function that runs one AWS operation (RemoteBackend.call or alike).

    `on_write(operation, request, response)` is told of each extension write that completed (not of
    replays), the request with its defaults applied, as the engine journals it.
    """

    def __init__(self, call: Call, on_write: Callable[[str, dict, dict], None] | None = None):
        self._call = call
        self._on_write = on_write
        self._tokens: dict[tuple[str, str, str], tuple[str, dict]] = {}
        self._tokens_lock = threading.Lock()

    def run(self, operation: str, params: dict) -> dict:
        """One extension request: validated like the engine's, then run as AWS calls."""
        validate_request(operation, params)
        if operation == "PlanAssociation":
            return self.plan_association(params)
        if operation == "PlanMerge":
            return self.plan_merge(params)
        handlers: dict[str, Callable[[dict], dict]] = {
            "MoveFaces": self.move_faces, "MergeUsers": self.merge_users, "SplitUser": self.split_user,
            "ApplyChangeSet": self.apply_change_set,
        }
        assert set(handlers) | {"PlanAssociation", "PlanMerge"} == set(EXTENSIONS) - set(PEOPLE_EXTENSIONS)
        return handlers[operation](params)

    # -- reading the endpoint ----------------------------------------------------------------------------
    def _users(self, collection_id: str) -> list[str]:
        """Every UserId of the collection (ResourceNotFoundException when the collection does not exist)."""
        out: list[str] = []
        params: dict = {"CollectionId": collection_id, "MaxResults": LIST_USERS_PAGE}
        while True:
            page = self._call("ListUsers", params)
            out += [u["UserId"] for u in page["Users"]]
            if not page.get("NextToken"):
                return out
            params = {**params, "NextToken": page["NextToken"]}

    def _require_users(self, collection_id: str, user_ids: list[str]) -> set[str]:
        existing = set(self._users(collection_id))
        for uid in user_ids:
            if uid not in existing:
                raise _missing_user(uid, collection_id)
        return existing

    def _list_faces(self, params: dict) -> list[dict]:
        faces: list[dict] = []
        while True:
            page = self._call("ListFaces", params)
            faces += page["Faces"]
            if not page.get("NextToken"):
                return faces
            params = {**params, "NextToken": page["NextToken"]}

    def _owners(self, collection_id: str, face_ids: list[str]) -> dict[str, str | None]:
        """Each face of `face_ids` found in the collection -> its UserId (None for no user)."""
        found: dict[str, str | None] = {}
        for chunk in _chunks(unique_ids(face_ids), LIST_FACES_MAX_IDS):
            faces = self._list_faces({"CollectionId": collection_id, "FaceIds": chunk, "MaxResults": len(chunk)})
            found.update({f["FaceId"]: f.get("UserId") for f in faces})
        return found

    def _user_faces(self, collection_id: str, user_id: str) -> list[str]:
        """The user's faces, in ListFaces order."""
        faces = self._list_faces({"CollectionId": collection_id, "UserId": user_id, "MaxResults": LIST_FACES_MAX_IDS})
        return [f["FaceId"] for f in faces]

    def _change_set(self, collection_id: str, face_changes: list[dict], created: Sequence[str] = (),
                    deleted: Sequence[str] = ()) -> dict:
        """change_sets.build, with each touched user's face count read from the endpoint after the write."""
        touched = list(dict.fromkeys([*created,
                                      *(u for c in face_changes for u in (c.get("FromUserId"), c.get("ToUserId")) if u),
                                      *deleted]))
        users = []
        for user_id in touched:
            if user_id in deleted:
                users.append({"UserId": user_id, "Change": change_sets.DELETE})
                continue
            count = len(self._user_faces(collection_id, user_id))
            users.append({"UserId": user_id, "Change": change_sets.CREATE if user_id in created else change_sets.UPDATE,
                          "FaceCount": count, "UserStatus": user_status(count)})
        return {"CollectionId": collection_id, "FaceChanges": face_changes, "UserChanges": users}

    # -- writing, in chunks ---------------------------------------------------------------------------------
    def _associate(self, seq: _Sequence, user_id: str, face_ids: list[str], threshold: float) -> tuple[list[str], list[dict]]:
        """AssociateFaces in chunks: (faces associated, the endpoint's unsuccessful entries)."""
        done: list[str] = []
        refused: list[dict] = []
        for chunk in _chunks(face_ids, USER_FACE_IDS_MAX):
            seq.wrote = True
            r = self._call("AssociateFaces", {"CollectionId": seq.collection_id, "UserId": user_id, "FaceIds": chunk,
                                              "UserMatchThreshold": threshold})
            done += [f["FaceId"] for f in r.get("AssociatedFaces", [])]
            refused += r.get("UnsuccessfulFaceAssociations", [])
        return done, refused

    def _disassociate(self, seq: _Sequence, user_id: str, face_ids: list[str]) -> tuple[list[str], list[dict]]:
        done: list[str] = []
        refused: list[dict] = []
        for chunk in _chunks(face_ids, USER_FACE_IDS_MAX):
            seq.wrote = True
            r = self._call("DisassociateFaces", {"CollectionId": seq.collection_id, "UserId": user_id, "FaceIds": chunk})
            done += [f["FaceId"] for f in r.get("DisassociatedFaces", [])]
            refused += r.get("UnsuccessfulFaceDisassociations", [])
        return done, refused

    def _create_user(self, seq: _Sequence, user_id: str) -> None:
        seq.creating.append(user_id)
        seq.wrote = True
        try:
            self._call("CreateUser", {"CollectionId": seq.collection_id, "UserId": user_id})
        except RekognitionError as exc:
            if exc.code == "ConflictException":
                seq.creating.remove(user_id)  # someone else's user: never ours to delete
            raise

    def _delete_user(self, seq: _Sequence, user_id: str) -> None:
        seq.deleting.append(user_id)
        seq.wrote = True
        try:
            self._call("DeleteUser", {"CollectionId": seq.collection_id, "UserId": user_id})
        except RekognitionError as exc:
            if exc.code == "ResourceNotFoundException":
                seq.deleting.remove(user_id)  # deleted by someone else: never ours to re-create
            raise

    def _put_back(self, seq: _Sequence, faces: dict[str, str]) -> None:
        """Faces taken from their owners (face id -> owner) back onto them, threshold 0: every one, or ConflictException."""
        for owner, ids in _by_user(faces.items()).items():
            _done, refused = self._associate(seq, owner, ids, 0.0)
            if refused:
                raise ConflictException(f"the endpoint refused to put {len(refused)} faces back on {owner}: " + ", ".join(
                    f"{r['FaceId']} ({', '.join(r.get('Reasons', []))})" for r in refused))

    # -- the roll-back ------------------------------------------------------------------------------------
    def _sequence(self, operation: str, seq: _Sequence, steps: Callable[[], dict]) -> dict:
        """Run `steps`; on an error after a write was sent, roll back (see the module docstring) and raise."""
        try:
            return steps()
        except Exception as exc:  # any failure, typed or not: the endpoint must not stay half-written
            if not seq.wrote:
                raise
            self._roll_back(operation, seq, exc)
            raise  # everything was restored: the original error

    def _roll_back(self, operation: str, seq: _Sequence, cause: Exception) -> None:
        """Put the endpoint back as `seq.before` says; return when it is, else raise PartialWriteError."""
        cid, before = seq.collection_id, seq.before
        faces = list(before)
        problems: list[str] = []

        def attempt(what: str, step: Callable[..., None], *args: object) -> None:
            try:
                step(*args)
            except Exception as exc:  # noted, and the roll-back goes on with the next step
                problems.append(f"{what}: {_describe(exc)}")

        created = list(dict.fromkeys(seq.creating))
        deleted = [u for u in dict.fromkeys(seq.deleting) if u not in created]

        def recreate(uid: str) -> None:
            self._call("CreateUser", {"CollectionId": cid, "UserId": uid})
            users_now.add(uid)

        def take(owner: str, ids: list[str]) -> None:
            self._disassociate(seq, owner, ids)

        def give(owner: str, ids: list[str]) -> None:
            self._put_back(seq, dict.fromkeys(ids, owner))

        def drop(uid: str) -> None:
            if not self._user_faces(cid, uid):
                self._call("DeleteUser", {"CollectionId": cid, "UserId": uid})

        users_now: set[str] = set()
        try:
            users_now.update(self._users(cid))
            for uid in deleted:
                if uid not in users_now:
                    attempt(f"CreateUser {uid}", recreate, uid)
            now = self._owners(cid, faces)
            # a face whose old user could not be re-created stays where it is rather than end on no user
            wrong = [f for f in faces if f in now and now[f] != before[f] and (before[f] is None or before[f] in users_now)]
            for owner, ids in _by_user((f, now[f]) for f in wrong).items():
                attempt(f"DisassociateFaces {owner}", take, owner, ids)
            for owner, ids in _by_user((f, before[f]) for f in wrong).items():
                attempt(f"AssociateFaces {owner}", give, owner, ids)
            for uid in created:
                if uid in users_now:
                    attempt(f"DeleteUser {uid}", drop, uid)
            users_after = set(self._users(cid))
            after = self._owners(cid, faces)
        except Exception as exc:  # the endpoint cannot be read: say which faces may be anywhere
            raise PartialWriteError(
                f"{operation} failed half-way ({_describe(cause)}) and the endpoint could not be read "
                f"back to undo it ({_describe(exc)}); each of these {len(faces)} faces is on the user it had before, "
                f"on the user the call was moving it to, or on no user: {', '.join(faces)}",
                operation, cause, None, [], {}, faces) from cause
        moved = [f for f in faces if f in after and after[f] != before[f]]
        extra_users = [u for u in created if u in users_after]
        missing_users = [u for u in deleted if u not in users_after]
        if not moved and not extra_users and not missing_users:
            return
        face_changes = [change_sets.face_change(f, before[f], after[f]) for f in moved]
        try:
            change_set: dict | None = self._change_set(cid, face_changes, extra_users, missing_users)
        except Exception:
            change_set = None
        unassigned = [f for f in moved if after[f] is None]
        former = {f: was for f in unassigned if (was := before[f]) is not None}
        parts = [f"{operation} failed half-way ({_describe(cause)}) and could not be rolled back completely"]
        if unassigned:
            parts.append(f"{len(unassigned)} faces are on no user now: "
                         + ", ".join(f"{f} (was on {former[f]})" for f in unassigned))
        elsewhere = [f for f in moved if after[f] is not None]
        if elsewhere:
            parts.append(f"{len(elsewhere)} faces are on another user than before: "
                         + ", ".join(f"{f} (on {after[f]}, was {before[f] or 'on no user'})" for f in elsewhere))
        if extra_users:
            parts.append(f"users created and not deleted again: {', '.join(extra_users)}")
        if missing_users:
            parts.append(f"users deleted and not re-created: {', '.join(missing_users)}")
        if problems:
            parts.append("roll-back errors: " + "; ".join(problems))
        raise PartialWriteError("; ".join(parts), operation, cause, change_set, unassigned, former, []) from cause

    # -- replay of ClientRequestToken ---------------------------------------------------------------------
    def _idempotent(self, operation: str, p: dict, body: Callable[[], dict]) -> dict:
        token = p.get("ClientRequestToken")
        if not token:
            return self._written(operation, p, body())
        key = (operation, p["CollectionId"], token)
        digest = idempotency.request_digest(p)
        with self._tokens_lock:
            seen = self._tokens.get(key)
        if seen is not None:
            if seen[0] != digest:
                raise IdempotentParameterMismatchException(
                    f"ClientRequestToken '{token}' was already used for a {operation} call with different parameters")
            return seen[1]
        response = self._written(operation, p, body())
        with self._tokens_lock:
            self._tokens.setdefault(key, (digest, response))
        return response

    def _written(self, operation: str, p: dict, response: dict) -> dict:
        if self._on_write is not None:
            self._on_write(operation, p, response)
        return response

    # -- the extensions -------------------------------------------------------------------------------------
    def _plan(self, cid: str, uid: str, face_ids: list[str], threshold: float | None, move: bool) -> AssociationPlan:
        self._require_users(cid, [uid])
        owners = self._owners(cid, face_ids)
        count = len(self._user_faces(cid, uid))
        return plan_from_owners(cid, uid, face_ids, owners, count, threshold, move)

    def plan_association(self, p: dict) -> dict:
        """PlanAssociation: the engine's response shape, decided from ListFaces; MatchChecked false."""
        planned = self._plan(p["CollectionId"], p["UserId"], p["FaceIds"], requested_threshold(p), bool(p.get("MoveFromOwners")))
        return {**planned.as_response(), "MatchChecked": False}

    def _write_plan(self, seq: _Sequence, planned: AssociationPlan, threshold: float | None) -> list[dict]:
        """Take the plan's admitted faces from their owners and associate them with its user; the face changes.

        Faces the endpoint refuses are marked FAIL in the plan with its reasons (and put back on their owner)."""
        admitted = planned.admitted
        if not admitted:
            return []
        target = planned.user.user_id
        by_id = {f.face_id: f for f in admitted}
        seq.before.update({f.face_id: f.owner_id for f in admitted})

        def refuse(face_id: str, entry: dict) -> None:
            face = by_id[face_id]
            face.outcome, face.reasons, face.running_count = FAIL, list(entry.get("Reasons", [])), None
            face.confidence = entry.get("Confidence")
            if DIFFERENT_USER in face.reasons:
                face.owner_id = entry.get("UserId")

        taken: dict[str, str] = {}  # face id -> the owner it was taken from
        for owner, ids in _by_user((f.face_id, f.owner_id) for f in admitted).items():
            done, refused = self._disassociate(seq, owner, ids)
            taken.update(dict.fromkeys(done, owner))
            for entry in refused:  # changed since the plan was read: not taken, reported as the endpoint says
                refuse(entry["FaceId"], entry)
                seq.before.pop(entry["FaceId"], None)
            for fid in ids:
                if fid not in taken and by_id[fid].outcome != FAIL:
                    by_id[fid].owner_id = seq.before[fid] = None  # on no user by now: associated like a free face
        candidates = [f.face_id for f in admitted if f.outcome != FAIL]
        associated, refused = self._associate(seq, target, candidates, 0.0 if threshold is None else threshold)
        for entry in refused:
            refuse(entry["FaceId"], entry)
        done_set = set(associated)
        for f in admitted:
            if f.outcome != FAIL and f.face_id not in done_set:  # on the target already (put there meanwhile)
                f.outcome = ALREADY_ASSOCIATED
                taken.pop(f.face_id, None)
        self._put_back(seq, {fid: owner for fid, owner in taken.items() if fid not in done_set})
        # running counts as the endpoint took the faces
        running = planned.count_before
        for f in planned.faces:
            if f.outcome in (ASSOCIATE, MOVE):
                f.outcome = MOVE if f.owner_id is not None else ASSOCIATE
                running += 1
                f.running_count = running
        return [change_sets.face_change(f.face_id, f.owner_id, target) for f in planned.admitted]

    @staticmethod
    def _moved(planned: AssociationPlan) -> list[dict]:
        return [{"FaceId": f.face_id, "FromUserId": f.owner_id} for f in planned.faces if f.outcome == MOVE]

    def move_faces(self, p: dict) -> dict:
        """MoveFaces: AssociateFaces that may take faces from their current owners (MoveFromOwners, default true)."""
        p = {**p, "UserMatchThreshold": requested_threshold(p), "MoveFromOwners": bool(p.get("MoveFromOwners", True))}
        cid = p["CollectionId"]

        def body() -> dict:
            planned = self._plan(cid, p["UserId"], p["FaceIds"], p["UserMatchThreshold"], p["MoveFromOwners"])
            seq = _Sequence(cid)

            def steps() -> dict:
                changes = self._write_plan(seq, planned, p["UserMatchThreshold"])
                return {**planned.associate_faces_response(), "MovedFaces": self._moved(planned),
                        "ChangeSet": self._change_set(cid, changes)}

            return self._sequence("MoveFaces", seq, steps)

        return self._idempotent("MoveFaces", p, body)

    @staticmethod
    def _sources(operation: str, p: dict) -> list[str]:
        sources = list(p["SourceUserIds"])
        if p["UserId"] in sources:
            raise InvalidParameterException(f"{operation}: SourceUserIds must not include the target UserId")
        if len(set(sources)) != len(sources):
            raise InvalidParameterException(f"{operation}: SourceUserIds lists a user more than once")
        return sources

    def _merge_plan(self, p: dict, sources: list[str]) -> tuple[dict[str, list[str]], float | None, AssociationPlan]:
        """A merge's decision, from ListFaces: each source's faces, the threshold, the plan (MergeUsers and PlanMerge)."""
        cid, target = p["CollectionId"], p["UserId"]
        self._require_users(cid, [target, *sources])
        faces_of = {s: self._user_faces(cid, s) for s in sources}
        owners: dict[str, str | None] = {fid: s for s, ids in faces_of.items() for fid in ids}
        count = len(self._user_faces(cid, target))
        threshold = requested_threshold(p, None)
        return faces_of, threshold, plan_from_owners(cid, target, list(owners), owners, count, threshold, True)

    def plan_merge(self, p: dict) -> dict:
        """PlanMerge: what MergeUsers would do now, decided from ListFaces (MatchChecked false); writes nothing."""
        sources = self._sources("PlanMerge", p)
        faces_of, _threshold, planned = self._merge_plan(p, sources)
        admitted = {f.face_id for f in planned.admitted}
        deleted = [s for s in sources if all(fid in admitted for fid in faces_of[s])]
        return {**planned.as_response(), "MatchChecked": False, "DeletedUserIds": deleted}

    def merge_users(self, p: dict) -> dict:
        """MergeUsers: every face of the source users onto the target within its cap; emptied sources deleted."""
        sources = self._sources("MergeUsers", p)
        cid = p["CollectionId"]

        def body() -> dict:
            faces_of, threshold, planned = self._merge_plan(p, sources)
            seq = _Sequence(cid)

            def steps() -> dict:
                changes = self._write_plan(seq, planned, threshold)
                associated = {c["FaceId"] for c in changes}
                deleted = []
                for s in sources:
                    if all(fid in associated for fid in faces_of[s]) and not self._call(
                            "ListFaces", {"CollectionId": cid, "UserId": s, "MaxResults": 1})["Faces"]:
                        self._delete_user(seq, s)
                        deleted.append(s)
                return {**planned.associate_faces_response(), "MovedFaces": self._moved(planned), "DeletedUserIds": deleted,
                        "ChangeSet": self._change_set(cid, changes, deleted=deleted)}

            return self._sequence("MergeUsers", seq, steps)

        return self._idempotent("MergeUsers", p, body)

    def split_user(self, p: dict) -> dict:
        """SplitUser: chosen faces of a user onto a new user (NewUserId, created here)."""
        face_ids = unique_ids(p["FaceIds"])
        if p["NewUserId"] == p["UserId"]:
            raise InvalidParameterException("SplitUser: NewUserId must differ from UserId")
        cid, source, new = p["CollectionId"], p["UserId"], p["NewUserId"]

        def body() -> dict:
            existing = self._require_users(cid, [source])
            if new in existing:
                raise ConflictException(f"The user id: {new} already exists in the collection: {cid}")
            owners = self._owners(cid, face_ids)
            stray = [fid for fid in face_ids if owners.get(fid) != source]
            if stray:
                raise InvalidParameterException(f"SplitUser: {len(stray)} of the FaceIds are not faces of {source}: "
                                                f"{', '.join(stray[:5])}")
            planned = plan_from_owners(cid, new, face_ids, owners, 0, None, True)
            seq = _Sequence(cid)

            def steps() -> dict:
                self._create_user(seq, new)
                changes = self._write_plan(seq, planned, None)
                return {**planned.associate_faces_response(), "MovedFaces": self._moved(planned),
                        "ChangeSet": self._change_set(cid, changes, created=[new])}

            return self._sequence("SplitUser", seq, steps)

        return self._idempotent("SplitUser", p, body)

    def apply_change_set(self, p: dict) -> dict:
        """ApplyChangeSet: the engine's checks, all before any write; then the writes, rolled back on failure."""
        changes = list(p.get("FaceChanges", []))
        user_changes = p.get("UserChanges", [])
        ids = [c["FaceId"] for c in changes]
        if len(set(ids)) != len(ids):
            raise InvalidParameterException("ApplyChangeSet: FaceChanges lists a FaceId more than once")
        to_create = [u["UserId"] for u in user_changes if u["Change"] == change_sets.CREATE]
        to_delete = [u["UserId"] for u in user_changes if u["Change"] == change_sets.DELETE]
        if set(to_create) & set(to_delete) or len(set(to_create)) != len(to_create) or len(set(to_delete)) != len(to_delete):
            raise InvalidParameterException("ApplyChangeSet: a UserId is listed twice in UserChanges")
        cid = p["CollectionId"]

        def body() -> dict:
            existing = set(self._users(cid))
            clash = [u for u in to_create if u in existing]
            if clash:
                raise ConflictException(f"Cannot create user {', '.join(clash)}: it already exists in {cid}")
            gone = [u for u in to_delete if u not in existing]
            if gone:
                raise _missing_user(gone[0], cid)
            missing = [u for c in changes for u in (c.get("FromUserId"), c.get("ToUserId"))
                       if u and u not in existing and u not in to_create]
            if missing:
                raise _missing_user(missing[0], cid)
            owners = self._owners(cid, ids)
            not_found = [fid for fid in ids if fid not in owners]
            if not_found:
                raise ConflictException(f"{len(not_found)} of the faces no longer exist in {cid}: {', '.join(not_found[:5])}")
            stale = [c for c in changes if owners[c["FaceId"]] != c.get("FromUserId")]
            if stale:
                raise ConflictException(f"{len(stale)} of the faces are no longer where this change expects them "
                                        f"(changed meanwhile): {', '.join(c['FaceId'] for c in stale[:5])}")
            moving = [c for c in changes if c.get("FromUserId") != c.get("ToUserId")]
            counts = {u: 0 if u in to_create else len(self._user_faces(cid, u))
                      for u in dict.fromkeys([*(c["ToUserId"] for c in changes if c.get("ToUserId")), *to_delete])}
            for c in moving:
                if c.get("FromUserId") in counts:
                    counts[c["FromUserId"]] -= 1
                if c.get("ToUserId") in counts:
                    counts[c["ToUserId"]] += 1
            for uid, n in counts.items():
                if n > MAX_FACES_PER_USER:
                    raise ConflictException(f"User {uid} would hold {n} faces, more than {MAX_FACES_PER_USER}")
            for uid in to_delete:
                if counts[uid]:
                    raise ConflictException(f"User {uid} cannot be deleted: it still has {counts[uid]} faces")
            seq = _Sequence(cid, before={c["FaceId"]: owners[c["FaceId"]] for c in moving})

            def steps() -> dict:
                for uid in to_create:
                    self._create_user(seq, uid)
                for owner, fids in _by_user((c["FaceId"], c.get("FromUserId")) for c in moving).items():
                    _done, refused = self._disassociate(seq, owner, fids)
                    if refused:
                        raise ConflictException(f"{len(refused)} of the faces are no longer where this change expects them "
                                       f"(changed meanwhile): {', '.join(r['FaceId'] for r in refused[:5])}")
                for user, fids in _by_user((c["FaceId"], c.get("ToUserId")) for c in moving).items():
                    _done, refused = self._associate(seq, user, fids, 0.0)
                    if refused:
                        raise ConflictException(f"the endpoint refused {len(refused)} faces for {user}: "
                                       + ", ".join(f"{r['FaceId']} ({', '.join(r.get('Reasons', []))})" for r in refused[:5]))
                for uid in to_delete:
                    self._delete_user(seq, uid)
                return {"ChangeSet": self._change_set(cid, changes, to_create, to_delete)}

            return self._sequence("ApplyChangeSet", seq, steps)

        return self._idempotent("ApplyChangeSet", p, body)

