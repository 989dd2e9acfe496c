"""Opaque pagination tokens.

A token is base64url(JSON [scope digest, position, issue time]) plus an HMAC under a secret kept
in the workspace database. The scope ties it to one operation, one collection incarnation and
one filter, so a token forged, altered, used for another listing, or older than a day gives
InvalidPaginationTokenException instead of a wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from .errors import InvalidPaginationTokenException

TOKEN_LIFETIME_S = 24 * 3600
_MAC_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scope_digest(scope) -> str:
    return hashlib.sha256(json.dumps(scope, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(secret: str, scope, position) -> str:
    payload = _b64(json.dumps([_scope_digest(scope), position, int(time.time())], separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{payload}.{_b64(mac)}"


def decode_token(secret: str, token: str, scope):
    """The position stored in `token`, after checking it belongs to `scope` and is fresh."""
    try:
        payload, mac_text = token.split(".")
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:_MAC_BYTES]
        # compare the text, not what it decodes to: base64 decoding skips characters outside its
        # alphabet and ignores spare bits, so a token with bytes appended would still verify
        if not hmac.compare_digest(_b64(expected), mac_text):
            raise ValueError("bad signature")
        digest, position, issued = json.loads(_unb64(payload))
    except (ValueError, TypeError) as exc:
        raise InvalidPaginationTokenException("Invalid pagination token: it was not issued by this workspace") from exc
    if digest != _scope_digest(scope):
        raise InvalidPaginationTokenException(
            "Invalid pagination token: it belongs to a different listing (operation, collection or filter)"
        )
    if time.time() - issued > TOKEN_LIFETIME_S:
        raise InvalidPaginationTokenException("Invalid pagination token: it has expired; start the listing again")
    return position
