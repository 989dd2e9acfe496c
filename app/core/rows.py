"""The rows the store reads (collections, users) and their response values: plain data, no SQL.

Code outside app/core (the remote adapter) builds the same responses from them; app/core/records.py
reads them from the database.
"""

from __future__ import annotations

from dataclasses import dataclass

REGION = "local"
ACCOUNT = "000000000000"


@dataclass(frozen=True)
class CollectionRow:
    pk: int
    collection_id: str
    model_version: str
    created_at: float
    generation: int

    @property
    def arn(self) -> str:
        return f"arn:aws:rekognition:{REGION}:{ACCOUNT}:collection/{self.collection_id}"


@dataclass(frozen=True)
class UserRow:
    pk: int
    user_id: str
    created_at: float


def user_status(face_count: int) -> str:
    return "ACTIVE" if face_count > 0 else "CREATED"
