"""The compressed tier's previous search, for same-run comparisons (commit fd51ba9, format 3).

1-bit codes (the signs of a fixed random rotation of descriptor - collection mean, 16 bytes for
128-d) scanned by Hamming distance with faiss (`hamming_scan.py`, moved here from app/core), at
least 1,024 candidates (16 per requested match, widened by 16 per match found), their exact
descriptors read from the same segment files as today's tier and re-ranked exactly. It runs beside
a current `CompressedIndex`: the codes are made here from the descriptors the bench holds.
"""

from __future__ import annotations

import hamming_scan
import numpy as np

from app.core.compressed_index import CompressedIndex

CANDIDATES = 1024
CANDIDATES_PER_MATCH = 16
_ROTATION_SEED = 20240514


def rotation(dim: int) -> np.ndarray:
    rng = np.random.default_rng(_ROTATION_SEED + dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


class HammingTier:
    def __init__(self, index: CompressedIndex, center: np.ndarray):
        self.index = index
        self.center = np.asarray(center, np.float32)
        self.rotation = rotation(index.dim)
        self.words = (index.dim + 63) // 64
        self.codes = np.zeros((0, self.words), np.uint64)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        bits = np.packbits((np.asarray(vectors, np.float32) - self.center) @ self.rotation.T > 0, axis=1)
        return np.ascontiguousarray(bits).view(np.uint64).reshape(len(vectors), self.words)

    def add(self, vectors: np.ndarray) -> None:
        """Codes for the next faces (in the index's order)."""
        self.codes = np.concatenate([self.codes, self.encode(vectors)])

    def candidates(self, query: np.ndarray, wanted: int) -> np.ndarray:
        ix = self.index
        code = self.encode(np.asarray(query, np.float32).reshape(1, ix.dim))[0]
        if wanted >= ix.live_count:
            return np.flatnonzero(np.isfinite(ix.sqnorms[: ix.n]))
        codes = self.codes[: ix.n]
        found = hamming_scan.nearest(codes.view(np.uint8), code.view(np.uint8), wanted,
                                     ix.sqnorms if ix.tombstones else None)
        if found is not None:
            return found
        ham = hamming_scan.numpy_distances(codes, code, np.uint8)
        ham[~np.isfinite(ix.sqnorms[: ix.n])] = 255
        return hamming_scan.numpy_nearest(ham, wanted)

    def search_faces(self, query: np.ndarray, max_distance: float, limit: int, exclude_rowid: int | None = None):
        ix = self.index
        q = np.asarray(query, dtype=np.float32).reshape(ix.dim)
        wanted = max(CANDIDATES, CANDIDATES_PER_MATCH * limit)
        while True:
            cand = self.candidates(q, wanted)
            d2 = ix.sqnorms[cand] - 2.0 * (ix.rows(cand) @ q) + np.float32(q @ q)
            if not np.isfinite(max_distance) or len(cand) >= ix.live_count:
                break
            margin = 1e-5 * (float(q @ q) + ix._max_sqnorm + 1e-3)
            found = int(np.count_nonzero(d2 <= max_distance * max_distance + margin))
            if CANDIDATES_PER_MATCH * found <= wanted:
                break
            wanted = CANDIDATES_PER_MATCH * found
        return ix._exact_hits(q, d2, cand, max_distance, limit, exclude_rowid)
