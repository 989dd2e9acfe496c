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

import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from .similarity import mean_distance_factor

_GROWTH = 1.5
_CHUNK_ROWS = 65536
_SIDECAR_FORMAT = 1
_SIDECAR_MAGIC = b"REKURATOR-INDEX\n"


class StaleIndexError(Exception):
    """An index (e.g. a sidecar file) cannot be brought up to date incrementally."""


class CollectionIndex:
    def __init__(self, dim: int, generation: int = 0):
        self.dim = dim
        self.generation = generation
        self.n = 0
        self.tombstones = 0
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.sqnorms = np.zeros(0, dtype=np.float32)
        self.rowids = np.zeros(0, dtype=np.int64)
        self.owners = np.zeros(0, dtype=np.int64)  # user pk, 0 = none
        self.user_sums: dict[int, np.ndarray] = {}
        self.user_counts: dict[int, int] = {}
        self._user_matrix = None

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
            self.n += k

    @classmethod
    def load(cls, conn: sqlite3.Connection, collection_pk: int, dim: int, generation: int) -> CollectionIndex:
        """Read a collection's faces from the database (rowid order, via faces_by_collection)."""
        index = cls(dim, generation)
        count = conn.execute("SELECT COUNT(*) FROM faces WHERE collection_pk = ?", (collection_pk,)).fetchone()[0]
        cursor = conn.execute(
            "SELECT pk, COALESCE(user_pk, 0), descriptor FROM faces WHERE collection_pk = ? ORDER BY pk", (collection_pk,)
        )
        index._fill_from(cursor, count)
        index._rebuild_user_sums()
        return index

    def resync(self, conn: sqlite3.Connection, collection_pk: int, generation: int) -> None:
        """Catch up with writes made by another process: new faces, deletions, owners."""
        count = conn.execute("SELECT COUNT(*) FROM faces WHERE collection_pk = ? AND pk > ?",
                             (collection_pk, self.max_rowid)).fetchone()[0]
        cursor = conn.execute(
            "SELECT pk, COALESCE(user_pk, 0), descriptor FROM faces WHERE collection_pk = ? AND pk > ? ORDER BY pk",
            (collection_pk, self.max_rowid),
        )
        self._fill_from(cursor, count)
        current = np.asarray(
            conn.execute("SELECT pk, COALESCE(user_pk, 0) FROM faces WHERE collection_pk = ? ORDER BY pk",
                         (collection_pk,)).fetchall(),
            dtype=np.int64,
        ).reshape(-1, 2)
        pos = np.searchsorted(self.rowids[: self.n], current[:, 0])
        if len(pos) and (pos.max() >= self.n or np.any(self.rowids[pos] != current[:, 0])):
            raise StaleIndexError("the database holds faces this index never saw; reload it")
        alive = np.zeros(self.n, dtype=bool)
        owners = np.zeros(self.n, dtype=np.int64)
        alive[pos] = True
        owners[pos] = current[:, 1]
        self.sqnorms[: self.n][~alive] = np.inf
        self.tombstones = int(self.n - alive.sum())
        self.owners[: self.n] = owners
        self._rebuild_user_sums()
        self.generation = generation

    # -- the sidecar file: the matrix saved next to the database, so opening is a file read --
    # Layout: magic, 8-byte little-endian header length, JSON header, then the arrays raw
    # (rowids int64, owners int64, sqnorms float32, vectors float32), read straight into the
    # index's own preallocated arrays so a load never holds two copies of the matrix.
    def save(self, path: Path, collection_pk: int) -> None:
        """Write the index atomically (temp file + rename); it is a cache the database outranks."""
        n = self.n
        header = json.dumps({"format": _SIDECAR_FORMAT, "collection_pk": collection_pk, "generation": self.generation,
                             "n": n, "dim": self.dim, "tombstones": self.tombstones}).encode()
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(_SIDECAR_MAGIC + len(header).to_bytes(8, "little") + header)
            for array in (self.rowids[:n], self.owners[:n], self.sqnorms[:n], self.vectors[:n]):
                fh.write(memoryview(np.ascontiguousarray(array)).cast("B"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load_file(cls, path: Path, collection_pk: int, dim: int) -> CollectionIndex | None:
        """The index saved at `path`, or None if there is none usable for this collection."""
        try:
            with open(path, "rb") as fh:
                if fh.read(len(_SIDECAR_MAGIC)) != _SIDECAR_MAGIC:
                    return None
                meta = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
                if (meta.get("format"), meta.get("collection_pk"), meta.get("dim")) != (_SIDECAR_FORMAT, collection_pk, dim):
                    return None
                n = int(meta["n"])
                index = cls(dim, int(meta["generation"]))
                index._reserve(n + max(1024, n // 4))
                for array in (index.rowids[:n], index.owners[:n], index.sqnorms[:n], index.vectors[:n]):
                    view = memoryview(array).cast("B")
                    if fh.readinto(view) != len(view):
                        return None  # truncated
                if fh.read(1):
                    return None  # trailing bytes: not what save() wrote
        except (OSError, ValueError, KeyError, TypeError):
            return None  # missing or damaged: the caller reads the database instead
        index.n, index.tombstones = n, int(meta["tombstones"])
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
            sums = np.add.reduceat(self.vectors[owned].astype(np.float64), starts, axis=0)
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
        for pos in self._positions(rowids):
            if not np.isfinite(self.sqnorms[pos]):
                continue
            if self.owners[pos]:
                self._add_to_user(int(self.owners[pos]), self.vectors[pos], -1)
                self.owners[pos] = 0
            self.sqnorms[pos] = np.inf
            self.tombstones += 1
        if self.tombstones > 1024 and self.tombstones > self.n // 4:
            self._compact()

    def set_owner(self, rowids, user_pk: int) -> None:
        """Move faces to `user_pk` (0 = no user), keeping the user sums in step."""
        for pos in self._positions(rowids):
            old = int(self.owners[pos])
            if old == user_pk or not np.isfinite(self.sqnorms[pos]):
                continue
            if old:
                self._add_to_user(old, self.vectors[pos], -1)
            if user_pk:
                self._add_to_user(user_pk, self.vectors[pos], +1)
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
        """(rowids, distances) of the nearest faces within max_distance, nearest first."""
        if self.n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        d2 = self.face_distances(query)
        bound = np.float32(max_distance * max_distance) if np.isfinite(max_distance) else np.float32(np.inf)
        hits = np.flatnonzero(d2 <= bound) if np.isfinite(bound) else np.flatnonzero(np.isfinite(d2))
        if exclude_rowid is not None:
            hits = hits[self.rowids[hits] != exclude_rowid]
        if len(hits) > limit:
            hits = hits[np.argpartition(d2[hits], limit - 1)[:limit]]
        order = np.lexsort((self.rowids[hits], d2[hits]))
        hits = hits[order]
        return self.rowids[hits].copy(), np.sqrt(np.maximum(d2[hits], 0.0))

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
