"""Typed errors of the camera / video layer.

Each message names the source as the operator gave it (camera index, file path, stream URL
without credentials) and says what to check.
"""

from __future__ import annotations


class CaptureError(Exception):
    """Base of every error raised by app.capture."""


class InvalidSourceError(CaptureError, ValueError):
    """The source specification itself is malformed (empty, negative index, unknown URL scheme)."""


class SourceUnavailableError(CaptureError):
    """The source cannot be opened: no such camera (or unplugged, or busy), missing or unreadable
    file, unreachable stream, or a camera that opens but never delivers a frame."""


class SourceStoppedError(CaptureError):
    """A live source that was delivering frames stopped mid-way (camera unplugged, stream dropped)."""
