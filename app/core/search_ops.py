"""SearchFaces, SearchFacesByImage, SearchUsers, SearchUsersByImage."""

from __future__ import annotations

import numpy as np

from . import face_keys
from .errors import InvalidParameterException, ResourceNotFoundException
from .face_ops import image_bytes
from .quality import face_area, quality_reasons
from .records import FACE_COLUMNS, FACE_FROM, face_from_row, get_collection, get_user
from .similarity import scale_for

DEFAULT_FACE_MATCH_THRESHOLD = 80.0
DEFAULT_USER_MATCH_THRESHOLD = 80.0
DEFAULT_MAX_FACES = 100  # ours
DEFAULT_MAX_USERS = 100  # ours


def _face_row(conn, collection, face_id: str):
    row = face_keys.face_rows(conn, collection.pk, [face_id], "f.pk, f.descriptor").get(face_id)
    if row is None:
        raise ResourceNotFoundException(f"The face id: {face_id} does not exist in the collection: {collection.collection_id}")
    return row[0], np.frombuffer(row[1], dtype=np.float32)


def _face_matches(engine, conn, collection, query, threshold: float, limit: int, exclude_rowid=None) -> list[dict]:
    scale = scale_for(collection.model_version)
    max_distance = scale.max_distance(threshold)
    found = engine.search_index(
        conn, collection, lambda index: index.search_faces(query, max_distance, limit, exclude_rowid))
    if found is None:
        return []
    rowids, distances = found
    if len(rowids) == 0:
        return []
    sims = np.atleast_1d(scale.similarity(distances))
    marks = ",".join("?" * len(rowids))
    faces = {r[0]: r for r in conn.execute(f"SELECT {FACE_COLUMNS} FROM {FACE_FROM} WHERE f.pk IN ({marks})", rowids.tolist())}
    return [
        {"Similarity": round(float(s), 5), "Face": face_from_row(faces[int(rid)])}
        for rid, s in zip(rowids, sims, strict=False)
        if s >= threshold and int(rid) in faces
    ]


def _user_matches(engine, conn, collection, query, query_count: int, threshold: float, limit: int, exclude_user_pk=None):
    index = engine.index_for(conn, collection)
    if index is None:
        return []
    pks, distances = index.user_distances(query, query_count)
    sims = np.atleast_1d(scale_for(collection.model_version).similarity(distances)) if len(pks) else np.zeros(0)
    hits = np.flatnonzero((sims >= threshold) & (pks != (exclude_user_pk or 0)))
    keep = hits[np.argsort(-sims[hits], kind="stable")][:limit].tolist()
    if not keep:
        return []
    marks = ",".join("?" * len(keep))
    names = dict(conn.execute(f"SELECT pk, user_id FROM users WHERE pk IN ({marks})", [int(pks[i]) for i in keep]))
    return [
        {"Similarity": round(float(sims[i]), 5), "User": {"UserId": names[int(pks[i])], "UserStatus": "ACTIVE"}}
        for i in keep
        if int(pks[i]) in names
    ]


def search_faces(engine, p: dict) -> dict:
    threshold = float(p.get("FaceMatchThreshold", DEFAULT_FACE_MATCH_THRESHOLD))
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        rowid, query = _face_row(conn, coll, p["FaceId"])
        matches = _face_matches(engine, conn, coll, query, threshold, p.get("MaxFaces", DEFAULT_MAX_FACES), rowid)
    return {"SearchedFaceId": p["FaceId"], "FaceMatches": matches, "FaceModelVersion": coll.model_version}


def search_users(engine, p: dict) -> dict:
    if ("FaceId" in p) == ("UserId" in p):
        raise InvalidParameterException("SearchUsers: give exactly one of FaceId or UserId")
    threshold = float(p.get("UserMatchThreshold", DEFAULT_USER_MATCH_THRESHOLD))
    limit = p.get("MaxUsers", DEFAULT_MAX_USERS)
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        response: dict = {"UserMatches": [], "FaceModelVersion": coll.model_version}
        if "FaceId" in p:
            _rowid, query = _face_row(conn, coll, p["FaceId"])
            response["UserMatches"] = _user_matches(engine, conn, coll, query, 1, threshold, limit)
            response["SearchedFace"] = {"FaceId": p["FaceId"]}
        else:
            user = get_user(conn, coll, p["UserId"])
            index = engine.index_for(conn, coll)
            mean, count = index.user_mean(user.pk) if index is not None else (None, 0)
            if count:
                response["UserMatches"] = _user_matches(engine, conn, coll, mean, count, threshold, limit, user.pk)
            response["SearchedUser"] = {"UserId": user.user_id}
    return response


def _analyse_for_search(engine, p: dict, default_filter: str):
    """(collection, analysis, searched face or None, [(face, reasons)] not searched)."""
    data = image_bytes(p)
    with engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
    analysis = engine.analyzer_for(coll).analyze(data)
    quality_filter = p.get("QualityFilter", default_filter)
    passing, unsearched = [], []
    for face in sorted(analysis.faces, key=face_area, reverse=True):
        reasons = quality_reasons(face, analysis.width, analysis.height, quality_filter)
        (unsearched.append((face, reasons)) if reasons else passing.append(face))
    searched = passing[0] if passing else None
    unsearched.extend((face, ["FACE_NOT_LARGEST"]) for face in passing[1:])
    return coll, searched, unsearched


def search_faces_by_image(engine, p: dict) -> dict:
    threshold = float(p.get("FaceMatchThreshold", DEFAULT_FACE_MATCH_THRESHOLD))
    coll, face, _unsearched = _analyse_for_search(engine, p, "NONE")
    if face is None:
        raise InvalidParameterException("There are no faces in the image. Should be at least 1.")
    with engine.lock, engine.store.read() as conn:
        coll = get_collection(conn, p["CollectionId"])
        matches = _face_matches(engine, conn, coll, face.descriptor, threshold, p.get("MaxFaces", DEFAULT_MAX_FACES))
    return {
        "SearchedFaceBoundingBox": dict(face.bounding_box),
        "SearchedFaceConfidence": float(face.confidence),
        "FaceMatches": matches,
        "FaceModelVersion": coll.model_version,
    }


def search_users_by_image(engine, p: dict) -> dict:
    threshold = float(p.get("UserMatchThreshold", DEFAULT_USER_MATCH_THRESHOLD))
    coll, face, unsearched = _analyse_for_search(engine, p, "AUTO")
    response: dict = {"UserMatches": [], "FaceModelVersion": coll.model_version}
    if face is not None:
        with engine.lock, engine.store.read() as conn:
            coll = get_collection(conn, p["CollectionId"])
            response["UserMatches"] = _user_matches(engine, conn, coll, face.descriptor, 1, threshold,
                                                    p.get("MaxUsers", DEFAULT_MAX_USERS))
        response["SearchedFace"] = {"FaceDetail": face.face_detail()}
    response["UnsearchedFaces"] = [{"FaceDetails": f.face_detail(), "Reasons": reasons} for f, reasons in unsearched]
    return response
