"""People metadata (ours, beside the AWS data): a display name and a cover face per user.

DescribePeople (read), UpdatePerson (write, journaled) and ProposeUserId (read: the slug a display
name suggests, unique in the collection). Renaming changes only the display name, never the
UserId; a user deleted (DeleteUser, MergeUsers, an undo) takes its metadata with it.
"""

from __future__ import annotations

import re
import time
import unicodedata
import weakref

import numpy as np

from . import face_keys, idempotency
from .errors import InvalidParameterException
from .records import get_collection, get_user, user_status

DISPLAY_NAME_MAX = 200
_SLUG_MAX = 100  # leaves room for a "_2" suffix under the UserId's 128 characters


def slug(display_name: str) -> str:
    """"Barack Obama" -> "barack_obama": accents dropped, lower case, anything else "_". A name with
    no Latin letter or digit at all gives "person"."""
    text = unicodedata.normalize("NFKD", display_name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:_SLUG_MAX].strip("_")
    return text or "person"


def check_display_name(name) -> str:
    """The name with surrounding white space removed: any Unicode, 1-200 characters, no control characters."""
    if not isinstance(name, str):
        raise InvalidParameterException("DisplayName: give a string")
    name = unicodedata.normalize("NFC", name.strip())
    if not 1 <= len(name) <= DISPLAY_NAME_MAX:
        raise InvalidParameterException(f"DisplayName: give 1 to {DISPLAY_NAME_MAX} characters (got {len(name)})")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise InvalidParameterException("DisplayName: no control or line-break characters")
    return name


def unique_user_id(conn, collection_pk: int, base: str) -> str:
    taken = {r[0] for r in conn.execute("SELECT user_id FROM users WHERE collection_pk = ? AND substr(user_id, 1, ?) = ?",
                                        (collection_pk, len(base), base))}
    if base not in taken:
        return base
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"


def propose_user_id(engine, p: dict) -> dict:
    """ProposeUserId: {"UserId": a free slug of DisplayName, "DisplayName": the name as it would be stored}."""
    name = check_display_name(p["DisplayName"])
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        return {"UserId": unique_user_id(conn, coll.pk, slug(name)), "DisplayName": name}


def person_rows(conn, collection_pk: int, user_pks: list[int] | None = None) -> dict[int, dict]:
    """user pk -> the person's response shape (UserId, DisplayName, CoverFaceId, FaceCount, UserStatus)."""
    sql = ("SELECT u.pk, u.user_id, p.display_name, f.face_id, (SELECT COUNT(*) FROM faces c WHERE c.user_pk = u.pk) "
           "FROM users u LEFT JOIN people p ON p.user_pk = u.pk LEFT JOIN faces f ON f.pk = p.cover_face_pk "
           "WHERE u.collection_pk = ?")
    args: list = [collection_pk]
    if user_pks is not None:
        sql += f" AND u.pk IN ({','.join('?' * len(user_pks))})"
        args += user_pks
    out = {}
    for pk, user_id, name, cover, count in conn.execute(sql + " ORDER BY u.pk", args):
        person: dict = {"UserId": user_id}
        if name is not None:
            person["DisplayName"] = name
        if cover is not None:
            person["CoverFaceId"] = cover
        person.update({"FaceCount": count, "UserStatus": user_status(count)})
        out[pk] = person
    return out


def saved_metadata(conn, collection_pk: int, users: dict[str, int]) -> dict[str, dict]:
    """UserId -> the person's DisplayName and CoverFaceId (those it has) for `users` (UserId -> pk), read
    before a write deletes them: a change set keeps them, so that its undo brings the person back whole."""
    if not users:
        return {}
    rows = person_rows(conn, collection_pk, list(users.values()))
    out = {}
    for uid, pk in users.items():
        kept = {k: rows[pk][k] for k in ("DisplayName", "CoverFaceId") if k in rows.get(pk, {})}
        if kept:
            out[uid] = kept
    return out


def restore_metadata(conn, collection_pk: int, user_pk: int, saved: dict) -> None:
    """Give a re-created user the DisplayName and CoverFaceId it had; a cover that is not one of its faces
    now is left out (the person is shown without one)."""
    cover = None
    if saved.get("CoverFaceId"):
        row = face_keys.face_rows(conn, collection_pk, [saved["CoverFaceId"]], "f.pk, f.user_pk").get(saved["CoverFaceId"])
        cover = row[0] if row and row[1] == user_pk else None
    name = check_display_name(saved["DisplayName"]) if saved.get("DisplayName") else None
    if name is not None or cover is not None:
        set_person(conn, user_pk, name, cover)


def describe_people(engine, p: dict) -> dict:
    """DescribePeople: every user of the collection (or the UserIds given) with its metadata, in creation order.

    A person with faces but no cover set gets an automatic one (ours): `CoverFaceId` is the face nearest
    the mean of the person's descriptors, marked `CoverFaceAutomatic: true`; nothing is stored.
    """
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        pks = None
        if p.get("UserIds"):
            pks = [get_user(conn, coll, uid).pk for uid in p["UserIds"]]
        people = person_rows(conn, coll.pk, pks)
        uncovered = [pk for pk, person in people.items() if "CoverFaceId" not in person and person["FaceCount"]]
        if uncovered:
            for pk, face_id in cached_automatic_covers(engine, conn, coll, uncovered).items():
                people[pk]["CoverFaceId"] = face_id
                people[pk]["CoverFaceAutomatic"] = True
        return {"People": list(people.values())}


# engine -> {collection pk: (generation, {user pk: automatic cover FaceId})}: a cover depends only on
# which faces a user holds, and every such change bumps the collection's generation
_COVERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_automatic_covers(engine, conn, coll, user_pks: list[int]) -> dict[int, str]:
    """automatic_covers, remembered until the collection's faces change (the window asks twice on opening)."""
    per_engine = _COVERS.setdefault(engine, {})
    generation, known = per_engine.get(coll.pk, (None, {}))
    if generation != coll.generation:
        known = {}
        per_engine[coll.pk] = (coll.generation, known)
    missing = [pk for pk in user_pks if pk not in known]
    if missing:
        known.update(automatic_covers(engine, conn, coll, missing))
    return {pk: known[pk] for pk in user_pks if pk in known}


def automatic_covers(engine, conn, coll, user_pks: list[int]) -> dict[int, str]:
    """user pk -> the FaceId of its face nearest the mean of its faces (ties: the older face).

    One pass over the collection's in-memory index (owners, descriptors, the user means it keeps):
    no descriptor is read from SQLite. Call with the engine lock held, inside a read transaction.
    """
    index = engine.index_for(conn, coll)
    if index is None or not user_pks:
        return {}
    owners = index.owners[: index.n]
    pos = np.flatnonzero(np.isin(owners, np.asarray(user_pks, dtype=owners.dtype)) & np.isfinite(index.sqnorms[: index.n]))
    if not len(pos):
        return {}
    who = owners[pos]
    pks, means, _counts, mean_sq = index.user_means()
    order = np.argsort(pks)
    slot = order[np.searchsorted(pks, who, sorter=order)]  # the row of each face's owner in `means`
    vectors = index.rows(pos)
    # |x - m|^2 = |x|^2 - 2 x.m + |m|^2, in float32 like the searches (choosing a cover needs no more)
    dist = index.sqnorms[pos] - 2.0 * np.einsum("ij,ij->i", vectors, means[slot]) + mean_sq[slot]
    rowids = index.rowids[pos]
    best = np.lexsort((rowids, dist, who))  # per user: nearest first, then the older face
    first = best[np.r_[True, who[best][1:] != who[best][:-1]]]
    chosen = {int(rowids[k]): int(who[k]) for k in first}
    out: dict[int, str] = {}
    keys = list(chosen)
    for at in range(0, len(keys), 900):
        chunk = keys[at:at + 900]
        for pk, face_id in conn.execute(f"SELECT pk, face_id FROM faces WHERE pk IN ({','.join('?' * len(chunk))})", chunk):
            out[chosen[pk]] = face_id
    return out


def set_person(conn, user_pk: int, display_name=..., cover_face_pk=...) -> None:
    """Write the given fields of a person (Ellipsis: leave as is; None: clear)."""
    row = conn.execute("SELECT display_name, cover_face_pk FROM people WHERE user_pk = ?", (user_pk,)).fetchone()
    name, cover = row if row else (None, None)
    name = name if display_name is ... else display_name
    cover = cover if cover_face_pk is ... else cover_face_pk
    conn.execute("INSERT INTO people(user_pk, display_name, cover_face_pk, updated_at) VALUES (?,?,?,?) "
                 "ON CONFLICT(user_pk) DO UPDATE SET display_name = excluded.display_name, "
                 "cover_face_pk = excluded.cover_face_pk, updated_at = excluded.updated_at",
                 (user_pk, name, cover, time.time()))


def update_person(engine, p: dict) -> dict:
    """UpdatePerson: set (or, with an empty string, clear) a user's DisplayName and CoverFaceId.

    The cover must be one of the user's faces now (InvalidParameterException otherwise). The answer
    has the person after the write and `Previous` (the DisplayName and CoverFaceId before), which is
    the request that takes it back.
    """
    name = ... if "DisplayName" not in p else (None if p["DisplayName"] == "" else check_display_name(p["DisplayName"]))
    if name is ... and "CoverFaceId" not in p:
        raise InvalidParameterException("UpdatePerson: give DisplayName, CoverFaceId or both")

    def body(tx, coll):
        conn = tx.conn
        user = get_user(conn, coll, p["UserId"])
        before = person_rows(conn, coll.pk, [user.pk])[user.pk]
        cover = ...
        if "CoverFaceId" in p:
            cover = None
            if p["CoverFaceId"]:
                row = face_keys.face_rows(conn, coll.pk, [p["CoverFaceId"]], "f.pk, f.user_pk").get(p["CoverFaceId"])
                if row is None or row[1] != user.pk:
                    raise InvalidParameterException(f"CoverFaceId: {p['CoverFaceId']} is not a face of {user.user_id}")
                cover = row[0]
        set_person(conn, user.pk, name, cover)
        person = person_rows(conn, coll.pk, [user.pk])[user.pk]
        previous = {"DisplayName": before.get("DisplayName", ""), "CoverFaceId": before.get("CoverFaceId", "")}
        return {"Person": person, "Previous": previous}, None

    return idempotency.idempotent_write(engine, "UpdatePerson", p, body)
