"""onnxruntime, imported with its telemetry off: the one way this package gets the module.

The package's __init__ sets ORT_DISABLE_TELEMETRY before onnxruntime loads, which stops the
telemetry store and uploads entirely. When something else imported onnxruntime first (an
embedding program), the environment switch comes too late; disable_telemetry_events() then
still stops the events, and a warning says what happened.
"""

from __future__ import annotations

import logging
import os
import sys

_ALREADY_LOADED = "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

import onnxruntime as ort  # noqa: E402  (the switch above must come first)

_disable = getattr(ort, "disable_telemetry_events", None)
if _disable is not None:
    _disable()
if _ALREADY_LOADED:
    logging.getLogger(__name__).warning(
        "onnxruntime was imported before Rekurator could switch its telemetry off; events are disabled, "
        "but set ORT_DISABLE_TELEMETRY=1 before starting this program to stop it entirely"
    )

__all__ = ["ort"]
