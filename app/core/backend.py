"""The backend contract (an ABC): every method the window, the CLI and the capture package call.

Two classes implement it: the local `Engine` (app/core/engine.py) and the remote adapter
`RemoteCurationBackend` (app/remote/curation_backend.py), which composes AWS calls where the local
engine runs one transaction and names what it cannot offer in `capabilities`. Code outside app/core
is written against this contract, never against the store or SQL; tests/core/test_backend_contract.py
checks that both classes provide every member with the same parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .capabilities import LOCAL_ANALYSIS, CapabilityUnavailable
from .operation_methods import AwsOperationMethods, ExtensionMethods


class Backend(AwsOperationMethods, ExtensionMethods, ABC):
    """The 16 Rekognition operations and our extensions (as methods, see operation_methods.py), plus:"""

    capabilities: frozenset[str]
    workspace: Any  # what the backend works on: the workspace folder (a Path), or the endpoint's URL (a str)

    @abstractmethod
    def call(self, operation: str, params: dict | None = None) -> dict: ...

    @abstractmethod
    def close(self) -> None: ...

    # what the window shows beside the API data
    @abstractmethod
    def face_thumbnails(self, collection_id: str, face_ids: Any) -> dict[str, bytes]: ...

    @abstractmethod
    def face_details(self, collection_id: str, face_ids: Any) -> dict[str, dict]: ...

    @abstractmethod
    def image_preview(self, collection_id: str, image_id: str) -> bytes | None: ...

    @abstractmethod
    def set_not_this_person(self, collection_id: str, user_id: str, face_ids: Any, rejected: bool = True) -> dict: ...

    @abstractmethod
    def rejected_face_ids(self, collection_id: str, user_id: str) -> set[str]: ...

    @abstractmethod
    def journal_entries(self, after_seq: int = 0, collection_id: str | None = None,
                        limit: int | None = None) -> list[dict]: ...

    @abstractmethod
    def describe_user(self, collection_id: str, user_id: str) -> dict: ...

    # local analysis (CapabilityUnavailable where the backend has none)
    @abstractmethod
    def store_analyzed(self, collection_id: str, items: Any, quality_filter: str = "AUTO",
                       max_faces: int | None = None) -> list[dict]: ...

    @abstractmethod
    def analyzer_for_collection(self, collection_id: str) -> Any: ...

    def plan_analyzed(self, collection_id: str, user_id: str, items: Any, threshold: float | None = 75.0,
                      quality_filter: str = "AUTO", max_faces: int | None = None) -> dict:
        """PlanAssociation for the faces analysed images would index (app/core/analyzed_plan.py), writing
        nothing. A backend without local analysis cannot (this default)."""
        raise CapabilityUnavailable(LOCAL_ANALYSIS, "Analysed images are planned only where they are analysed and "
                                                    "stored: on a local workspace")
