"""What a backend offers beyond the sixteen Rekognition operations, by name.

The local Engine offers all of it. A remote endpoint only speaks the API, so its adapter
(app.remote.curation_backend) names the few extras it can still provide, and the window asks
`capabilities_of(backend)` before offering an action that needs one, rather than failing later.
"""

from __future__ import annotations

THUMBNAILS = "thumbnails"  # face crops stored at indexing time (face_thumbnails)
IMAGE_PREVIEWS = "image_previews"  # downscaled photos stored at indexing time (image_preview)
ASSOCIATION_PREVIEW = "preview"  # PlanAssociation with match confidences (needs the descriptors)
WORKSPACE_JOURNAL = "journal"  # the journal of every write ever made there (workspace reports)
NOT_THIS_PERSON = "not_this_person"  # set_not_this_person / rejected_face_ids
LOCAL_ANALYSIS = "local_analysis"  # images analysed in this process (store_analyzed, camera enrollment)
# ClusterFaces, NameGroup, SuggestFaces, SuggestUsers, DescribePeople, ProposeUserId, UpdatePerson
PEOPLE_AND_GROUPS = "people_and_groups"

ALL = frozenset({THUMBNAILS, IMAGE_PREVIEWS, ASSOCIATION_PREVIEW, WORKSPACE_JOURNAL, NOT_THIS_PERSON, LOCAL_ANALYSIS,
                 PEOPLE_AND_GROUPS})


class CapabilityUnavailable(Exception):
    """Asked for something this backend cannot do; the message says what and why."""

    def __init__(self, capability: str, message: str):
        super().__init__(message)
        self.capability = capability


def capabilities_of(backend) -> frozenset[str]:
    """The backend's `capabilities` (the local Engine declares ALL); an object without the
    attribute, such as a test double of the engine, is taken to have them all."""
    return frozenset(getattr(backend, "capabilities", ALL))
