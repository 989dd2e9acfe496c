"""Importing photos into a collection: the window's Import and `rekurator index-folder`.

On a backend that analyses images in this process (the local engine) each photo is read and
analysed here, then stored with `store_analyzed` in batches of `batch_size` images, one
transaction each; when a batch is refused (one image spoils it) its images are stored one by one
to tell which. A cancelled or failed import keeps every batch stored before it; a cancel stores
what was analysed so far. On a backend without local analysis (a remote endpoint) each photo's
bytes go out in one IndexFaces request, and the endpoint analyses them.

What one file gets wrong is that file's result and the import goes on: a file that cannot be
read (Code FileReadError), an image the analyzer cannot use, an IndexFaces refusal. What is wrong
with the whole import ends it before anything is stored: an unknown collection, bad options, a
collection of another face model than the loaded analyzer. Other errors while storing (the disk,
the connection) end it too; the batches stored before stay.

Hooks, all optional and called in the importing thread: `on_progress(done, total, text)` before
each file (files handled so far, the file's name) and at the end; `should_cancel()` before each
file; `on_result(FileResult)` as each file's outcome becomes known (after its batch is stored);
`note(text)` for debug lines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core.capabilities import LOCAL_ANALYSIS, capabilities_of
from app.core.errors import RekognitionError
from app.core.face_ops import AnalyzedImage
from app.core.validation import validate_request

from .photo_files import PhotoFile, external_image_id

BATCH_SIZE = 16  # analysed images stored per transaction
FILE_READ_ERROR = "FileReadError"


@dataclass
class FileResult:
    photo: PhotoFile
    external_image_id: str | None
    face_ids: list[str] = field(default_factory=list)  # faces indexed (or found indexed before)
    unindexed: list[list[str]] = field(default_factory=list)  # per face not indexed: its reasons
    image_id: str | None = None
    error_code: str | None = None  # why the file was not imported: an error code ...
    error_message: str | None = None  # ... and the message, in plain words

    @property
    def path(self) -> str:
        return str(self.photo.path)

    @property
    def indexed(self) -> int:
        return len(self.face_ids)

    @property
    def error(self) -> str | None:
        return f"{self.error_code}: {self.error_message}" if self.error_code else None

    def fail(self, code: str, message: str) -> None:
        self.error_code, self.error_message = code, message

    def settle(self, response: dict) -> None:
        """Take the outcome from the file's IndexFaces response."""
        records = response.get("FaceRecords", [])
        self.face_ids = [r["Face"]["FaceId"] for r in records]
        self.image_id = records[0]["Face"].get("ImageId") if records else None
        self.unindexed = [list(u.get("Reasons", [])) for u in response.get("UnindexedFaces", [])]


@dataclass
class ImportOutcome:
    collection_id: str
    results: list[FileResult]  # one per file handled, in order
    total: int  # files to import
    cancelled: bool = False  # stopped early: the files handled so far stay imported

    @property
    def face_ids(self) -> list[str]:
        return [f for r in self.results for f in r.face_ids]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.error_code]


@dataclass(frozen=True)
class ImportOptions:
    quality_filter: str | None = None  # IndexFaces QualityFilter; None: not sent (the service's AUTO)
    max_faces: int | None = None  # IndexFaces MaxFaces; None: not sent
    id_source: str = "name"  # ExternalImageId from the file's name, its path, or none (photo_files)
    # check each request as IndexFaces would, image size included (at most 5 MB, ImageTooLargeException);
    # without it, photos analysed here may be of any size
    check_requests: bool = False
    batch_size: int = BATCH_SIZE


@dataclass
class ImportHooks:
    on_progress: Callable[[int, int, str], None] | None = None
    should_cancel: Callable[[], bool] | None = None
    on_result: Callable[[FileResult], None] | None = None
    note: Callable[[str], None] | None = None


def import_photos(backend: Any, collection_id: str, photos: Sequence[PhotoFile], options: ImportOptions | None = None,
                  hooks: ImportHooks | None = None, *, call: Callable[[str, dict], dict] | None = None,
                  analyse_locally: bool | None = None) -> ImportOutcome:
    """Import `photos` into the collection (see the module notes).

    `call(operation, request)` sends DescribeCollection and IndexFaces (the backend's `call`
    unless given); `analyse_locally` defaults to whether the backend has LOCAL_ANALYSIS.
    """
    local = LOCAL_ANALYSIS in capabilities_of(backend) if analyse_locally is None else analyse_locally
    importer = _Importer(backend, collection_id, options or ImportOptions(), hooks or ImportHooks(),
                         call or backend.call, local)
    return importer.run(list(photos))


class _Importer:
    def __init__(self, backend: Any, collection_id: str, options: ImportOptions, hooks: ImportHooks,
                 call: Callable[[str, dict], dict], local: bool):
        self.backend = backend
        self.options = options
        self.hooks = hooks
        self.call = call
        self.local = local
        common: dict[str, Any] = {"CollectionId": collection_id}
        if options.max_faces is not None:
            common["MaxFaces"] = options.max_faces
        if options.quality_filter is not None:
            common["QualityFilter"] = options.quality_filter
        self.common = common  # the members every IndexFaces request of this import carries
        self.pending: list[tuple[FileResult, AnalyzedImage]] = []  # analysed, not stored yet
        self.analyzer: Any = None

    def run(self, photos: list[PhotoFile]) -> ImportOutcome:
        hooks, total = self.hooks, len(photos)
        collection_id = self.common["CollectionId"]
        validate_request("IndexFaces", {**self.common, "Image": {"Bytes": b"\0"}})  # bad options: before any work
        self.call("DescribeCollection", {"CollectionId": collection_id})  # an unknown collection: stop here
        if self.local:
            self._progress(0, total, "Loading the face models")
            # models load here on first use; a collection of another model is refused before any file is read
            self.analyzer = self.backend.analyzer_for_collection(collection_id)
        outcome = ImportOutcome(collection_id, [], total)
        for n, photo in enumerate(photos):
            if hooks.should_cancel is not None and hooks.should_cancel():
                outcome.cancelled = True
                break
            self._progress(n, total, photo.path.name)
            result = FileResult(photo, external_image_id(photo.relative, self.options.id_source))
            outcome.results.append(result)
            self._import(result)
        self._flush()
        if not outcome.cancelled:
            self._progress(total, total, "Done")
        return outcome

    def _progress(self, done: int, total: int, text: str) -> None:
        if self.hooks.on_progress is not None:
            self.hooks.on_progress(done, total, text)

    def _finish(self, result: FileResult) -> None:
        if self.hooks.on_result is not None:
            self.hooks.on_result(result)

    def _request(self, result: FileResult, data: bytes) -> dict:
        ext = result.external_image_id
        return {**self.common, "Image": {"Bytes": data}, **({"ExternalImageId": ext} if ext else {})}

    def _import(self, result: FileResult) -> None:
        try:
            data = result.photo.path.read_bytes()
        except OSError as exc:
            result.fail(FILE_READ_ERROR, exc.strerror or str(exc))
            self._finish(result)
            return
        request = self._request(result, data)
        if not self.local:
            try:
                result.settle(self.call("IndexFaces", request))
            except RekognitionError as exc:
                result.fail(exc.code, exc.message)
            self._finish(result)
            return
        try:
            if self.options.check_requests:
                validate_request("IndexFaces", request)
            analysis = self.analyzer.analyze(data)
        except Exception as exc:  # noqa: BLE001 - one photo the analyzer cannot use must not end the import
            result.fail(*_code_and_message(exc))
            self._finish(result)
            return
        digest = hashlib.sha256(data).hexdigest()
        # what the journal keeps of this request: the image by digest and size, and where it came from
        journaled = {**request, "Image": {"Bytes": {"Sha256": digest, "Size": len(data)}},
                     "SourceFile": result.photo.relative.as_posix()}
        self.pending.append((result, AnalyzedImage(digest, result.external_image_id, analysis, journaled)))
        if len(self.pending) >= self.options.batch_size:
            self._flush()

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        quality = self.options.quality_filter or "AUTO"
        collection_id = self.common["CollectionId"]
        if self.hooks.note is not None:
            self.hooks.note(f"Storing {len(batch)} analysed image(s) in one transaction")
        try:
            responses = self.backend.store_analyzed(collection_id, [item for _r, item in batch], quality,
                                                    self.options.max_faces)
        except RekognitionError:
            responses = None
        if responses is not None:
            for (result, _item), response in zip(batch, responses, strict=True):
                result.settle(response)
                self._finish(result)
            return
        for result, item in batch:  # one image spoilt the batch: store them one by one to tell which
            try:
                result.settle(self.backend.store_analyzed(collection_id, [item], quality, self.options.max_faces)[0])
            except RekognitionError as exc:
                result.fail(exc.code, exc.message)
            self._finish(result)


def _code_and_message(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, RekognitionError):
        return exc.code, exc.message
    return type(exc).__name__, str(exc)
