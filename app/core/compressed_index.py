"""The compressed search tier for large collections: 1-bit codes in memory, descriptors on disk.

Each face is held in memory as a sign code of its descriptor (the signs of a fixed random rotation
of the descriptor minus the collection's mean: dim bits, 16 bytes for 128-d), plus its rowid,
owner and squared norm. The float32 descriptors live in segment files (`index_file` sections
read row by row on demand, each 4 KiB block checked as it is read) and, for the newest faces, in an
in-memory tail that is written out as a new segment once it is large.

A search ranks every face by the Hamming distance between codes (a few bytes per face, so about
a sixth of the memory traffic of the exact scan and far less memory; scanned by faiss-cpu, see
`hamming_scan`), keeps the nearest candidates (at least CANDIDATES, at least 16 per requested
match, and 16 per match found among them: a first look that finds many matches is widened),
reads their exact descriptors and answers from exact float64 distances, like the exact tier.
It is exact whenever every true match is among the candidates. On synthetic clustered
descriptors they always were (bench/bench_index_tiers.py, bench/bench_engine.py); real
same-person faces rank much worse in Hamming distance (bench/bench_hamming_ranks.py).
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import numpy as np

from . import hamming_scan
from .index_file import DamagedIndexError, DiskSection, IndexFile, write_index_file
from .vector_index import CollectionIndex, current_log_seq

CANDIDATES = 1024  # Hamming-nearest faces re-ranked exactly, at least
CANDIDATES_PER_MATCH = 16
SEGMENT_ROWS = 1 << 18  # tail rows written out as one segment file (128 MiB of 128-d descriptors)
_SCAN_ROWS = 1 << 14  # rows per step of face_distances
_ROTATION_SEED = 20240514
_FORMAT = 3  # the exact tier's sidecar is format 2


def rotation(dim: int) -> np.ndarray:
    """A fixed random orthogonal matrix (the same for every collection of this dimension)."""
    rng = np.random.default_rng(_ROTATION_SEED + dim)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


class CompressedIndex(CollectionIndex):
    tier = "compressed"

    def __init__(
        self,
        dim: int,
        generation: int = 0,
        log_seq: int = 0,
        directory: Path | None = None,
        prefix: str = "collection",
        center: np.ndarray | None = None,
    ):
        super().__init__(dim, generation, log_seq)
        self.directory = directory
        self.prefix = prefix
        self.words = (dim + 63) // 64
        self.codes = np.zeros((0, self.words), dtype=np.uint64)
        self.center = np.zeros(dim, np.float32) if center is None else np.asarray(center, np.float32)
        self._rotation = rotation(dim)
        self.segments: list[DiskSection] = []
        self.segment_names: list[str] = []
        self.segment_starts = np.zeros(
            1, dtype=np.int64
        )  # position of each segment's first row, then the end
        self.base = 0  # positions below live in segments, from here on in self.vectors (the tail)
        self._ham_dtype = np.uint8 if self.words * 64 < 255 else np.uint16  # 255 / 65535 marks deleted faces

    # -- codes -----------------------------------------------------------------------------
    def encode(self, vectors: np.ndarray) -> np.ndarray:
        projected = (np.asarray(vectors, np.float32) - self.center) @ self._rotation.T
        bits = np.packbits(projected > 0, axis=1)
        pad = self.words * 8 - bits.shape[1]
        if pad:
            bits = np.pad(bits, ((0, 0), (0, pad)))
        return np.ascontiguousarray(bits).view(np.uint64).reshape(len(vectors), self.words)

    def hamming(self, code: np.ndarray) -> np.ndarray:
        """Hamming distance from `code` to every face's code (uint8; uint16 past 254 bits), numpy."""
        return hamming_scan.numpy_distances(self.codes[: self.n], code, self._ham_dtype)

    # -- storage of rows -------------------------------------------------------------------
    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > len(self.rowids):
            cap = max(need, int(len(self.rowids) * 1.5), 16)
            for name in ("sqnorms", "rowids", "owners", "codes"):
                old = getattr(self, name)
                new = np.empty((cap,) + old.shape[1:], dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        tail_need = self.n - self.base + extra
        if tail_need > len(self.vectors):
            cap = max(tail_need, min(int(len(self.vectors) * 1.5), SEGMENT_ROWS + extra), 16)
            new = np.empty((cap, self.dim), dtype=np.float32)
            new[: self.n - self.base] = self.vectors[: self.n - self.base]
            self.vectors = new

    def rows(self, positions: np.ndarray) -> np.ndarray:
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(positions), self.dim), dtype=np.float32)
        in_tail = positions >= self.base
        if in_tail.any():
            out[in_tail] = self.vectors[positions[in_tail] - self.base]
        if not in_tail.all():
            where = np.flatnonzero(~in_tail)
            pos = positions[where]
            seg = np.searchsorted(self.segment_starts, pos, side="right") - 1
            for s in np.unique(seg).tolist():
                mine = seg == s
                out[where[mine]] = self.segments[s].rows(pos[mine] - self.segment_starts[s])
        return out

    def append(self, rowids: np.ndarray, vectors: np.ndarray, owners: np.ndarray | None = None) -> None:
        k = len(rowids)
        if k == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(k, self.dim)
        owners = np.zeros(k, dtype=np.int64) if owners is None else np.asarray(owners, dtype=np.int64)
        self._reserve(k)
        s = slice(self.n, self.n + k)
        self.vectors[self.n - self.base : self.n - self.base + k] = vectors
        self.sqnorms[s] = np.einsum("ij,ij->i", vectors, vectors)
        self._max_sqnorm = max(self._max_sqnorm, float(self.sqnorms[s].max()))
        self.codes[s] = self.encode(vectors)
        self.rowids[s] = rowids
        self.owners[s] = owners
        self.n += k
        for pos in np.flatnonzero(owners):
            self._add_to_user(int(owners[pos]), vectors[pos], +1)
        if self.n - self.base >= SEGMENT_ROWS and self.directory is not None:
            self.spill()

    def _fill_from(self, rows_cursor, count: int) -> None:
        """Append (pk, owner, descriptor) rows; owners set without user sums (the caller adds them)."""
        while True:
            chunk = rows_cursor.fetchmany(min(65536, SEGMENT_ROWS))
            if not chunk:
                break
            rowids, owners, blobs = zip(*chunk, strict=False)
            vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(chunk), self.dim)
            self.append(np.asarray(rowids, np.int64), vectors)
            self.owners[self.n - len(chunk) : self.n] = owners

    def spill(self) -> None:
        """Write the tail out as a segment file and map it; the tail starts empty again."""
        if self.directory is None or self.n == self.base:
            return
        tail = self.vectors[: self.n - self.base]
        name = f"{self.prefix}-{secrets.token_hex(8)}.seg"
        self.directory.mkdir(parents=True, exist_ok=True)
        write_index_file(
            self.directory / name, {"segment": name, "rows": len(tail), "dim": self.dim}, [("vectors", tail)]
        )
        file = IndexFile.open(self.directory / name)
        if file is None:
            raise OSError(f"segment {name} could not be read back")
        with file:
            self.segments.append(file.on_disk("vectors"))
        self.segment_names.append(name)
        self.segment_starts = np.append(self.segment_starts, self.n)
        self.base = self.n
        self.vectors = np.zeros((0, self.dim), np.float32)

    def _compact(self) -> None:
        pass  # tombstones stay (their code is skipped) until the index is next built from the database

    # -- searching -------------------------------------------------------------------------
    def face_distances(self, query: np.ndarray) -> np.ndarray:
        d2 = np.full(self.n, np.inf, dtype=np.float32)
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        for lo in range(0, self.n, _SCAN_ROWS):
            pos = np.arange(lo, min(self.n, lo + _SCAN_ROWS))
            d2[pos] = self.sqnorms[pos] - 2.0 * (self.rows(pos) @ q) + np.float32(q @ q)
        return d2

    def candidates(self, query: np.ndarray, wanted: int) -> np.ndarray:
        """Positions of the (at least) `wanted` live faces nearest in Hamming distance, ties included.

        faiss scans the codes where it is installed (see `hamming_scan.nearest`); numpy otherwise,
        and whenever faiss's lists cannot prove that every tie at the cut-off was seen.
        """
        code = self.encode(np.asarray(query, np.float32).reshape(1, self.dim))[0]
        if wanted >= self.live_count:
            return np.flatnonzero(np.isfinite(self.sqnorms[: self.n]))
        found = hamming_scan.nearest(
            self.codes[: self.n].view(np.uint8),
            code.view(np.uint8),
            wanted,
            self.sqnorms if self.tombstones else None,
        )
        if found is not None:
            return found
        ham = self.hamming(code)
        if self.tombstones:
            ham[~np.isfinite(self.sqnorms[: self.n])] = np.iinfo(ham.dtype).max
        return hamming_scan.numpy_nearest(ham, wanted)

    def search_faces(
        self, query: np.ndarray, max_distance: float, limit: int, exclude_rowid: int | None = None
    ):
        if self.n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        wanted = max(CANDIDATES, CANDIDATES_PER_MATCH * limit)
        while True:
            cand = self.candidates(query, wanted)
            d2 = self.sqnorms[cand] - 2.0 * (self.rows(cand) @ q) + np.float32(q @ q)
            if not np.isfinite(max_distance) or len(cand) >= self.live_count:
                break
            # a face with many matches (a person photographed thousands of times): keep 16
            # candidates per match found, so that its matches never crowd the true ones out
            margin = 1e-5 * (float(q @ q) + self._max_sqnorm + 1e-3)
            found = int(np.count_nonzero(d2 <= max_distance * max_distance + margin))
            if CANDIDATES_PER_MATCH * found <= wanted:
                break
            wanted = CANDIDATES_PER_MATCH * found
        hits = self._exact_hits(query, d2, cand, max_distance, limit, exclude_rowid)
        return hits

    # -- files -----------------------------------------------------------------------------
    def save(self, path: Path, collection_pk: int) -> None:
        if self.n - self.base >= SEGMENT_ROWS // 4:
            self.spill()  # a large tail would be read back into memory by every process that opens the file
        n = self.n
        pks = np.fromiter(self.user_sums.keys(), dtype=np.int64, count=len(self.user_sums))
        sums = np.stack([self.user_sums[int(p)] for p in pks]) if len(pks) else np.zeros((0, self.dim))
        counts = np.asarray([self.user_counts[int(p)] for p in pks], dtype=np.int64)
        header = {
            "format": _FORMAT,
            "tier": self.tier,
            "collection_pk": collection_pk,
            "generation": self.generation,
            "log_seq": self.log_seq,
            "n": n,
            "dim": self.dim,
            "tombstones": self.tombstones,
            "base": self.base,
            "segments": self.segment_names,
            "segment_starts": self.segment_starts.tolist(),
        }
        write_index_file(
            path,
            header,
            [
                ("rowids", self.rowids[:n]),
                ("owners", self.owners[:n]),
                ("sqnorms", self.sqnorms[:n]),
                ("codes", self.codes[:n]),
                ("center", self.center),
                ("user_pks", pks),
                ("user_counts", counts),
                ("user_sums", sums.astype(np.float64)),
                ("tail", self.vectors[: n - self.base]),
            ],
        )
        self._remove_unused_segments()

    def _remove_unused_segments(self) -> None:
        if self.directory is None:
            return
        for path in self.directory.glob(f"{self.prefix}-*.seg"):
            if path.name not in self.segment_names:
                try:
                    path.unlink()
                except OSError:
                    pass  # still mapped elsewhere (Windows): a later save removes it

    @classmethod
    def load_file(cls, path: Path, collection_pk: int, dim: int) -> CompressedIndex | None:
        file = IndexFile.open(path)
        if file is None:
            return None
        index = None
        try:
            with file:
                meta = file.header
                if (meta.get("format"), meta.get("tier"), meta.get("collection_pk"), meta.get("dim")) != (
                    _FORMAT,
                    cls.tier,
                    collection_pk,
                    dim,
                ):
                    return None
                n, base = int(meta["n"]), int(meta["base"])
                index = cls(
                    dim,
                    int(meta["generation"]),
                    int(meta["log_seq"]),
                    path.parent,
                    path.name.removesuffix(".index"),
                    file.read("center"),
                )
                if not 0 <= base <= n:
                    raise DamagedIndexError("tail start")
                cap = n + max(1024, n // 8)  # headroom: the next writes need no regrowth
                index.rowids, index.owners = np.empty(cap, np.int64), np.empty(cap, np.int64)
                index.sqnorms, index.codes = (
                    np.empty(cap, np.float32),
                    np.empty((cap, index.words), np.uint64),
                )
                index.vectors = np.empty((n - base + 1024, dim), np.float32)
                for name in ("rowids", "owners", "sqnorms", "codes"):
                    file.read_into(name, getattr(index, name)[:n])
                file.read_into("tail", index.vectors[: n - base])
                index.n, index.base, index.tombstones = n, base, int(meta["tombstones"])
                pks, counts, sums = file.read("user_pks"), file.read("user_counts"), file.read("user_sums")
            index.user_sums = {int(p): s for p, s in zip(pks, sums, strict=False)}
            index.user_counts = {int(p): int(c) for p, c in zip(pks, counts, strict=False)}
            live = index.sqnorms[:n][np.isfinite(index.sqnorms[:n])]
            index._max_sqnorm = float(live.max()) if len(live) else 0.0
            index.segment_starts = np.asarray(meta["segment_starts"], dtype=np.int64)
            for name, start, end in zip(
                meta["segments"], index.segment_starts[:-1], index.segment_starts[1:], strict=False
            ):
                seg_file = IndexFile.open(path.parent / name)
                if seg_file is None:
                    raise DamagedIndexError(f"segment {name} missing or damaged")
                with seg_file:
                    if seg_file.header.get("rows") != end - start or seg_file.header.get("dim") != dim:
                        raise DamagedIndexError(f"segment {name} does not match")
                    index.segments.append(seg_file.on_disk("vectors"))
                index.segment_names.append(name)
            if index.segment_starts[-1] != base:
                raise DamagedIndexError("segments do not end where the tail starts")
        except (DamagedIndexError, OSError, ValueError, KeyError, TypeError):
            if index is not None:
                index.close()
            return None
        return index

    @classmethod
    def build(
        cls,
        conn: sqlite3.Connection,
        collection_pk: int,
        dim: int,
        generation: int,
        directory: Path,
        prefix: str,
    ) -> CompressedIndex:
        """Read a collection from the database straight into segments (never the whole matrix in memory)."""
        log_seq = current_log_seq(conn)
        first = conn.execute(
            "SELECT descriptor FROM faces WHERE collection_pk = ? ORDER BY pk LIMIT 65536", (collection_pk,)
        ).fetchall()
        sample = np.frombuffer(b"".join(r[0] for r in first), dtype=np.float32).reshape(-1, dim)
        index = cls(dim, generation, log_seq, directory, prefix, sample.mean(axis=0) if len(sample) else None)
        cursor = conn.execute(
            "SELECT pk, COALESCE(user_pk, 0), descriptor FROM faces WHERE collection_pk = ? ORDER BY pk",
            (collection_pk,),
        )
        while True:
            chunk = cursor.fetchmany(min(65536, SEGMENT_ROWS))
            if not chunk:
                break
            rowids, owners, blobs = zip(*chunk, strict=False)
            vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(chunk), dim)
            index.append(np.asarray(rowids, np.int64), vectors, np.asarray(owners, np.int64))
        return index

    @classmethod
    def from_index(cls, exact: CollectionIndex, directory: Path, prefix: str) -> CompressedIndex:
        """The compressed form of an in-memory index (its live faces, its users)."""
        live = np.flatnonzero(np.isfinite(exact.sqnorms[: exact.n]))
        index = cls(
            exact.dim,
            exact.generation,
            exact.log_seq,
            directory,
            prefix,
            exact.rows(live[:65536]).mean(axis=0) if len(live) else None,
        )
        for lo in range(0, len(live), 65536):
            pos = live[lo : lo + 65536]
            index.append(exact.rowids[pos], exact.rows(pos))
            index.owners[index.n - len(pos) : index.n] = exact.owners[pos]
        index.user_sums = {k: v.copy() for k, v in exact.user_sums.items()}
        index.user_counts = dict(exact.user_counts)
        return index

    def close(self) -> None:
        for seg in self.segments:
            seg.close()
        self.segments = []


def load_sidecar(path: Path, collection_pk: int, dim: int) -> CollectionIndex | None:
    """The index saved at `path`, whichever tier wrote it.

    None if missing, damaged or not this collection's.
    """
    return CollectionIndex.load_file(path, collection_pk, dim) or CompressedIndex.load_file(
        path, collection_pk, dim
    )
