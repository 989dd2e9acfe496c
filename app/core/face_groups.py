"""Anonymous groups of unassigned faces (ours): ClusterFaces, NameGroup, SuggestUsers.

ClusterFaces groups the faces that belong to no user (clustering.py has the algorithm) and keeps
the grouping in the workspace (tables face_groups, face_group_members, face_groupings), so that:
- the next call only places the faces that arrived since (new faces join the group their
  neighbours vote for, if it holds no face of their photo; the rest are grouped with the faces
  left ungrouped before); Recompute=true, or another threshold or algorithm, starts over;
- a group keeps its GroupId while it lives (the id is derived from the collection and the group's
  first face, so the same data gives the same ids);
- faces that get a user leave their group without a write (groups are read through "user_pk IS
  NULL"), so an undo puts them back in it.

The grouping is derived data, like the search index: ClusterFaces is not journaled and takes no
ClientRequestToken. NameGroup is a curation write like MoveFaces: journaled, idempotent, answered
with a ChangeSet.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import numpy as np

from . import change_sets, clustering, idempotency
from .association_plan import DEFAULT_USER_MATCH_THRESHOLD, FAIL, USER_FACE_LIMIT_EXCEEDED, plan_association
from .curation_ops import write_plan
from .errors import ConflictException, InvalidParameterException, ResourceNotFoundException
from .people import check_display_name, person_rows, set_person, slug, unique_user_id
from .records import CollectionRow, get_collection, get_user
from .similarity import scale_for

DEFAULT_GROUP_THRESHOLD = 88.0  # calibrated similarity; 80 is the model's decision threshold (README)
DEFAULT_MIN_GROUP_SIZE = 2
DEFAULT_MIN_POINTS = 3  # DBSCAN's core rule, as Immich's default
_GROUP_NAMESPACE = uuid.UUID("6f1f3c1e-3a57-4c55-9d0a-5b8e2a7c9f11")


@dataclass
class Snapshot:
    """The collection's unassigned faces now, in pk order."""

    pks: np.ndarray
    face_ids: list[str]
    images: np.ndarray  # an integer per distinct ImageId
    vectors: np.ndarray


def _snapshot(engine, conn, coll) -> Snapshot:
    """Call with the engine lock held, inside one read transaction."""
    rows = conn.execute("SELECT pk, face_id, image_id FROM faces WHERE collection_pk = ? AND user_pk IS NULL ORDER BY pk",
                        (coll.pk,)).fetchall()
    index = engine.index_for(conn, coll)
    if not rows or index is None:
        return Snapshot(np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros((0, 1), np.float32))
    pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    _, images = np.unique(np.array([r[2] for r in rows], dtype=object).astype(str), return_inverse=True)
    pos = np.searchsorted(index.rowids[: index.n], pks)
    vectors = index.vectors[pos]  # a copy: the index may change once the lock is released
    return Snapshot(pks, [r[1] for r in rows], images.astype(np.int64), vectors)


def _group_id(collection_id: str, first_face_id: str, taken: set[str]) -> str:
    name, k = f"{collection_id}/{first_face_id}", 0
    while True:
        gid = str(uuid.uuid5(_GROUP_NAMESPACE, name if k == 0 else f"{name}/{k}"))
        if gid not in taken:
            taken.add(gid)
            return gid
        k += 1


def _settings(p: dict) -> tuple[float, str, int]:
    threshold = float(p.get("GroupThreshold", DEFAULT_GROUP_THRESHOLD))
    algorithm = p.get("Algorithm", clustering.CHINESE_WHISPERS)
    min_size = int(p.get("MinGroupSize", DEFAULT_MIN_GROUP_SIZE))
    if min_size < 2:
        raise InvalidParameterException("MinGroupSize: a group has at least 2 faces")
    return threshold, algorithm, min_size


def cluster_faces(engine, p: dict) -> dict:
    """ClusterFaces: anonymous groups of the unassigned faces, largest first (see the module docstring)."""
    threshold, algorithm, min_size = _settings(p)
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        snap = _snapshot(engine, conn, coll)
        setting = conn.execute("SELECT threshold, algorithm FROM face_groupings WHERE collection_pk = ?",
                               (coll.pk,)).fetchone()
        stored = conn.execute("SELECT m.face_pk, m.group_pk FROM face_group_members m JOIN faces f ON f.pk = m.face_pk "
                              "WHERE f.collection_pk = ? AND f.user_pk IS NULL", (coll.pk,)).fetchall()
    scale = scale_for(coll.model_version)
    radius = scale.max_distance(threshold)
    if engine.read_only:  # nothing can be kept: group everything now, answer, store nothing
        groups = clustering.partition(snap.vectors, snap.images, radius, scale.similarity, algorithm, DEFAULT_MIN_POINTS)
        return _unstored_response(coll, snap, groups, scale, min_size)
    full = bool(p.get("Recompute")) or setting is None or (float(setting[0]), setting[1]) != (threshold, algorithm)
    member_of = np.full(len(snap.pks), -2, dtype=np.int64)  # -2: not seen yet, -1: ungrouped, else group pk
    if not full and stored:
        seen = np.array(stored, dtype=object)
        face_pks = seen[:, 0].astype(np.int64)
        pos = np.searchsorted(snap.pks, face_pks)
        ok = (pos < len(snap.pks)) & (snap.pks[np.minimum(pos, len(snap.pks) - 1)] == face_pks)
        member_of[pos[ok]] = np.array([-1 if g is None else g for g in seen[ok, 1]], dtype=np.int64)
    if full:
        new_groups = clustering.partition(snap.vectors, snap.images, radius, scale.similarity, algorithm, DEFAULT_MIN_POINTS)
        joins: dict[int, np.ndarray] = {}
        considered = np.arange(len(snap.pks))
    else:
        joins, new_groups, considered = _place_new_faces(snap, member_of, radius, scale.similarity, algorithm)
    if full or len(considered):
        _store(engine, coll, snap, full, threshold, algorithm, joins, new_groups, considered)
    return _response(engine, p["CollectionId"], min_size)


def _unstored_response(coll, snap: Snapshot, groups: list, scale, min_size: int) -> dict:
    taken: set[str] = set()
    out, grouped = [], np.zeros(len(snap.pks), dtype=bool)
    for g in groups:
        if len(g.members) < min_size:
            continue
        grouped[g.members] = True
        out.append({"GroupId": _group_id(coll.collection_id, snap.face_ids[int(g.members[0])], taken),
                    "FaceIds": [snap.face_ids[i] for i in g.order_by_centrality],
                    "CoverFaceId": snap.face_ids[g.cover],
                    "Cohesion": round(float(scale.similarity(g.rms_distance)), 2)})
    return {"Groups": out, "UngroupedFaceIds": [snap.face_ids[i] for i in np.flatnonzero(~grouped)]}


def _place_new_faces(snap: Snapshot, member_of: np.ndarray, radius: float, similarity, algorithm: str):
    """Faces not seen before: each joins the existing group its neighbours vote for (unless the group
    has a face of its photo); the rest are grouped with the faces left ungrouped before."""
    new = np.flatnonzero(member_of == -2)
    if len(new) == 0:
        return {}, [], new
    old = np.flatnonzero(member_of >= 0)
    joins: dict[int, np.ndarray] = {}
    joined = np.zeros(len(new), dtype=bool)
    if len(old):
        group_pks, old_group = np.unique(member_of[old], return_inverse=True)
        r, c, d2 = clustering.cross_neighbours(snap.vectors[new], snap.vectors[old], radius)
        weights = np.asarray(similarity(np.sqrt(d2.astype(np.float64))), dtype=np.float64).reshape(-1)
        choice = clustering.join_existing(r, c, d2, old_group, weights, len(new))
        for k in np.flatnonzero(choice >= 0):
            g = int(group_pks[choice[k]])
            photos = set(snap.images[old[old_group == choice[k]]].tolist())
            photos |= {int(snap.images[new[j]]) for j in joins.get(g, [])}
            if int(snap.images[new[k]]) in photos:
                continue  # cannot-link: the group already holds a face of this photo
            joins[g] = np.append(joins.get(g, np.zeros(0, np.int64)), k)
            joined[k] = True
        joins = {g: new[ks] for g, ks in joins.items()}
    rest = np.sort(np.concatenate([new[~joined], np.flatnonzero(member_of == -1)]))
    groups = clustering.partition(snap.vectors[rest], snap.images[rest], radius, similarity, algorithm, DEFAULT_MIN_POINTS)
    for fg in groups:  # back to snapshot rows
        fg.members, fg.order_by_centrality, fg.cover = rest[fg.members], rest[fg.order_by_centrality], int(rest[fg.cover])
    return joins, groups, np.concatenate([new, rest])


def _store(engine, coll, snap: Snapshot, full: bool, threshold: float, algorithm: str,
           joins: dict[int, np.ndarray], new_groups: list, considered: np.ndarray) -> None:
    with engine.writing() as tx:
        conn = tx.conn
        now = time.time()
        if full:
            conn.execute("DELETE FROM face_groups WHERE collection_pk = ?", (coll.pk,))
            conn.execute("DELETE FROM face_group_members WHERE face_pk IN (SELECT pk FROM faces WHERE collection_pk = ?)",
                         (coll.pk,))
        conn.execute("INSERT INTO face_groupings(collection_pk, threshold, algorithm, updated_at) VALUES (?,?,?,?) "
                     "ON CONFLICT(collection_pk) DO UPDATE SET threshold = excluded.threshold, "
                     "algorithm = excluded.algorithm, updated_at = excluded.updated_at",
                     (coll.pk, threshold, algorithm, now))
        # only faces that still exist: the snapshot was read before this transaction
        alive = {r[0] for r in conn.execute("SELECT pk FROM faces WHERE collection_pk = ?", (coll.pk,))}
        live_groups = {r[0] for r in conn.execute("SELECT pk FROM face_groups WHERE collection_pk = ?", (coll.pk,))}
        taken = {r[0] for r in conn.execute("SELECT group_id FROM face_groups WHERE collection_pk = ?", (coll.pk,))}
        assigned: dict[int, int | None] = {int(snap.pks[i]): None for i in considered}
        for group_pk, rows in joins.items():
            if group_pk in live_groups:
                assigned.update({int(snap.pks[i]): group_pk for i in rows})
        for g in new_groups:
            first = snap.face_ids[int(g.members[0])]
            cur = conn.execute("INSERT INTO face_groups(collection_pk, group_id, created_at) VALUES (?,?,?)",
                               (coll.pk, _group_id(coll.collection_id, first, taken), now))
            assigned.update({int(snap.pks[i]): cur.lastrowid for i in g.members})
        conn.executemany("INSERT OR REPLACE INTO face_group_members(face_pk, group_pk) VALUES (?,?)",
                         [(pk, g) for pk, g in assigned.items() if pk in alive])
        conn.execute("DELETE FROM face_groups WHERE collection_pk = ? AND pk NOT IN "
                     "(SELECT DISTINCT group_pk FROM face_group_members WHERE group_pk IS NOT NULL)", (coll.pk,))


@dataclass
class StoredGroup:
    pk: int
    group_id: str
    user_pk: int | None  # the user a NameGroup gave the group's best faces to: the rest are suggestions for it
    rows: np.ndarray  # snapshot rows, most central first
    cohesion: float


def stored_groups(engine, collection_id: str) -> tuple[Snapshot, list[StoredGroup], CollectionRow]:
    """The stored groups over the faces unassigned now (each with its rows, most central first)."""
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, collection_id)
        snap = _snapshot(engine, conn, coll)
        rows = conn.execute("SELECT g.pk, g.group_id, g.user_pk, m.face_pk FROM face_groups g "
                            "JOIN face_group_members m ON m.group_pk = g.pk JOIN faces f ON f.pk = m.face_pk "
                            "WHERE g.collection_pk = ? AND f.user_pk IS NULL ORDER BY g.pk, m.face_pk",
                            (coll.pk,)).fetchall()
    scale = scale_for(coll.model_version)
    by_group: dict[int, tuple[str, int | None, list[int]]] = {}
    for gpk, gid, upk, fpk in rows:
        by_group.setdefault(gpk, (gid, upk, []))[2].append(fpk)
    groups = []
    for gpk, (gid, upk, fpks) in by_group.items():
        members = np.searchsorted(snap.pks, np.asarray(fpks, dtype=np.int64))
        described = clustering.describe_group(snap.vectors, members)
        groups.append(StoredGroup(gpk, gid, upk, described.order_by_centrality,
                                  round(float(scale.similarity(described.rms_distance)), 2)))
    groups.sort(key=lambda g: (-len(g.rows), -g.cohesion, g.group_id))
    return snap, groups, coll


def _response(engine, collection_id: str, min_size: int) -> dict:
    snap, groups, coll = stored_groups(engine, collection_id)
    shown = [g for g in groups if len(g.rows) >= min_size]
    grouped = np.zeros(len(snap.pks), dtype=bool)
    out = []
    names: dict[int, str] = {}
    if any(g.user_pk for g in shown):
        with engine.store.read() as conn:
            names = {pk: person["UserId"] for pk, person in person_rows(conn, coll.pk).items()}
    for g in shown:
        grouped[g.rows] = True
        entry = {"GroupId": g.group_id, "FaceIds": [snap.face_ids[i] for i in g.rows],
                 "CoverFaceId": snap.face_ids[int(g.rows[0])], "Cohesion": g.cohesion}
        if g.user_pk in names:
            entry["SuggestedUserId"] = names[g.user_pk]
        out.append(entry)
    return {"Groups": out, "UngroupedFaceIds": [snap.face_ids[i] for i in np.flatnonzero(~grouped)]}


def _find_group(groups: list[StoredGroup], collection_id: str, group_id: str) -> StoredGroup:
    for g in groups:
        if g.group_id == group_id:
            return g
    raise ResourceNotFoundException(f"The group id: {group_id} does not exist in the collection: {collection_id} "
                                    "(or has no unassigned face left); run ClusterFaces again")


def suggest_users(engine, p: dict) -> dict:
    """SuggestUsers: the users a group most likely is, by the similarity of the group's mean to each
    user's mean (both means, scaled as SearchUsers scales them), best first."""
    snap, groups, coll = stored_groups(engine, p["CollectionId"])
    group = _find_group(groups, p["CollectionId"], p["GroupId"])
    limit = int(p.get("MaxUsers", 5))
    floor = float(p.get("UserMatchThreshold", 50.0))
    mean = snap.vectors[group.rows].astype(np.float64).mean(axis=0).astype(np.float32)
    with engine.lock, engine.store.read() as conn:
        index = engine.index_for(conn, get_collection(conn, p["CollectionId"]))
        if index is None:
            return {"GroupId": group.group_id, "Suggestions": []}
        user_pks, distances = index.user_distances(mean, len(group.rows))
        sims = np.atleast_1d(scale_for(coll.model_version).similarity(distances)) if len(user_pks) else np.zeros(0)
        keep = [i for i in np.argsort(-sims, kind="stable") if sims[i] >= floor][:limit]
        people = person_rows(conn, coll.pk, [int(user_pks[i]) for i in keep]) if keep else {}
    suggestions = []
    for i in keep:
        person = people.get(int(user_pks[i]))
        if person is None:
            continue
        entry = {"UserId": person["UserId"], "Confidence": round(float(sims[i]), 2), "FaceCount": person["FaceCount"]}
        if "DisplayName" in person:
            entry["DisplayName"] = person["DisplayName"]
        suggestions.append(entry)
    return {"GroupId": group.group_id, "Suggestions": suggestions}


def name_group(engine, p: dict) -> dict:
    """NameGroup: give a group's faces to a person, created here when UserId does not exist.

    Faces go in the group's order (most central first) through PlanAssociation, so the 100-face cap
    keeps the most representative faces and an existing user's match threshold (UserMatchThreshold,
    75 by default) applies. UserId may be left out when DisplayName is given (the proposed slug is
    used). A new user takes the DisplayName and the group's cover; an existing user gets them only
    where it has none. The group's faces the cap keeps out stay in the group, which then names the
    user as its suggestion (`SuggestedFaceIds` in the answer, most central first).
    """
    name = check_display_name(p["DisplayName"]) if p.get("DisplayName") else None
    if not p.get("UserId") and name is None:
        raise InvalidParameterException("NameGroup: give UserId, DisplayName or both")
    snap, groups, coll = stored_groups(engine, p["CollectionId"])
    group = _find_group(groups, p["CollectionId"], p["GroupId"])
    face_ids = [snap.face_ids[i] for i in group.rows]
    request = {**p, "UserMatchThreshold": float(p.get("UserMatchThreshold", DEFAULT_USER_MATCH_THRESHOLD))}

    def body(tx, coll):
        conn = tx.conn
        user_id = p.get("UserId") or unique_user_id(conn, coll.pk, slug(name or ""))
        row = conn.execute("SELECT pk FROM users WHERE collection_pk = ? AND user_id = ?", (coll.pk, user_id)).fetchone()
        created = row is None
        if created:
            conn.execute("INSERT INTO users(collection_pk, user_id, created_at) VALUES (?,?,?)",
                         (coll.pk, user_id, time.time()))
        user = get_user(conn, coll, user_id)
        gpk = conn.execute("SELECT pk FROM face_groups WHERE collection_pk = ? AND group_id = ?",
                           (coll.pk, group.group_id)).fetchone()
        if gpk is None:
            raise ConflictException(f"The group {group.group_id} was regrouped meanwhile; run ClusterFaces again")
        planned = plan_association(conn, coll, user, face_ids, request["UserMatchThreshold"])
        changes = write_plan(engine, tx, coll, planned)
        person = person_rows(conn, coll.pk, [user.pk])[user.pk]
        cover_pk = next((f.pk for f in planned.admitted), None)
        set_person(conn, user.pk,
                   name if name is not None and "DisplayName" not in person else ...,
                   cover_pk if cover_pk is not None and "CoverFaceId" not in person else ...)
        capped = [f.face_id for f in planned.faces if f.outcome == FAIL and f.reasons == [USER_FACE_LIMIT_EXCEEDED]]
        conn.execute("UPDATE face_groups SET user_pk = ? WHERE pk = ?", (user.pk, gpk[0]))
        response = planned.associate_faces_response()
        response["UnsuccessfulFaceAssociations"] = [u for u in response["UnsuccessfulFaceAssociations"]
                                                    if u["Reasons"] != [USER_FACE_LIMIT_EXCEEDED]]
        response.update({"UserId": user.user_id, "GroupId": group.group_id, "UserCreated": created,
                         "Person": person_rows(conn, coll.pk, [user.pk])[user.pk], "SuggestedFaceIds": capped,
                         "ChangeSet": change_sets.build(conn, coll, changes, created=[user.user_id] if created else [])})
        return response, None

    return idempotency.idempotent_write(engine, "NameGroup", request, body)

