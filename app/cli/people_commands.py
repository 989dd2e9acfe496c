"""The people-and-groups commands (extensions of ours, not `aws rekognition` commands).

    rekurator cluster-faces --collection-id C [--min-group-size N] [--group-threshold S]
        [--algorithm CHINESE_WHISPERS|DBSCAN] [--recompute]
    rekurator suggest-faces --collection-id C --user-id U [--max-faces N] [--user-match-threshold S]
    rekurator name-group --collection-id C --group-id G [--user-id U] [--display-name NAME]
        [--user-match-threshold S] [--client-request-token T]
    rekurator merge-users --collection-id C --user-id TARGET --source-user-ids U [U ...]
        [--user-match-threshold S] [--client-request-token T]
    rekurator split-user --collection-id C --user-id U --face-ids F [F ...] --new-user-id NEW
        [--client-request-token T]

Each prints the engine's response like any other command (--output json|text|table|yaml, --query).
cluster-faces, suggest-faces and name-group need a local workspace (the API returns no face
descriptors); merge-users and split-user also run against a remote endpoint, as AWS calls
(app.remote.remote_curation).
"""

from __future__ import annotations

from collections.abc import Callable

from .exit_codes import SUCCESS
from .global_options import parse_command_args, raising_parser
from .render import render

# command -> (operation, description, whether a remote endpoint can run it)
PEOPLE_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "cluster-faces": ("ClusterFaces", "Group the faces that belong to no user into anonymous people.", False),
    "suggest-faces": ("SuggestFaces", "Unassigned faces a user most likely owns, best first.", False),
    "name-group": ("NameGroup", "Give a group's most representative faces to a person (created if new).", False),
    "merge-users": ("MergeUsers", "Move every face of the source users onto the target user.", True),
    "split-user": ("SplitUser", "Move chosen faces of a user onto a new user.", True),
}


def _common(parser) -> None:
    parser.add_argument("--collection-id", required=True, metavar="<value>", help="The collection.")


def _threshold(parser, text: str) -> None:
    parser.add_argument("--user-match-threshold", type=float, metavar="<value>", help=text)


def _token(parser) -> None:
    parser.add_argument("--client-request-token", metavar="<value>", help="Idempotency token (as the AWS writes).")


def _cluster(parser) -> None:
    parser.add_argument("--min-group-size", type=int, metavar="<n>", help="Smallest group listed (default 2).")
    parser.add_argument("--group-threshold", type=float, metavar="<value>",
                        help="Calibrated similarity two faces need to be linked (default 88).")
    parser.add_argument("--algorithm", choices=("CHINESE_WHISPERS", "DBSCAN"), help="Default CHINESE_WHISPERS.")
    parser.add_argument("--recompute", action="store_true", help="Regroup every face instead of placing new ones.")


def _suggest(parser) -> None:
    parser.add_argument("--user-id", required=True, metavar="<value>", help="The user.")
    parser.add_argument("--max-faces", type=int, metavar="<n>", help="How many suggestions (default 20).")
    _threshold(parser, "Lowest score suggested (default 50).")


def _name(parser) -> None:
    parser.add_argument("--group-id", required=True, metavar="<value>", help="A GroupId from cluster-faces.")
    parser.add_argument("--user-id", metavar="<value>", help="The user (created when it does not exist).")
    parser.add_argument("--display-name", metavar="<value>", help="The person's name (proposes the UserId if none).")
    _threshold(parser, "Match threshold against an existing user's faces (default 75).")
    _token(parser)


def _merge(parser) -> None:
    parser.add_argument("--user-id", required=True, metavar="<value>", help="The user that stays.")
    parser.add_argument("--source-user-ids", required=True, nargs="+", metavar="<value>", help="The users merged in.")
    _threshold(parser, "Match threshold (default: none, merging is the curator's decision).")
    _token(parser)


def _split(parser) -> None:
    parser.add_argument("--user-id", required=True, metavar="<value>", help="The user the faces leave.")
    parser.add_argument("--face-ids", required=True, nargs="+", metavar="<value>", help="The faces to move.")
    parser.add_argument("--new-user-id", required=True, metavar="<value>", help="The new user (created here).")
    _token(parser)


_OPTIONS: dict[str, Callable] = {"cluster-faces": _cluster, "suggest-faces": _suggest, "name-group": _name,
                                 "merge-users": _merge, "split-user": _split}

# option dest -> request member
_MEMBERS = {"collection_id": "CollectionId", "min_group_size": "MinGroupSize", "group_threshold": "GroupThreshold",
            "algorithm": "Algorithm", "recompute": "Recompute", "user_id": "UserId", "max_faces": "MaxFaces",
            "user_match_threshold": "UserMatchThreshold", "group_id": "GroupId", "display_name": "DisplayName",
            "client_request_token": "ClientRequestToken", "source_user_ids": "SourceUserIds", "face_ids": "FaceIds",
            "new_user_id": "NewUserId"}


def _parser(command: str):
    operation, description, _remote = PEOPLE_COMMANDS[command]
    parser = raising_parser(prog=f"rekurator {command}", description=f"{description} ({operation}, an extension of ours)")
    _common(parser)
    _OPTIONS[command](parser)
    parser.add_argument("-h", "--help", action="store_true", help="Show this help.")
    return parser


def run_people_command(session, command: str, argv: list[str]) -> int:
    args = parse_command_args(_parser(command), argv, session.stdout)
    if args is None:
        return SUCCESS
    operation, _description, remote_ok = PEOPLE_COMMANDS[command]
    params = {member: getattr(args, dest) for dest, member in _MEMBERS.items()
              if getattr(args, dest, None) not in (None, False)}
    session.current_operation = operation
    backend = session.backend() if remote_ok else session.engine()
    render(operation, backend.call(operation, params), session.output, session.stdout)
    return SUCCESS
