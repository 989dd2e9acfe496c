"""The numeric face model version each face carries in ListFaces (IndexFacesModelVersion).

The service model gives Face.IndexFacesModelVersion the pattern `[0-9\\.]+`, unlike the free-text
FaceModelVersion of a collection, and AWS's ListFaces example shows it on every face. So each
face model has a number beside its name (ours):
- the bundled dlib ResNet + YuNet model is "1.0";
- any other model (an insightface pack) is "2.<n>", n the first 6 hex digits of the sha256 of
  its name as a decimal number: stable across runs and machines, different between packs.
"""

from __future__ import annotations

import functools
import hashlib

KNOWN_NUMERIC_VERSIONS = {"dlib_resnet_v1+yunet_2023mar": "1.0"}


@functools.cache
def numeric_version(face_model_version: str) -> str:
    known = KNOWN_NUMERIC_VERSIONS.get(face_model_version)
    if known is not None:
        return known
    digest = hashlib.sha256(face_model_version.encode("utf-8")).hexdigest()
    return f"2.{int(digest[:6], 16)}"
