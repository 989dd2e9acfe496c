"""`rekurator enroll`: enroll a person from a camera, a video file or a stream.

    rekurator enroll --collection-id C --user-id U --camera 0|PATH|URL
        [--frames N] [--user-match-threshold T] [--max-seconds S]

Frames are read until N good and varied frames of the one face in view are kept (rules in
app/capture/frame_hints.py and frame_selection.py); what is wrong with the other frames
("too dark", "several faces — only one person please", ...) is written to stderr as it
changes. Then, in this order: a check whether the face already belongs to ANOTHER user
(SearchUsersByImage at the threshold; a warning on stderr, the run goes on), CreateUser when
the user does not exist, IndexFaces of the frames in one transaction, AssociateFaces of the new
faces with UserMatchThreshold T. Works on the local workspace only.

Output: the AssociateFaces response (AssociatedFaces, UnsuccessfulFaceAssociations,
UserStatus) with these members added:
    CollectionId, UserId
    UserCreated            true when this run created the user
    UserMatchThreshold     the threshold used
    IndexedFaces           the Face of each stored frame (FaceId, BoundingBox, ImageId,
                           ExternalImageId "enroll-<UserId>-<UTC time>-<n>", Confidence)
    RequestedFrameCount, CapturedFrameCount
    CaptureEnded           complete | end_of_stream | source_stopped | time_limit
    OtherUserMatches       only when the face matched other users: [{Similarity, User: {UserId}}]

Exit code: 0 when N frames were captured and enrolled; 1 when the source ended, stopped or
ran out of time first: the frames captured until then are enrolled (complete, as one
IndexFaces transaction) and the output says so, or, with none captured, nothing is written and
nothing is printed on stdout; 252 for bad options or a malformed --camera; 253 when the camera,
file or stream cannot be opened (or delivers no frame), or with a remote endpoint; 254 when the
engine answers with an error (unknown collection, bad UserId); 130 on Ctrl-C (during capture
nothing is written).
"""

from __future__ import annotations

import threading

from app.capture.enrollment import capture_frames, enroll, owner_check
from app.capture.errors import InvalidSourceError, SourceUnavailableError
from app.capture.frame_hints import FrameHint
from app.capture.frame_selection import DEFAULT_FRAMES
from app.capture.sources import source_for
from app.core.association_plan import DEFAULT_USER_MATCH_THRESHOLD
from app.core.validation import validate_request

from .exit_codes import PARTIAL_FAILURE, SUCCESS, ConfigurationError, ParamError
from .global_options import parse_command_args, raising_parser
from .render import render

LIVE_MAX_SECONDS = 60.0  # a camera or stream runs until this without --max-seconds; a file to its end


def _parser():
    parser = raising_parser(prog="rekurator enroll", description="Enroll a person from a camera, video file or stream.")
    parser.add_argument("--collection-id", required=True, metavar="<value>", help="The collection to enroll into.")
    parser.add_argument("--user-id", required=True, metavar="<value>", help="The user (created when it does not exist).")
    parser.add_argument("--camera", required=True, metavar="<0|path|url>",
                        help="Camera index (0, 1, ...), video file, or stream URL (rtsp://, http://, ...).")
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES, metavar="<value>",
                        help=f"Good, varied frames to enroll, 1-100 (default {DEFAULT_FRAMES}).")
    parser.add_argument("--user-match-threshold", type=float, default=DEFAULT_USER_MATCH_THRESHOLD, metavar="<value>",
                        help=f"UserMatchThreshold for AssociateFaces and the checks, 0-100 "
                             f"(default {DEFAULT_USER_MATCH_THRESHOLD:g}).")
    parser.add_argument("--max-seconds", type=float, metavar="<value>",
                        help=f"Stop capturing after this many seconds (default: {LIVE_MAX_SECONDS:g} for a camera or "
                             f"stream, the whole file for a video file).")
    parser.add_argument("--store-non-matching", action="store_true",
                        help="Store the frames even when an existing user would not take them (they are then indexed "
                             "but not associated). By default such frames are refused before anything is written.")
    parser.add_argument("-h", "--help", action="store_true", help="Show this help.")
    return parser


class _Progress:
    """Hints on stderr, written when they change (the analysis thread calls in for live sources)."""

    def __init__(self, stream, target: int):
        self.stream = stream
        self.target = target
        self.last: FrameHint | None = None
        self.lock = threading.Lock()

    def write(self, text: str) -> None:
        with self.lock:
            self.stream.write(f"enroll: {text}\n")
            self.stream.flush()

    def verdict(self, verdict) -> None:
        if verdict.accepted:
            self.write(f"[{verdict.kept}/{self.target}] captured frame {verdict.frame_index}")
            self.last = FrameHint.GOOD
        elif verdict.hint is not self.last and verdict.hint is not FrameHint.DONE:
            self.write(f"[{verdict.kept}/{self.target}] {verdict.text}")
            self.last = verdict.hint


def run_enroll(session, argv: list[str]) -> int:
    args = parse_command_args(_parser(), argv, session.stdout)
    if args is None:
        return SUCCESS
    if not 1 <= args.frames <= 100:
        raise ParamError("--frames", f"must be from 1 to 100 (AssociateFaces takes 100 faces), got {args.frames}")
    if not 0.0 <= args.user_match_threshold <= 100.0:
        raise ParamError("--user-match-threshold", f"must be within 0..100, got {args.user_match_threshold:g}")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise ParamError("--max-seconds", f"must be more than 0, got {args.max_seconds:g}")
    try:
        source = source_for(args.camera)
    except InvalidSourceError as exc:
        raise ParamError("--camera", str(exc)) from None

    engine = session.engine()
    collection_id, user_id, threshold = args.collection_id, args.user_id, args.user_match_threshold
    session.current_operation = "AssociateFaces"
    validate_request("AssociateFaces", {"CollectionId": collection_id, "UserId": user_id, "UserMatchThreshold": threshold,
                                        "FaceIds": ["00000000-0000-0000-0000-000000000000"]})
    session.call("DescribeCollection", {"CollectionId": collection_id})  # unknown collection: stop before the camera

    progress = _Progress(session.stderr, args.frames)
    max_seconds = args.max_seconds if args.max_seconds is not None else (LIVE_MAX_SECONDS if source.live else None)
    try:
        with source:
            size = source.frame_size
            progress.write(f"reading {source.description}" + (f" ({size[0]}x{size[1]})" if size else "")
                           + f"; {args.frames} good frame(s) of one face wanted")
            session.current_operation = "IndexFaces"
            analyzer = engine.analyzer_for_collection(collection_id)  # loads the face models on first use
            outcome = capture_frames(source, analyzer, args.frames, same_person_threshold=threshold,
                                     max_seconds=max_seconds, on_verdict=progress.verdict)
    except SourceUnavailableError as exc:
        raise ConfigurationError(str(exc)) from None
    progress.write(outcome.message())
    if not outcome.captured:
        progress.write("nothing was enrolled")
        return PARTIAL_FAILURE

    session.current_operation = "SearchUsersByImage"
    owner = owner_check(engine, collection_id, user_id, outcome.captured, threshold)
    if owner.known_elsewhere:
        progress.write(f"warning: {owner.message()}; enrolling {user_id} anyway")

    def on_step(operation: str) -> None:
        session.current_operation = operation
        session.debug.note(f"enroll: {operation}")

    # the engine's plan decides first: frames an existing user would not take are not stored unless asked
    result = enroll(engine, collection_id, user_id, outcome.captured, threshold, on_step=on_step,
                    only_matching=not args.store_non_matching)
    if result.user_created:
        progress.write(f"created user {user_id}")
    response = {
        **result.response(),
        "RequestedFrameCount": args.frames,
        "CapturedFrameCount": len(outcome.captured),
        "CaptureEnded": outcome.ended,
    }
    if owner.known_elsewhere:
        response["OtherUserMatches"] = [{"Similarity": m["Similarity"], "User": {"UserId": m["UserId"]}}
                                        for m in owner.matches]
    render("Enroll", response, session.output, session.stdout)
    return SUCCESS if outcome.complete else PARTIAL_FAILURE
