"""The compressed tier's search as it was before faiss (commit 5847c89), for same-run comparisons.

A numpy Hamming scan (cache-sized chunks, two threads), the numpy cut-off rule (every face at
Hamming distance <= the wanted-th, found from a sample's histogram and confirmed by counting),
and descriptor rows read one 4 KiB block per `pread`. It works on a current `CompressedIndex`
(same codes, same segment files) and returns what `search_faces` returned then.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from app.core import compressed_index
from app.core.compressed_index import CompressedIndex
from app.core.index_file import BLOCK, DamagedIndexError, DiskSection

_SCAN_ROWS = 1 << 14
_pool = ThreadPoolExecutor(2, thread_name_prefix="old-scan")


def hamming(index: CompressedIndex, code: np.ndarray) -> np.ndarray:
    n = index.n
    out = np.empty(n, dtype=index._ham_dtype)

    def scan(lo: int, hi: int) -> None:
        buf = np.empty((_SCAN_ROWS, index.words), dtype=np.uint64)
        for a in range(lo, hi, _SCAN_ROWS):
            b = min(hi, a + _SCAN_ROWS)
            x = buf[: b - a]
            np.bitwise_xor(index.codes[a:b], code, out=x)
            np.bitwise_count(x, out=x)
            np.add(x[:, 0], x[:, 1] if index.words > 1 else 0, out=out[a:b], casting="unsafe")
            for w in range(2, index.words):
                np.add(out[a:b], x[:, w], out=out[a:b], casting="unsafe")

    if n >= 64 * _SCAN_ROWS:
        mid = (n // 2) // _SCAN_ROWS * _SCAN_ROWS
        list(_pool.map(lambda r: scan(*r), [(0, mid), (mid, n)]))
    else:
        scan(0, n)
    return out


def candidates(index: CompressedIndex, query: np.ndarray, wanted: int) -> np.ndarray:
    ham = hamming(index, index.encode(np.asarray(query, np.float32).reshape(1, index.dim))[0])
    dead = np.iinfo(ham.dtype).max
    if index.tombstones:
        ham[~np.isfinite(index.sqnorms[: index.n])] = dead
    if wanted >= index.live_count:
        return np.flatnonzero(ham < dead)
    step = max(1, index.n // 65536)
    hist = np.cumsum(np.bincount(ham[::step], minlength=int(dead) + 1)) * step
    h = int(np.searchsorted(hist, wanted))
    count = np.count_nonzero(ham <= h)
    while count < wanted:
        h += 1
        count = np.count_nonzero(ham <= h)
    while h > 0:
        fewer = np.count_nonzero(ham <= h - 1)
        if fewer < wanted:
            break
        h, count = h - 1, fewer
    return np.flatnonzero(ham <= h)


def _section_rows(sec: DiskSection, rows: np.ndarray) -> np.ndarray:
    out = np.empty((len(rows),) + sec.shape[1:], dtype=sec.dtype)
    if len(rows) == 0:
        return out
    assert sec._fh is not None
    fd = sec._fh.fileno()
    first = rows * sec._row_bytes // BLOCK
    last = ((rows + 1) * sec._row_bytes - 1) // BLOCK
    dest = out.reshape(len(rows), -1).view(np.uint8)
    cache: dict[int, bytes] = {}
    for i, (a, b) in enumerate(zip(first.tolist(), last.tolist(), strict=True)):
        for blk in range(a, b + 1):
            if blk not in cache:
                data = os.pread(fd, BLOCK, sec._start + blk * BLOCK)
                if len(data) != BLOCK or zlib.crc32(data) != sec._crcs[blk]:
                    raise DamagedIndexError("descriptors on disk: checksum mismatch")
                cache[blk] = data
        lo = int(rows[i]) * sec._row_bytes - a * BLOCK
        span = b"".join(cache[blk] for blk in range(a, b + 1)) if b > a else cache[a]
        dest[i] = np.frombuffer(span, dtype=np.uint8, count=sec._row_bytes, offset=lo)
    return out


def rows(index: CompressedIndex, positions: np.ndarray) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.int64)
    out = np.empty((len(positions), index.dim), dtype=np.float32)
    in_tail = positions >= index.base
    if in_tail.any():
        out[in_tail] = index.vectors[positions[in_tail] - index.base]
    if not in_tail.all():
        where = np.flatnonzero(~in_tail)
        pos = positions[where]
        seg = np.searchsorted(index.segment_starts, pos, side="right") - 1
        for s in np.unique(seg).tolist():
            mine = seg == s
            out[where[mine]] = _section_rows(index.segments[s], pos[mine] - index.segment_starts[s])
    return out


def search_faces(index: CompressedIndex, query: np.ndarray, max_distance: float, limit: int,
                 exclude_rowid: int | None = None):
    """The old `CompressedIndex.search_faces`: (rowids, float64 distances)."""
    if index.n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    cand = candidates(index, query, max(compressed_index.CANDIDATES, compressed_index.CANDIDATES_PER_MATCH * limit))
    q = np.asarray(query, dtype=np.float32).reshape(index.dim)
    d2 = index.sqnorms[cand] - 2.0 * (rows(index, cand) @ q) + np.float32(q @ q)
    qq = float(q.astype(np.float64) @ q.astype(np.float64))
    margin = 1e-5 * (qq + index._max_sqnorm + 1e-3)
    hits = np.flatnonzero(d2 <= max_distance * max_distance + margin)
    if exclude_rowid is not None:
        hits = hits[index.rowids[cand[hits]] != exclude_rowid]
    if len(hits) > limit:
        kth = np.partition(d2[hits], limit - 1)[limit - 1]
        hits = hits[d2[hits] <= kth + 2 * margin]
    pos = cand[hits]
    diff = rows(index, pos).astype(np.float64) - q.astype(np.float64)
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    keep = dist <= max_distance
    pos, dist = pos[keep], dist[keep]
    order = np.lexsort((index.rowids[pos], dist))[:limit]
    return index.rowids[pos[order]].copy(), dist[order]
