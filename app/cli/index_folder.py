"""`rekurator index-folder`: index every JPEG and PNG under a folder into a collection.

    rekurator index-folder --collection-id C --folder DIR [--recursive]
        [--external-image-id-from name|path|none] [--max-faces N] [--quality-filter F]

The photo importer of app.workflows does the work, as for the window's Import: files are chosen
by extension (.jpg .jpeg .jpe .png, any case); hidden files and folders (names starting with '.')
are skipped, and so is every other file (counted in SkippedFiles). With the local engine each file
is analysed, then stored in batches of up to 16 images per transaction; against a remote
endpoint each file is one IndexFaces call. A file that cannot be read or indexed is reported on
stderr and in the summary, and the run goes on. Each request is checked as IndexFaces checks it
(an image over 5 MB is refused, ImageTooLargeException).

ExternalImageId: the file name (`name`, the default) or its path under the folder with '/'
written as ':' (`path`); characters the model does not allow become '_' and only the last 255
characters are kept. Re-running over the same folder stores nothing new (FaceIds are
deterministic per image, ExternalImageId and collection).

Exit code: 0 when every file was indexed (even with no face in it), 1 when some files failed
(the others are stored), 254 when the run could not start (unknown collection, bad MaxFaces),
253 when the folder cannot be read.
"""

from __future__ import annotations

from pathlib import Path

from app.workflows.photo_files import find_photos
from app.workflows.photo_import import FileResult, ImportHooks, ImportOptions, import_photos

from .exit_codes import PARTIAL_FAILURE, SUCCESS, ConfigurationError
from .global_options import parse_command_args, raising_parser
from .model import input_shape
from .render import render


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
    options = ImportOptions(quality_filter=args.quality_filter, max_faces=args.max_faces,
                            id_source=args.external_image_id_from, check_requests=True)
    found = find_photos([folder], recursive=args.recursive)
    run = _Run(_Progress(session.stderr, len(found.photos)))
    hooks = ImportHooks(on_progress=run.progressed, on_result=run.settle, note=session.debug.note)
    session.current_operation = "IndexFaces"  # what an error before any file names (bad options)
    backend = session.backend()
    outcome = import_photos(backend, args.collection_id, found.photos, options, hooks, call=session.call,
                            analyse_locally=not session.remote)
    run.progress.finish()

    files = [_file_summary(r) for r in outcome.results]
    summary = {
        "CollectionId": args.collection_id,
        "Folder": str(folder.resolve()),
        "FileCount": outcome.total,
        "IndexedFileCount": outcome.total - run.errors,
        "FailedFileCount": run.errors,
        "SkippedFileCount": found.skipped,
        "FacesIndexed": run.faces,
        "UnindexedFaces": sum(len(r.unindexed) for r in outcome.results),
        "Files": files,
    }
    render("IndexFolder", summary, session.output, session.stdout)
    return PARTIAL_FAILURE if run.errors else SUCCESS


def _file_summary(result: FileResult) -> dict:
    ext = result.external_image_id
    out: dict = {"File": result.photo.relative.as_posix(), **({"ExternalImageId": ext} if ext else {})}
    if result.error_code:
        out["Error"] = {"Code": result.error_code, "Message": result.error_message}
        return out
    if result.image_id:
        out["ImageId"] = result.image_id
    out["FaceIds"] = list(result.face_ids)
    out["UnindexedFaceCount"] = len(result.unindexed)
    return out


class _Run:
    """Running counts for the progress bar, and an error line per file that failed."""

    def __init__(self, progress: _Progress):
        self.progress = progress
        self.faces = 0
        self.errors = 0

    def progressed(self, done: int, _total: int, _text: str) -> None:
        self.progress.show(done, self.faces, self.errors)

    def settle(self, result: FileResult) -> None:
        if result.error_code:
            self.errors += 1
            self.progress.message(f"error: {result.photo.relative.as_posix()}: {result.error_code}: {result.error_message}")
        else:
            self.faces += len(result.face_ids)
