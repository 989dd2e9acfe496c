"""Importing photos into a collection: analyse each file, store its faces (no Qt here).

Each file is stored in its own transaction as soon as it is analysed, so a cancelled or failed
import keeps what it finished and the progress shown is real. A backend that cannot take faces
analysed here (a remote endpoint) gets each photo's bytes with IndexFaces and analyses it itself.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.core.capabilities import LOCAL_ANALYSIS, capabilities_of
from app.core.errors import ImageTooLargeException, InvalidImageFormatException, InvalidParameterException, RekognitionError
from app.core.face_ops import AnalyzedImage

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_.\-:]")  # ExternalImageId pattern (service model)


@dataclass
class FileResult:
    path: str
    face_ids: list[str] = field(default_factory=list)  # faces indexed (or found indexed before)
    unindexed: list[list[str]] = field(default_factory=list)  # per face not indexed: its reasons
    error: str | None = None  # why the file could not be read, in plain words

    @property
    def indexed(self) -> int:
        return len(self.face_ids)


def external_image_id_for(path: Path) -> str:
    """The file name made to fit ExternalImageId: disallowed characters become '_', at most 255."""
    name = _NOT_ALLOWED.sub("_", path.name) or "photo"
    return name[-255:]


def list_photos(paths) -> list[Path]:
    """The photo files named, with folders searched recursively, in a stable order, each once."""
    found: dict[Path, None] = {}
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in PHOTO_SUFFIXES:
                    found[f] = None
        elif p.is_file():
            found[p] = None
        else:
            raise InvalidParameterException(f"No such file or folder: {p}")
    return list(found)


@dataclass
class ImportOutcome:
    collection_id: str
    results: list[FileResult]  # one per file handled, in order
    total: int  # files found
    cancelled: bool = False  # stopped early: the files handled so far stay imported

    @property
    def face_ids(self) -> list[str]:
        return [f for r in self.results for f in r.face_ids]


def import_photos(engine, collection_id: str, paths, worker=None, quality_filter: str = "AUTO",
                  max_faces: int | None = None) -> ImportOutcome:
    files = list_photos(paths)
    if LOCAL_ANALYSIS not in capabilities_of(engine):
        return _send_photos(engine, collection_id, files, worker, quality_filter, max_faces)
    model = engine.describe_collection(CollectionId=collection_id)["FaceModelVersion"]
    if worker is not None:
        worker.report(0, len(files), "Loading the face models")
    analyzer = engine.analyzer  # built here on first use: loading the models takes a while
    if analyzer.model_version != model:
        raise InvalidParameterException(
            f"Collection {collection_id} holds faces of model {model}, but the loaded analyzer is "
            f"{analyzer.model_version}; faces from different models are never compared")
    outcome = ImportOutcome(collection_id, [], len(files))
    results = outcome.results
    for n, path in enumerate(files):
        if worker is not None:
            if worker.is_cancelled:
                outcome.cancelled = True
                break
            worker.report(n, len(files), path.name)
        result = FileResult(str(path))
        results.append(result)
        try:
            data = path.read_bytes()
            analysis = analyzer.analyze(data)
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not end the import; it is listed
            result.error = f"{exc.code}: {exc}" if isinstance(exc, RekognitionError) else f"{type(exc).__name__}: {exc}"
            continue
        item = AnalyzedImage(hashlib.sha256(data).hexdigest(), external_image_id_for(path), analysis)
        response = engine.store_analyzed(collection_id, [item], quality_filter, max_faces)[0]
        result.face_ids = [r["Face"]["FaceId"] for r in response["FaceRecords"]]
        result.unindexed = [list(u["Reasons"]) for u in response["UnindexedFaces"]]
    if worker is not None and not outcome.cancelled:
        worker.report(len(files), len(files), "Done")
    return outcome


# what one photo can get wrong: listed against the file, the import goes on
_PHOTO_ERRORS = (InvalidImageFormatException, ImageTooLargeException, InvalidParameterException)


def _send_photos(engine, collection_id: str, files: list[Path], worker, quality_filter: str,
                 max_faces: int | None) -> ImportOutcome:
    """IndexFaces with each photo's bytes: the endpoint analyses them (one request per photo)."""
    engine.describe_collection(CollectionId=collection_id)  # a missing collection ends the import at once
    outcome = ImportOutcome(collection_id, [], len(files))
    options = {"QualityFilter": quality_filter, **({"MaxFaces": max_faces} if max_faces is not None else {})}
    for n, path in enumerate(files):
        if worker is not None:
            if worker.is_cancelled:
                outcome.cancelled = True
                break
            worker.report(n, len(files), path.name)
        result = FileResult(str(path))
        outcome.results.append(result)
        try:
            response = engine.index_faces(CollectionId=collection_id, Image={"Bytes": path.read_bytes()},
                                          ExternalImageId=external_image_id_for(path), **options)
        except OSError as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            continue
        except _PHOTO_ERRORS as exc:
            result.error = f"{exc.code}: {exc}"
            continue
        result.face_ids = [r["Face"]["FaceId"] for r in response["FaceRecords"]]
        result.unindexed = [list(u["Reasons"]) for u in response["UnindexedFaces"]]
    if worker is not None and not outcome.cancelled:
        worker.report(len(files), len(files), "Done")
    return outcome
