"""The compressed search tier for large collections: int8 codes in memory, descriptors on disk.

Each face is held in memory as an int8 code of its descriptor (`int8_scan`: 128 bytes for 128-d,
split into a head and a tail of 64 for the scan, `split_scan`, each with its squared norm) with an
upper bound of its quantization error (its radius), plus its rowid, owner and squared norm: 160
bytes a face, 0.31x the float32 descriptors. The float32 descriptors live in segment files
(`index_file` sections read row by row on demand, each 4 KiB block checked as it is read) and, for
the newest faces, in an in-memory tail that is written out as a new segment once it is large.

A search bounds every face's true distance from both sides by its code's (decoded distance -/+
the two radii): the heads are scanned (integer GEMM, at memory bandwidth), and only faces whose
head is near enough have their tails read, which gives the same faces and integer distances as a
scan of whole codes. Only faces whose lower bound is within the threshold, and, when more could
match than MaxFaces, within the MaxFaces-th smallest upper bound, have their exact descriptors
read; the answer comes from exact float64 distances, as in the exact tier. So the answers equal
exhaustive search on any data, by construction: no face that could be a match is left unread.
(The tier before int8 codes ranked 1-bit codes by Hamming distance and re-ranked the nearest
1,024: exact on synthetic descriptors, but real same-person faces ranked far behind strangers;
bench/bench_real_exactness.py.)
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from pathlib import Path

import numpy as np

from . import int8_scan, split_scan
from .index_file import MEMORY_CRC_BLOCK, DamagedIndexError, DiskSection, IndexFile, write_index_file
from .vector_index import CollectionIndex, current_log_seq

SEGMENT_ROWS = 1 << 18  # tail rows written out as one segment file (128 MiB of 128-d descriptors)
_SCAN_ROWS = 1 << 14  # rows per step of face_distances
_FORMAT = 5  # the exact tier's sidecar is format 2; 3 held 1-bit codes
_WHOLE_CODES_FORMAT = 4  # int8 codes not split: read and split on load, and saved again (`upgraded`)
_SLACK = 1e-6  # absolute, on distances: far above float64 rounding of the bounds
_NARROW_FROM = 4096  # faces within the threshold from which the nearest possible are picked first
_HISTOGRAM_MAX = 1 << 22  # largest integer code distance counted in a histogram


def quantizer_for(sample: np.ndarray, dim: int) -> tuple[np.ndarray | None, float]:
    """(center, step) for a collection whose first descriptors are `sample`."""
    sample = np.asarray(sample, np.float32).reshape(-1, dim)
    if not len(sample):
        return None, int8_scan.choose_step(sample, np.zeros(dim, np.float32))
    center = sample.mean(axis=0)
    return center, int8_scan.choose_step(sample, center)


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
        step: float | None = None,
    ):
        super().__init__(dim, generation, log_seq)
        self.directory = directory
        self.prefix = prefix
        self.center = np.zeros(dim, np.float32) if center is None else np.asarray(center, np.float32)
        self.step = float(step) if step is not None else int8_scan.choose_step(np.zeros((0, dim)), self.center)
        h = split_scan.head_dims(dim)  # codes held as heads and tails, unsigned (split_scan)
        self.head = np.zeros((0, h), dtype=np.uint8)
        self.tail = np.zeros((0, dim - h), dtype=np.uint8)
        self.head_sq = np.zeros(0, dtype=np.int32)  # squared norm of each signed head code
        self.tail_sq = np.zeros(0, dtype=np.int32)
        self.radii = np.zeros(0, dtype=np.float32)  # upper bound of ||x - decoded code|| per face
        self._round = int8_scan.rounding_radius(dim, self.step)  # a larger radius: clipped when coded
        self._clipped = np.zeros(0, np.int64)  # positions of clipped faces: always re-ranked exactly
        self.segments: list[DiskSection] = []
        self.segment_names: list[str] = []
        self.segment_starts = np.zeros(
            1, dtype=np.int64
        )  # position of each segment's first row, then the end
        self.base = 0  # positions below live in segments, from here on in self.vectors (the tail)
        # one buffer for a full scan's distances (searches without a threshold), reused (a fresh
        # 80 MB array a search costs its page faults), so searches take turns (the engine's lock
        # serializes them anyway)
        self._scan_lock = threading.Lock()
        self._scan_buf: np.ndarray | None = None
        self.upgraded = False  # loaded from an older file format: save it again
        self.scan_group: int | None = None  # faces per GEMM row (split_scan; None: the fastest measured)

    # -- codes -----------------------------------------------------------------------------
    def encode(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(int8 codes, radii) of `vectors` in this collection's quantization."""
        return int8_scan.encode(vectors, self.center, self.step)

    @property
    def codes(self) -> np.ndarray:
        """The signed int8 codes of the first n faces (a copy)."""
        return self.codes_at(np.arange(self.n))

    def codes_at(self, positions: np.ndarray) -> np.ndarray:
        """The signed int8 codes of the faces at `positions`."""
        return np.concatenate(
            [split_scan.signed(self.head[positions]), split_scan.signed(self.tail[positions])], axis=1
        )

    def code_distances(self, code: np.ndarray) -> np.ndarray:
        """The integer squared distance (int64) from `code` to every face's code: a view of the
        index's scan buffer, valid until the next scan (call with `_scan_lock` held where searches
        may overlap)."""
        buf = self._scan_buf
        if buf is None or len(buf) < self.n:
            buf = self._scan_buf = np.empty(max(self.n, len(self.rowids)), np.int64)
        n = self.n
        return split_scan.all_distances(
            self.head[:n], self.head_sq[:n], self.tail[:n], self.tail_sq[:n], code, buf[:n], self.scan_group
        )

    def _set_codes(self, s: slice, codes: np.ndarray) -> None:
        self.head[s], self.head_sq[s], self.tail[s], self.tail_sq[s] = split_scan.split_codes(codes)

    def _split_whole_codes(self, codes: np.ndarray, n: int) -> None:
        """Codes of a format-4 file (whole int8 rows) into heads and tails; the file wants saving again."""
        if codes.shape != (n, self.dim) or codes.dtype != np.int8:
            raise DamagedIndexError("codes do not match")
        for lo in range(0, len(codes), 1 << 18):
            hi = min(len(codes), lo + (1 << 18))
            self._set_codes(slice(lo, hi), codes[lo:hi])
        self.upgraded = True

    # -- storage of rows -------------------------------------------------------------------
    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need > len(self.rowids):
            cap = max(need, int(len(self.rowids) * 1.5), 16)
            for name in ("sqnorms", "rowids", "owners", "head", "tail", "head_sq", "tail_sq", "radii"):
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
        codes, self.radii[s] = self.encode(vectors)
        self._set_codes(s, codes)
        far = np.flatnonzero(self.radii[s] > self._round)
        if len(far):
            self._clipped = np.concatenate([self._clipped, far + self.n])
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

    def search_faces(
        self, query: np.ndarray, max_distance: float, limit: int, exclude_rowid: int | None = None
    ):
        """The exact tier's answer: codes bound every distance; only possible answers are read."""
        if self.n == 0 or limit <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        with self._scan_lock:
            return self._search(query, max_distance, limit, exclude_rowid)

    def _search(self, query: np.ndarray, max_distance: float, limit: int, exclude_rowid: int | None):
        empty = np.zeros(0, np.int64), np.zeros(0, np.float64)
        q = np.asarray(query, dtype=np.float32).reshape(self.dim)
        codes, radii = self.encode(q.reshape(1, self.dim))
        code, r_q = codes[0], float(radii[0])
        step = self.step
        if np.isfinite(max_distance):  # no other face can match
            pos, sq = self._within(code, max_distance + r_q + self._round + _SLACK)
            if len(pos) > _NARROW_FROM:
                pos, sq = self._nearest_possible(pos, sq, r_q, limit)
        else:  # no threshold: within reach of the `limit`-th nearest decoded face
            scan = self.code_distances(code)  # integer squared distances between codes
            live = np.flatnonzero(np.isfinite(self.sqnorms[: self.n]))
            if len(live) <= limit + 1:
                pos = live
            else:
                kth = np.partition(scan[live], limit)[limit]  # limit + 1: the query's own face may be one
                reach = step * float(np.sqrt(kth)) + 2 * r_q + 2 * float(self.radii[live].max()) + _SLACK
                pos = live[scan[live] <= (reach / step) ** 2 * (1 + 1e-6)]
            sq = scan[pos]
        if exclude_rowid is not None:
            keep = self.rowids[pos] != exclude_rowid
            pos, sq = pos[keep], sq[keep]
        if len(pos) == 0:
            return empty
        decoded = step * np.sqrt(sq.astype(np.float64))
        lower = decoded - r_q - self.radii[pos] - _SLACK
        upper = decoded + r_q + self.radii[pos] + _SLACK
        if np.isfinite(max_distance):
            keep = lower <= max_distance
            pos, lower, upper = pos[keep], lower[keep], upper[keep]
        if len(pos) > limit:  # only faces that could be among the `limit` nearest
            kth_upper = np.partition(upper, limit - 1)[limit - 1]
            pos = pos[lower <= kth_upper]
        return self._rerank(q, pos, max_distance, limit)

    def _within(self, code: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
        """(positions, squared code distances) of the live faces whose code is within `reach` of
        `code` (the head-first scan of split_scan), and of every live clipped face."""
        n = self.n
        pos, sq = split_scan.within(
            self.head[:n], self.head_sq[:n], self.tail[:n], self.tail_sq[:n], code,
            (reach / self.step) ** 2 * (1 + 1e-6), self.scan_group,
        )
        clipped = self._clipped[self._clipped < n]
        extra = clipped[~np.isin(clipped, pos)] if len(clipped) else clipped
        if len(extra):
            extra_sq = ((self.codes_at(extra).astype(np.int64) - code.astype(np.int64)) ** 2).sum(axis=1)
            pos, sq = np.concatenate([pos, extra]), np.concatenate([sq, extra_sq])
            order = np.argsort(pos, kind="stable")
            pos, sq = pos[order], sq[order]
        live = np.isfinite(self.sqnorms[pos])
        return pos[live], sq[live]

    def _nearest_possible(
        self, pos: np.ndarray, sq: np.ndarray, r_q: float, limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Of many faces within the threshold, those that could still be among the `limit` nearest.

        The integer code distances are counted (a histogram, no sort): the smallest value v with
        limit + 1 unclipped faces at or below it means `limit` faces besides an excluded one are
        truly within B = step * sqrt(v) + r_q + the rounding radius; no face farther than B in
        truth can answer, and an unclipped one is surely farther when its decoded distance
        exceeds B + r_q + the rounding radius.
        """
        plain = self.radii[pos] <= self._round
        values = sq[plain]
        if len(values) <= limit + 1 or values.max() > _HISTOGRAM_MAX:
            return pos, sq
        v = int(np.searchsorted(np.cumsum(np.bincount(values)), limit + 1))
        bound = self.step * float(np.sqrt(v)) + r_q + self._round + _SLACK
        reach = (bound + r_q + self._round + _SLACK) / self.step
        keep = (sq <= reach * reach * (1 + 1e-6)) | ~plain
        return pos[keep], sq[keep]

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
            "step": self.step,
        }
        write_index_file(
            path,
            header,
            [
                ("rowids", self.rowids[:n]),
                ("owners", self.owners[:n]),
                ("sqnorms", self.sqnorms[:n]),
                ("code_head", self.head[:n]),
                ("code_tail", self.tail[:n]),
                ("code_head_sq", self.head_sq[:n]),
                ("code_tail_sq", self.tail_sq[:n]),
                ("radii", self.radii[:n]),
                ("center", self.center),
                ("user_pks", pks),
                ("user_counts", counts),
                ("user_sums", sums.astype(np.float64)),
                ("tail", self.vectors[: n - self.base]),
            ],
            crc_block=MEMORY_CRC_BLOCK,  # read whole on open; the segment files keep 4 KiB blocks
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
                whole_codes = meta.get("format") == _WHOLE_CODES_FORMAT
                if (meta.get("tier"), meta.get("collection_pk"), meta.get("dim")) != (cls.tier, collection_pk, dim) or (
                    meta.get("format") != _FORMAT and not whole_codes
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
                    float(meta["step"]),
                )
                if not 0 <= base <= n:
                    raise DamagedIndexError("tail start")
                cap = n + max(1024, n // 8)  # headroom: the next writes need no regrowth
                index.rowids, index.owners = np.empty(cap, np.int64), np.empty(cap, np.int64)
                index.sqnorms, index.radii = np.empty(cap, np.float32), np.empty(cap, np.float32)
                h = split_scan.head_dims(dim)
                index.head, index.tail = np.empty((cap, h), np.uint8), np.empty((cap, dim - h), np.uint8)
                index.head_sq, index.tail_sq = np.empty(cap, np.int32), np.empty(cap, np.int32)
                index.vectors = np.empty((n - base + 1024, dim), np.float32)
                for name in ("rowids", "owners", "sqnorms", "radii"):
                    file.read_into(name, getattr(index, name)[:n])
                if whole_codes:
                    index._split_whole_codes(file.read("codes"), n)
                else:
                    for name in ("head", "tail", "head_sq", "tail_sq"):
                        file.read_into(f"code_{name}", getattr(index, name)[:n])
                file.read_into("tail", index.vectors[: n - base])
                index.n, index.base, index.tombstones = n, base, int(meta["tombstones"])
                pks, counts, sums = file.read("user_pks"), file.read("user_counts"), file.read("user_sums")
            index.user_sums = {int(p): s for p, s in zip(pks, sums, strict=False)}
            index.user_counts = {int(p): int(c) for p, c in zip(pks, counts, strict=False)}
            live = index.sqnorms[:n][np.isfinite(index.sqnorms[:n])]
            index._max_sqnorm = float(live.max()) if len(live) else 0.0
            index._clipped = np.flatnonzero(index.radii[:n] > index._round)
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
        index = cls(dim, generation, log_seq, directory, prefix, *quantizer_for(sample, dim))
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
            *quantizer_for(exact.rows(live[:65536]), exact.dim),
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
