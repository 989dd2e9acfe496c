"""A distinct colour per user of the collection shown, for the owner bands in the grid (no Qt here).

A hash of the id alone put angelina and jennifer in nearly the same blue. The users of the
collection are given hues a golden angle (137.5°) apart in the order of their sorted ids, so any
two users differ clearly (the first few by 90° or more) and a user keeps its colour while the
collection's users stay the same. A user not assigned yet falls back to the hash.
"""

from __future__ import annotations

import zlib

GOLDEN_ANGLE = 137.50776405003785


class OwnerColours:
    def __init__(self) -> None:
        self._hues: dict[str, int] = {}

    def assign(self, user_ids) -> None:
        self._hues = {u: int(round(i * GOLDEN_ANGLE)) % 360 for i, u in enumerate(sorted(set(user_ids)))}

    def add(self, user_id: str) -> None:
        """A user created since: the next hue of the sequence (the others keep theirs)."""
        if user_id not in self._hues:
            self._hues[user_id] = int(round(len(self._hues) * GOLDEN_ANGLE)) % 360

    def hue(self, user_id: str) -> int:
        known = self._hues.get(user_id)
        return known if known is not None else zlib.crc32(user_id.encode("utf-8")) % 360


OWNER_COLOURS = OwnerColours()  # the collection the window shows (one window per process)
