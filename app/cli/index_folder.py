"""`rekurator index-folder`: index every JPEG and PNG under a folder into a collection.

    rekurator index-folder --collection-id C --folder DIR [--recursive]
        [--external-image-id-from name|path|none] [--max-faces N] [--quality-filter F]

Files are chosen by extension (.jpg .jpeg .jpe .png, any case); hidden files and folders
(names starting with '.') are skipped, and so is every other file (counted in SkippedFiles).
With the local engine each file is analysed, then stored in batches of up to BATCH_SIZE images
per transaction; against a remote endpoint each file is one IndexFaces call. A file that cannot
be read or indexed is reported on stderr and in the summary, and the run goes on.

ExternalImageId: the file name (`name`, the default) or its path under the folder with '/'
written as ':' (`path`); characters the model does not allow become '_' and only the last 255
characters are kept. Re-running over the same folder stores nothing new (FaceIds are
deterministic per image, ExternalImageId and collection).

Exit code: 0 when every file was indexed (even with no face in it), 1 when some files failed
(the others are stored), 254 when the run could not start (unknown collection, bad MaxFaces),
253 when the folder cannot be read.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from app.core.errors import RekognitionError
from app.core.face_ops import AnalyzedImage, store_analyzed
from app.core.records import get_collection
from app.core.validation import validate_request

from .exit_codes import PARTIAL_FAILURE, SUCCESS, ConfigurationError
from .global_options import parse_command_args, raising_parser
from .model import input_shape
from .render import render

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png")
BATCH_SIZE = 16
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_.\-:]")


def _parser():
    parser = raising_parser(prog="rekurator index-folder",
                            description="Index every JPEG and PNG under a folder into a collection.")
    parser.add_argument("--collection-id", required=True, metavar="<value>", help="The collection to index into.")
    parser.add_argument("--folder", required=True, metavar="<path>", help="The folder holding the photos.")
    parser.add_argument("--recursive", action="store_true", help="Also index the photos in sub-folders.")
    parser.add_argument("--external-image-id-from", choices=("name", "path", "none"), default="name",
                        help="ExternalImageId from the file name (default), its path under the folder, or none.")
    parser.add_argument("--max-faces", type=int, metavar="<value>", help="MaxFaces for each image.")
    quality = input_shape("IndexFaces").members["QualityFilter"].enum
    parser.add_argument("--quality-filter", choices=quality, help="QualityFilter for each image (default AUTO).")
    parser.add_argument("-h", "--help", action="store_true", help="Show this help.")
    return parser


def image_files(folder: Path, recursive: bool) -> tuple[list[Path], int]:
    """(photos to index, sorted; how many other files were skipped)."""
    found, skipped = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(files):
            if name.startswith("."):
                continue
            if name.lower().endswith(IMAGE_SUFFIXES):
                found.append(Path(root) / name)
            else:
                skipped += 1
    return found, skipped


def external_image_id(path: Path, folder: Path, mode: str) -> str | None:
    if mode == "none":
        return None
    text = path.name if mode == "name" else ":".join(path.relative_to(folder).parts)
    return _NOT_ALLOWED.sub("_", text)[-255:]


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream, total: int):
        self.stream = stream
        self.total = total
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) and total > 0

    def show(self, done: int, faces: int, errors: int) -> None:
        if self.enabled:
            filled = int(30 * done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} files, "
                              f"{faces} faces, {errors} errors")
            self.stream.flush()

    def message(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self.enabled else "") + text + "\n")

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def run_index_folder(session, argv: list[str]) -> int:
    args = parse_command_args(_parser(), argv, session.stdout)
    if args is None:
        return SUCCESS
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise ConfigurationError(f"--folder {args.folder}: not a folder that can be read")
    common = {"CollectionId": args.collection_id}
    if args.max_faces is not None:
        common["MaxFaces"] = args.max_faces
    if args.quality_filter is not None:
        common["QualityFilter"] = args.quality_filter
    session.current_operation = "IndexFaces"
    validate_request("IndexFaces", {**common, "Image": {"Bytes": b"\0"}})  # bad options fail before any work
    session.call("DescribeCollection", {"CollectionId": args.collection_id})  # unknown collection: stop here

    files, skipped = image_files(folder, args.recursive)
    run = _Run(_Progress(session.stderr, len(files)))
    indexer = None  # made at the first readable file: an empty folder loads no face models
    for done, path in enumerate(files, 1):
        ext = external_image_id(path, folder, args.external_image_id_from)
        run.outcomes[path] = {"File": path.relative_to(folder).as_posix(), **({"ExternalImageId": ext} if ext else {})}
        try:
            data = path.read_bytes()
        except OSError as exc:
            run.fail(path, "FileReadError", exc.strerror or str(exc))
        else:
            if indexer is None:
                indexer = _RemoteIndexer(session, common) if session.remote else _LocalIndexer(session, common)
            run.settle(indexer.add(path, run.outcomes[path]["File"], ext, data))
        run.progress.show(done, run.faces, run.errors)
    if indexer is not None:
        run.settle(indexer.flush())
    run.progress.show(len(files), run.faces, run.errors)
    run.progress.finish()

    outcomes = [run.outcomes[p] for p in files]
    summary = {
        "CollectionId": args.collection_id,
        "Folder": str(folder.resolve()),
        "FileCount": len(files),
        "IndexedFileCount": len(files) - run.errors,
        "FailedFileCount": run.errors,
        "SkippedFileCount": skipped,
        "FacesIndexed": run.faces,
        "UnindexedFaces": sum(o.get("UnindexedFaceCount", 0) for o in outcomes),
        "Files": outcomes,
    }
    render("IndexFolder", summary, session.output, session.stdout)
    return PARTIAL_FAILURE if run.errors else SUCCESS


class _Run:
    """Per-file outcomes and running counts."""

    def __init__(self, progress: _Progress):
        self.progress = progress
        self.outcomes: dict[Path, dict] = {}
        self.faces = 0
        self.errors = 0

    def fail(self, path: Path, code: str, message: str) -> None:
        outcome = self.outcomes[path]
        outcome["Error"] = {"Code": code, "Message": message}
        self.errors += 1
        self.progress.message(f"error: {outcome['File']}: {code}: {message}")

    def settle(self, finished: list) -> None:
        for path, result in finished:
            if isinstance(result, RekognitionError):
                self.fail(path, result.code, result.message)
                continue
            outcome = self.outcomes[path]
            records = result.get("FaceRecords", [])
            if records and records[0]["Face"].get("ImageId"):
                outcome["ImageId"] = records[0]["Face"]["ImageId"]
            outcome["FaceIds"] = [r["Face"]["FaceId"] for r in records]
            outcome["UnindexedFaceCount"] = len(result.get("UnindexedFaces", []))
            self.faces += len(records)


class _RemoteIndexer:
    """One IndexFaces call per file."""

    def __init__(self, session, common: dict):
        self.session = session
        self.common = common

    def add(self, path, rel, ext, data):
        request = {**self.common, "Image": {"Bytes": data}, **({"ExternalImageId": ext} if ext else {})}
        try:
            return [(path, self.session.call("IndexFaces", request))]
        except RekognitionError as exc:
            return [(path, exc)]

    def flush(self):
        return []


class _LocalIndexer:
    """Analyse each file as it comes; store the analysed images in batches, one transaction each."""

    def __init__(self, session, common: dict):
        self.session = session
        self.common = common
        self.engine = session.engine()
        with self.engine.store.read() as conn:
            collection = get_collection(conn, common["CollectionId"])
        self.analyzer = self.engine.analyzer_for(collection)
        self.pending: list = []

    def add(self, path, rel, ext, data):
        request = {**self.common, "Image": {"Bytes": data}, **({"ExternalImageId": ext} if ext else {})}
        try:
            validate_request("IndexFaces", request)
            analysis = self.analyzer.analyze(data)
        except RekognitionError as exc:
            return [(path, exc)]
        digest = hashlib.sha256(data).hexdigest()
        # what the journal keeps of this request: the image by digest and size, and where it came from
        journal_request = {**request, "Image": {"Bytes": {"Sha256": digest, "Size": len(data)}}, "SourceFile": rel}
        self.pending.append((path, AnalyzedImage(digest, ext, analysis, journal_request)))
        return self.flush() if len(self.pending) >= BATCH_SIZE else []

    def flush(self):
        batch, self.pending = self.pending, []
        if not batch:
            return []
        quality, max_faces = self.common.get("QualityFilter", "AUTO"), self.common.get("MaxFaces")
        collection = self.common["CollectionId"]
        self.session.debug.note(f"Storing {len(batch)} analysed image(s) in one transaction")
        try:
            responses = store_analyzed(self.engine, collection, [item for _p, item in batch], quality, max_faces)
            return [(path, response) for (path, _item), response in zip(batch, responses, strict=False)]
        except RekognitionError:
            pass
        out = []  # one image spoilt the batch: store them one by one to tell which
        for path, item in batch:
            try:
                out.append((path, store_analyzed(self.engine, collection, [item], quality, max_faces)[0]))
            except RekognitionError as exc:
                out.append((path, exc))
        return out
