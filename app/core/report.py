"""JSON reports of what was done, built from the operations journal.

The document is versioned (REPORT_VERSION) and described by resources/report.schema.json.
Each operation keeps its request and response as the engine saw them; per-face outcomes are
flattened out of association responses, and a summary counts outcomes per user.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict

import app

REPORT_VERSION = "1.1"
# the schema file (under resources/) each report version is checked against
SCHEMA_FILES = {"1.0": "report-1.0.schema.json", "1.1": "report.schema.json"}
# the operations that put faces on a user with AssociateFaces' response shape
_ASSOCIATING = ("AssociateFaces", "MoveFaces", "MergeUsers", "SplitUser", "NameGroup")


def purpose(operation: str, request: dict) -> str:
    """EDIT for a decision; UNDO or REDO for the window taking back or re-applying one (ApplyChangeSet)."""
    return request.get("Purpose", "EDIT") if operation == "ApplyChangeSet" else "EDIT"


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="milliseconds")


def face_outcomes(operation: str, request: dict, response: dict) -> list[dict]:
    """One entry per face the operation reported on, with outcome, reasons and confidence."""
    user = request.get("UserId")
    out: list[dict] = []
    if operation in ("SplitUser",):
        user = request.get("NewUserId")
    if operation == "NameGroup":  # the UserId may have been proposed from the DisplayName
        user = response.get("UserId", user)
    if operation in _ASSOCIATING:
        moved = {f["FaceId"]: f["FromUserId"] for f in response.get("MovedFaces", [])}
        for f in response.get("AssociatedFaces", []):
            entry = {"FaceId": f["FaceId"], "UserId": user, "Outcome": "MOVED" if f["FaceId"] in moved else "ASSOCIATED"}
            if f["FaceId"] in moved:
                entry["OwnerUserId"] = moved[f["FaceId"]]
            out.append(entry)
        for f in response.get("UnsuccessfulFaceAssociations", []):
            entry = {"FaceId": f["FaceId"], "UserId": user, "Outcome": "NOT_ASSOCIATED", "Reasons": list(f.get("Reasons", []))}
            if "Confidence" in f:
                entry["Confidence"] = f["Confidence"]
            if f.get("UserId") and f.get("UserId") != user:
                entry["OwnerUserId"] = f["UserId"]
            out.append(entry)
    elif operation == "ApplyChangeSet":
        for c in response.get("ChangeSet", {}).get("FaceChanges", []):
            to_user, from_user = c.get("ToUserId"), c.get("FromUserId")
            if to_user and from_user:
                out.append({"FaceId": c["FaceId"], "UserId": to_user, "Outcome": "MOVED", "OwnerUserId": from_user})
            elif to_user:
                out.append({"FaceId": c["FaceId"], "UserId": to_user, "Outcome": "ASSOCIATED"})
            elif from_user:
                out.append({"FaceId": c["FaceId"], "UserId": from_user, "Outcome": "DISASSOCIATED"})
    elif operation == "DisassociateFaces":
        out += [{"FaceId": f["FaceId"], "UserId": user, "Outcome": "DISASSOCIATED"}
                for f in response.get("DisassociatedFaces", [])]
        out += [{"FaceId": f["FaceId"], "UserId": user, "Outcome": "NOT_DISASSOCIATED", "Reasons": list(f.get("Reasons", []))}
                for f in response.get("UnsuccessfulFaceDisassociations", [])]
    elif operation == "DeleteUser":
        out += [{"FaceId": fid, "UserId": user, "Outcome": "DISASSOCIATED"} for fid in response.get("DisassociatedFaceIds", [])]
    elif operation == "IndexFaces":
        out += [{"FaceId": r["Face"]["FaceId"], "Outcome": "INDEXED"} for r in response.get("FaceRecords", [])]
    elif operation == "DeleteFaces":
        out += [{"FaceId": fid, "Outcome": "DELETED"} for fid in response.get("DeletedFaces", [])]
        out += [{"FaceId": f["FaceId"], "Outcome": "NOT_DELETED", "Reasons": list(f.get("Reasons", []))}
                for f in response.get("UnsuccessfulFaceDeletions", [])]
    return out


def build_report(entries: list[dict], workspace: str, scope: dict | None = None, generated_at: float | None = None) -> dict:
    """The report document for journal `entries` (as Engine.journal_entries returns them);
    GeneratedAt is `generated_at` (seconds since the epoch), or now."""
    operations = []
    per_user: dict[str, Counter] = defaultdict(Counter)
    reasons: dict[str, Counter] = defaultdict(Counter)
    for e in entries:
        outcomes = face_outcomes(e["Operation"], e["Request"], e["Response"])
        op = {
            "Seq": e["Seq"],
            "Time": _iso(e["Time"]),
            "Operation": e["Operation"],
            "Purpose": purpose(e["Operation"], e["Request"]),
            "CollectionId": e["CollectionId"],
            "FaceModelVersion": e["FaceModelVersion"],
            "Request": e["Request"],
            "Response": e["Response"],
            "FaceOutcomes": outcomes,
        }
        if "UserMatchThreshold" in e["Request"]:
            op["UserMatchThreshold"] = e["Request"]["UserMatchThreshold"]
        operations.append(op)
        for o in outcomes:
            if o.get("UserId"):
                key = f"{e['CollectionId']}/{o['UserId']}"
                per_user[key][o["Outcome"]] += 1
                for r in o.get("Reasons", []):
                    reasons[key][r] += 1
    users = {
        key: {"CollectionId": key.split("/", 1)[0], "UserId": key.split("/", 1)[1], "Outcomes": dict(counts),
              "Reasons": dict(reasons[key])}
        for key, counts in sorted(per_user.items())
    }
    return {
        "ReportVersion": REPORT_VERSION,
        "Generator": f"rekurator {app.__version__}",
        "GeneratedAt": _iso(datetime.datetime.now(datetime.UTC).timestamp() if generated_at is None else generated_at),
        "Workspace": str(workspace),
        "Scope": dict(scope or {}),
        "Operations": operations,
        "Summary": {
            "OperationCounts": dict(Counter(e["Operation"] for e in entries)),
            "Users": list(users.values()),
        },
    }
