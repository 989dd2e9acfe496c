"""Exact nearest-neighbour search over one collection's descriptors, held in memory.

Faces live in one float32 matrix (rows in database order) with their squared norms, database
rowids and owning user; deleted faces become tombstones (infinite norm) until the next
compaction. Users are kept as running sums of their faces' descriptors, from which a matrix of
user means is built when a user search needs it.

Squared Euclidean distances come from one matrix-vector product: |q - x|^2 = |x|^2 - 2 q.x + |q|^2,
so a search reads the matrix once, at the memory-bandwidth floor, and then filters by the
distance that the similarity threshold allows before sorting the few survivors.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from .index_file import MEMORY_CRC_BLOCK, DamagedIndexError, IndexFile, write_index_file
from .similarity import mean_distance_factor

_GROWTH = 1.5
_CHUNK_ROWS = 65536
_SIDECAR_FORMAT = 2  # 2: every 4 KiB block checksummed, and the face_changes position it reflects


class StaleIndexError(Exception):
    """An index (e.g. a sidecar file) cannot be brought up to date incrementally."""


def current_log_seq(conn: sqlite3.Connection) -> int:
    """The last face_changes entry written so far (0 before the first)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'face_changes'").fetchone()
    return int(row[0]) if row else 0


class CollectionIndex:
    def __init__(self, dim: int, generation: int = 0, log_seq: int = 0):
        self.dim = dim
        self.generation = generation
        self.log_seq = log_seq  # the last face_changes entry this index reflects
        self.n = 0
        self.tombstones = 0
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.sqnorms = np.zeros(0, dtype=np.float32)
        self.rowids = np.zeros(0, dtype=np.int64)
        self.owners = np.zeros(0, dtype=np.int64)  # user pk, 0 = none
        self.user_sums: dict[int, np.ndarray] = {}
        self.user_counts: dict[int, int] = {}
        self._user_matrix = None
        self._max_sqnorm = 0.0  # largest |x|^2 ever held: scales the float32 rounding margin

    # -- building --------------------------------------------------------------------------
    def _fill_from(self, rows_cursor, count: int) -> None:
        """Append (pk, owner, descriptor) rows in chunks straight into preallocated arrays.

        No list of a million tuples and no joined copy: memory stays near the matrix itself.
        """
        self._reserve(count + max(1024, count // 4))  # headroom: the next writes need no regrowth
        while True:
            chunk = rows_cursor.fetchmany(_CHUNK_ROWS)
            if not chunk:
                break
            k = len(chunk)
            s = slice(self.n, self.n + k)
            if self.n + k > len(self.vectors):
                self._reserve(k)
                s = slice(self.n, self.n + k)
            rowids, owners, blobs = zip(*chunk, strict=False)
            self.vectors[s] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(k, self.dim)
            self.rowids[s] = rowids
            self.owners[s] = owners
            self.sqnorms[s] = np.einsum("ij,ij->i", self.vectors[s], self.vectors[s])
            self._max_sqnorm = max(self._max_sqnorm, float(self.sqnorms[s].max()))
            self.n += k

    @classmethod
    def load(cls, conn: sqlite3.Connection, collection_pk: int, dim: int, generation: int) -> CollectionIndex:
        """Read a collection's faces from the database (rowid order, via faces_by_collection).

        Call inside a read transaction, so the faces and the face_changes position agree.
        """
        index = cls(dim, generation, current_log_seq(conn))
        count = conn.execute("SELECT COUNT(*) FROM faces WHERE collection_pk = ?", (collection_pk,)).fetchone()[0]
        cursor = conn.execute(
            "SELECT pk, COALESCE(user_pk, 0), descriptor FROM faces WHERE collection_pk = ? ORDER BY pk", (collection_pk,)
        )
        index._fill_from(cursor, count)
        index._rebuild_user_sums()
        return index

    def resync(self, conn: sqlite3.Connection, collection_pk: int, generation: int) -> None:
        """Catch up with writes made by another process: new faces, then owner changes and deletions.

        Reads only what changed: the faces above this index's largest rowid and the face_changes
        entries after the last one it saw. Each entry holds a face's state after the change, so
        replaying entries this index already reflects (its own writes) is harmless. Raises
        StaleIndexError when the entries it needs were pruned.
        """
        floor = conn.execute("SELECT value FROM meta WHERE key = 'face_changes_floor'").fetchone()
        if floor is not None and self.log_seq < int(floor[0]):
            raise StaleIndexError("the face change log was pruned past this index; reload it")
        seq = current_log_seq(conn)
        count = conn.execute("SELECT COUNT(*) FROM faces WHERE collection_pk = ? AND pk > ?",
                             (collection_pk, self.max_rowid)).fetchone()[0]
        cursor = conn.execute(
            "SELECT pk, COALESCE(user_pk, 0), descriptor FROM faces WHERE collection_pk = ? AND pk > ? ORDER BY pk",
            (collection_pk, self.max_rowid),
        )
        first_new = self.n
        self._fill_from(cursor, count)
        for pos in np.flatnonzero(self.owners[first_new : self.n]) + first_new:
            self._add_to_user(int(self.owners[pos]), self.rows(np.array([pos]))[0], +1)
        changes = conn.execute(
            "SELECT face_pk, user_pk FROM face_changes"
            " WHERE collection_pk = ? AND seq > ? AND seq <= ? ORDER BY seq",
            (collection_pk, self.log_seq, seq),
        ).fetchall()
        self.apply_changes(changes)
        self.log_seq = seq
        self.generation = generation

    def apply_changes(self, changes) -> None:
        """Apply face_changes entries (face pk, owner after the change or -1 for deleted), in order."""
        final: dict[int, int] = {}
        for face_pk, user_pk in changes:
            final.pop(face_pk, None)  # keep the last state of each face, in the order of its last change
            final[face_pk] = user_pk
        deleted = [pk for pk, user_pk in final.items() if user_pk < 0]
        by_owner: dict[int, list[int]] = {}
        for pk, user_pk in final.items():
            if user_pk >= 0:
                by_owner.setdefault(user_pk, []).append(pk)
        for user_pk, pks in by_owner.items():
            self.set_owner(pks, user_pk)
        self.remove(deleted)

    # -- the sidecar file: the index saved next to the database, so opening is a file read --
    # An index_file with the arrays as sections (rowids int64, owners int64, sqnorms float32,
    # vectors float32), read straight into the index's own preallocated arrays so that a load
    # never holds two copies of the matrix, each 1 MiB block checked against its CRC-32.
    def save(self, path: Path, collection_pk: int) -> None:
        """Write the index atomically (temp file + rename); it is a cache the database outranks."""
        n = self.n
        header = {"format": _SIDECAR_FORMAT, "collection_pk": collection_pk, "generation": self.generation,
                  "log_seq": self.log_seq, "n": n, "dim": self.dim, "tombstones": self.tombstones}
        write_index_file(path, header, [("rowids", self.rowids[:n]), ("owners", self.owners[:n]),
                                        ("sqnorms", self.sqnorms[:n]), ("vectors", self.vectors[:n])],
                         crc_block=MEMORY_CRC_BLOCK)

    @classmethod
    def load_file(cls, path: Path, collection_pk: int, dim: int) -> CollectionIndex | None:
        """The index saved at `path`, or None if there is none usable for this collection.

        Damage anywhere in the file (a checksum mismatch) makes it unusable, like a foreign file.
        """
        file = IndexFile.open(path)
        if file is None:
            return None
        with file:
            meta = file.header
            try:
                wanted = (_SIDECAR_FORMAT, collection_pk, dim)
                if (meta.get("format"), meta.get("collection_pk"), meta.get("dim")) != wanted:
                    return None
                n = int(meta["n"])
                index = cls(dim, int(meta["generation"]), int(meta["log_seq"]))
                index._reserve(n + max(1024, n // 4))
                for name in ("rowids", "owners", "sqnorms", "vectors"):
                    file.read_into(name, getattr(index, name)[:n])
                index.n, index.tombstones = n, int(meta["tombstones"])
                live = index.sqnorms[:n][np.isfinite(index.sqnorms[:n])]
                index._max_sqnorm = float(live.max()) if len(live) else 0.0
            except (DamagedIndexError, OSError, ValueError, KeyError, TypeError):
                return None  # damaged or not ours: the caller reads the database instead
        index._rebuild_user_sums()
        return index

    def _rebuild_user_sums(self) -> None:
        self.user_sums, self.user_counts = {}, {}
        owned = np.flatnonzero(self.owners[: self.n])
        if len(owned):
            users = self.owners[owned]
            order = np.argsort(users, kind="stable")
            owned, users = owned[order], users[order]
            starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
            sums = np.add.reduceat(self.rows(owned).astype(np.float64), starts, axis=0)
            counts = np.diff(np.r_[starts, len(users)])
            for user_pk, total, count in zip(users[starts], sums, counts, strict=False):
                self.user_sums[int(user_pk)] = total
                self.user_counts[int(user_pk)] = int(count)
        self._user_matrix = None

    @property
    def max_rowid(self) -> int:
        return int(self.rowids[self.n - 1]) if self.n else 0

    @property
    def live_count(self) -> int:
        return self.n - self.tombstones

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.vectors):
            return
        cap = max(need, int(len(self.vectors) * _GROWTH), 16)
        for name in ("vectors", "sqnorms", "rowids", "owners"):
            old = getattr(self, name)
            new = np.empty((cap,) + old.shape[1:], dtype=old.dtype)  # rows past n are never read
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def append(self, rowids: np.ndarray, vectors: np.ndarray, owners: np.ndarray | None = None) -> None:
        """Add faces; rowids must be larger than every rowid already held."""
        k = len(rowids)
        if k == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(k, self.dim)
        owners = np.zeros(k, dtype=np.int64) if owners is None else np.asarray(owners, dtype=np.int64)
        self._reserve(k)
        s = slice(self.n, self.n + k)
        self.vectors[s] = vectors
        self.sqnorms[s] = np.einsum("ij,ij->i", vectors, vectors)
        self._max_sqnorm = max(self._max_sqnorm, float(self.sqnorms[s].max()))
        self.rowids[s] = rowids
        self.owners[s] = owners
        self.n += k
        for pos in np.flatnonzero(owners):
            self._add_to_user(int(owners[pos]), vectors[pos], +1)

    def _positions(self, rowids) -> np.ndarray:
        rowids = np.asarray(rowids, dtype=np.int64)
        pos = np.searchsorted(self.rowids[: self.n], rowids)
        if self.n:
            ok = (pos < self.n) & (self.rowids[np.minimum(pos, max(self.n - 1, 0))] == rowids)
        else:
            ok = np.zeros(len(rowids), bool)
        return pos[ok]

    def _add_to_user(self, user_pk: int, vector: np.ndarray, sign: int) -> None:
        total = self.user_sums.get(user_pk)
        if total is None:
            total = self.user_sums[user_pk] = np.zeros(self.dim, dtype=np.float64)
        total += sign * vector.astype(np.float64)
        count = self.user_counts.get(user_pk, 0) + sign
        if count <= 0:
            self.user_sums.pop(user_pk, None)
            self.user_counts.pop(user_pk, None)
        else:
            self.user_counts[user_pk] = count
        self._user_matrix = None

    def remove(self, rowids) -> None:
        pos = self._positions(rowids)
        pos = np.unique(pos[np.isfinite(self.sqnorms[pos])])
        owned = pos[self.owners[pos] != 0]
        if len(owned):
            for p, vector in zip(owned.tolist(), self.rows(owned), strict=True):  # one read for all of them
                self._add_to_user(int(self.owners[p]), vector, -1)
            self.owners[owned] = 0
        self.sqnorms[pos] = np.inf
        self.tombstones += len(pos)
        if self.tombstones > 1024 and self.tombstones > self.n // 4:
            self._compact()

    def set_owner(self, rowids, user_pk: int) -> None:
        """Move faces to `user_pk` (0 = no user), keeping the user sums in step."""
        pos = self._positions(rowids)
        pos = np.unique(pos[(self.owners[pos] != user_pk) & np.isfinite(self.sqnorms[pos])])
        if not len(pos):
            return
        for p, vector in zip(pos.tolist(), self.rows(pos), strict=True):  # one read for all of them
            old = int(self.owners[p])
            if old:
                self._add_to_user(old, vector, -1)
            if user_pk:
                self._add_to_user(user_pk, vector, +1)
        self.owners[pos] = user_pk

    def drop_user(self, user_pk: int) -> None:
        self.owners[: self.n][self.owners[: self.n] == user_pk] = 0
        self.user_sums.pop(user_pk, None)
        self.user_counts.pop(user_pk, None)
        self._user_matrix = None

    def _compact(self) -> None:
        keep = np.flatnonzero(np.isfinite(self.sqnorms[: self.n]))
        for name in ("vectors", "sqnorms", "rowids", "owners"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[keep]))
        self.n = len(keep)
        self.tombstones = 0

    # -- searching -------------------------------------------------------------------------
    def face_distances(self, query: np.ndarray) -> np.ndarray:
        """Squared distances from `query` to every row (tombstones: inf)."""
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)  # float32 at the boundary: no upcast of the matrix
        d2 = self.vectors[: self.n] @ q
        d2 *= -2.0
        d2 += self.sqnorms[: self.n]
        d2 += np.float32(q @ q)
        return d2

    def search_faces(self, query: np.ndarray, max_distance: float, limit: int, exclude_rowid: int | None = None):
        """(rowids, distances) of the nearest faces within max_distance, nearest first.

        The float32 mat-vec only picks candidates (with a margin for its rounding); the answer's
        distances are then computed directly in float64 for those few rows, so they do not depend
        on where a row sits in the matrix (BLAS rounds a row's dot product differently by position)
        nor on which index tier found the candidates.
        """
        if self.n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        d2 = self.face_distances(query)
        return self._exact_hits(query, d2, np.arange(self.n), max_distance, limit, exclude_rowid)

    def _exact_hits(self, query, d2: np.ndarray, positions: np.ndarray, max_distance: float, limit: int,
                    exclude_rowid: int | None):
        """The answer from approximate squared distances `d2` of `positions`: exact float64 re-rank."""
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        qq = float(q.astype(np.float64) @ q.astype(np.float64))
        # far above the float32 rounding of |x|^2 - 2q.x + |q|^2
        margin = 1e-5 * (qq + self._max_sqnorm + 1e-3)
        if np.isfinite(max_distance):
            hits = np.flatnonzero(d2 <= max_distance * max_distance + margin)
        else:
            hits = np.flatnonzero(np.isfinite(d2))
        if exclude_rowid is not None:
            hits = hits[self.rowids[positions[hits]] != exclude_rowid]
        if len(hits) > limit:  # only rows that could be among the `limit` nearest once measured exactly
            kth = np.partition(d2[hits], limit - 1)[limit - 1]
            hits = hits[d2[hits] <= kth + 2 * margin]
        return self._rerank(q, positions[hits], max_distance, limit)

    def _rerank(self, q: np.ndarray, pos: np.ndarray, max_distance: float, limit: int):
        """The answer from the faces at `pos`: float64 distances, the threshold, nearest first (ties
        by rowid). Both tiers answer through it, so their answers are the same bytes."""
        diff = self.rows(pos).astype(np.float64) - q.astype(np.float64)
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        if np.isfinite(max_distance):
            keep = dist <= max_distance
            pos, dist = pos[keep], dist[keep]
        order = np.lexsort((self.rowids[pos], dist))[:limit]
        return self.rowids[pos[order]].copy(), dist[order]

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """Descriptors (float32) at the given positions."""
        return self.vectors[positions]

    def user_means(self):
        """(user_pks, means, counts, squared norms of the means) for users with faces."""
        if self._user_matrix is None:
            pks = np.fromiter(self.user_sums.keys(), dtype=np.int64, count=len(self.user_sums))
            counts = np.asarray([self.user_counts[int(p)] for p in pks], dtype=np.float64)
            if len(pks):
                sums = np.stack([self.user_sums[int(p)] for p in pks])
                means = (sums / counts[:, None]).astype(np.float32)
            else:
                means = np.zeros((0, self.dim), np.float32)
            self._user_matrix = (pks, means, counts, np.einsum("ij,ij->i", means, means))
        return self._user_matrix

    def user_mean(self, user_pk: int):
        """(mean, count) of one user's faces, or (None, 0)."""
        count = self.user_counts.get(user_pk, 0)
        if not count:
            return None, 0
        return (self.user_sums[user_pk] / count).astype(np.float32), count

    def user_distances(self, query: np.ndarray, query_count: int = 1):
        """(user_pks, effective distances) from a query (a face, or a mean of query_count faces)."""
        pks, means, counts, sqnorms = self.user_means()
        if len(pks) == 0:
            return pks, np.zeros(0)
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        d2 = sqnorms - 2.0 * (means @ q) + np.float32(q @ q)  # one mat-vec, as for faces
        return pks, np.sqrt(np.maximum(d2, 0.0).astype(np.float64)) * mean_distance_factor(query_count, counts)
