"""The curator's words for what the engine answered: counts, outcomes and reasons (no Qt here).

The preview, the Results panel and the search results all word faces the same way, from here:
"belongs to angelina", "looks like someone else: 17 < 75", "angelina is full: 100 faces". The
API codes (ASSOCIATED_TO_A_DIFFERENT_USER, LOW_MATCH_CONFIDENCE, ...) stay in tooltips, where
someone comparing with the AWS documentation finds them.
"""

from __future__ import annotations

from collections.abc import Iterable

FACE_LIMIT = 100


def count(n: int, word: str, plural: str | None = None) -> str:
    """ "1 face", "2 faces", "0 faces" (never "face(s)")."""
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def number(x: float) -> str:
    """A confidence or threshold as a curator reads it: 75, 17.4 (no trailing .0)."""
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def compare(confidence: float, threshold: float) -> str:
    """ "82 ≥ 75" or "17 < 75"."""
    return f"{number(confidence)} {'≥' if confidence >= threshold else '<'} {number(threshold)}"


def reason(code: str, *, user_id: str = "", owner: str | None = None, confidence: float | None = None,
           threshold: float | None = None, face_limit: int = FACE_LIMIT) -> str:
    """One API reason code in plain words."""
    if code == "ASSOCIATED_TO_A_DIFFERENT_USER":
        return f"belongs to {owner}" if owner else "belongs to another user"
    if code == "LOW_MATCH_CONFIDENCE":
        if confidence is not None and threshold is not None:
            return f"looks like someone else: {compare(confidence, threshold)}"
        return "looks like someone else"
    if code == "USER_FACE_LIMIT_EXCEEDED":
        return f"{user_id or 'user'} is full: {face_limit} faces"
    if code == "FACE_NOT_FOUND":
        return "no longer in the collection"
    if code == "USER_NOT_FOUND":
        return "the user no longer exists"
    return code.replace("_", " ").lower()


def reasons(codes: Iterable[str], **context) -> str:
    return "; ".join(reason(c, **context) for c in codes)


def codes_tooltip(codes: Iterable[str]) -> str:
    codes = list(codes)
    return f"API reason: {', '.join(codes)}" if codes else ""


# Results panel outcomes (what the engine did), in plain words
OUTCOMES = {
    "ASSOCIATED": "Associated",
    "MOVED": "Moved here",
    "NOT_ASSOCIATED": "Not associated",
    "DISASSOCIATED": "Taken off the user",
    "NOT_DISASSOCIATED": "Not taken off",
    "MARKED_NOT_THIS_PERSON": "Marked “not this person”",
    "DELETED": "Deleted",
    "NOT_DELETED": "Not deleted",
    "FAILED": "Failed",
    "UNDONE": "Put back",
    "REDONE": "Done again",
}


def outcome(code: str, owner: str | None = None) -> str:
    text = OUTCOMES.get(code, code.replace("_", " ").capitalize())
    if code == "MOVED" and owner:
        text = f"Moved here from {owner}"
    return text


def user_status(status: str) -> str:
    """ "ACTIVE" -> "Active"."""
    return status.capitalize() if status else ""


def face_label(external_image_id: str | None, face_id: str) -> str:
    """A face as the curator knows it: its photo's name (the id's first characters when it has none)."""
    return external_image_id or f"face {face_id[:8]}"
