"""The search index's files: raw arrays behind a header, every block checksummed.

Layout: MAGIC, an 8-byte little-endian header length, the JSON header, the CRC-32 of that header
(4 bytes, little-endian); then the sections, each starting on a 4 KiB boundary and zero-padded to
one; then the CRC table, one CRC-32 per checksum block of each section in file order (a section's
last block counted as if zero-padded to the block size), whose own CRC-32 is in the header. The
checksum block is the header's `crc_block` (4 KiB where absent, as in files written before it). A
damaged byte anywhere is therefore noticed by whoever reads it:

- files read whole into memory (`MEMORY_CRC_BLOCK`, 1 MiB blocks) are verified as they are read,
  by several threads at once: zlib releases the GIL for blocks that large, so reading and checking
  the 1.5 GB of a 1e7-face index run on every core instead of one;
- sections that stay on disk (4 KiB blocks) are read a row at a time by the searches that need
  them, and each block is verified as it is read (`DiskSection.rows`), so opening a
  20-million-face index does not read its 10 GB of descriptors.

Any mismatch makes the file unusable (`DamagedIndexError`, or None from `IndexFile.open`); the
caller rebuilds the index from the database, which the file only caches.
"""

from __future__ import annotations

import io
import json
import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

MAGIC = b"REKURATOR-INDEX\n"
BLOCK = 4096
MEMORY_CRC_BLOCK = 1 << 20  # for files read whole: zlib.crc32 releases the GIL only above 5 KiB
READ_CHUNK = 32 << 20  # sections larger than this are read and checked by several threads, a chunk each
_MAX_CRC_BLOCK = 64 << 20
READ_THREADS = 4  # also on 2 cores: a cold read gains from more reads in flight (bench_index_file_read.py)


class DamagedIndexError(Exception):
    """An index file's content does not match its checksums."""


def _pad(nbytes: int) -> int:
    return -nbytes % BLOCK


def _blocks(nbytes: int, block: int) -> int:
    return (nbytes + block - 1) // block


def block_crcs(view: memoryview, block: int = BLOCK) -> np.ndarray:
    """CRC-32 of each `block`-byte block of `view` (bytes), the last one as if zero-padded."""
    n = len(view)
    crc32 = zlib.crc32
    crcs = [crc32(view[start : start + block]) for start in range(0, n, block)]
    if n % block:
        crcs[-1] = crc32(bytes(block - n % block), crcs[-1])
    return np.asarray(crcs, dtype=np.uint32)


def _valid_crc_block(block: object) -> bool:
    return isinstance(block, int) and BLOCK <= block <= _MAX_CRC_BLOCK and block & (block - 1) == 0


def _bytes_of(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, as a writable view when the array is (empty arrays too)."""
    array = np.ascontiguousarray(array)
    return array.reshape(-1).view(np.uint8).data


def write_index_file(
    path: Path, header: dict, sections: list[tuple[str, np.ndarray]], crc_block: int = BLOCK
) -> None:
    """Write header and sections atomically (temp file, fsync, rename) with their CRC table.

    `crc_block`: BLOCK for files whose sections are read row by row (`IndexFile.on_disk`),
    MEMORY_CRC_BLOCK for files read whole.
    """
    if not _valid_crc_block(crc_block):
        raise ValueError(f"crc_block must be a power of two from {BLOCK} to {_MAX_CRC_BLOCK}: {crc_block}")
    layout, offset = {}, 0
    for name, array in sections:
        nbytes = array.nbytes
        layout[name] = {
            "offset": offset,
            "nbytes": nbytes,
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
        offset += nbytes + _pad(nbytes)
    crcs = [block_crcs(_bytes_of(a), crc_block) for _n, a in sections]
    crc_table = np.concatenate(crcs or [np.zeros(0, np.uint32)]).astype("<u4").tobytes()
    full = {
        **header,
        "sections": layout,
        "data_bytes": offset,
        "crc_table_crc": zlib.crc32(crc_table),
        "crc_block": crc_block,  # files written before it lack it: 4 KiB
    }
    head = json.dumps(full, sort_keys=True).encode()
    prefix = MAGIC + len(head).to_bytes(8, "little") + head + zlib.crc32(head).to_bytes(4, "little")
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(prefix + bytes(_pad(len(prefix))))
            for _name, array in sections:
                view = _bytes_of(array)
                fh.write(view)
                fh.write(bytes(_pad(len(view))))
            fh.write(crc_table)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class IndexFile:
    """An index file opened for reading, its header and CRC table verified."""

    def __init__(self, path: Path, fh, header: dict, data_start: int, crcs: np.ndarray, crc_first: dict):
        self.path = path
        self._fh = fh
        self.header = header
        self.crc_block = int(header.get("crc_block", BLOCK))
        self._data_start = data_start
        self._crcs = crcs
        self._crc_first = crc_first  # section name -> index of its first CRC in the table

    @classmethod
    def open(cls, path: Path) -> IndexFile | None:
        """The file at `path` if its header and CRC table are intact, else None."""
        try:
            fh = open(path, "rb")
        except OSError:
            return None
        try:
            if fh.read(len(MAGIC)) != MAGIC:
                raise DamagedIndexError("not an index file")
            length = int.from_bytes(fh.read(8), "little")
            if not 0 < length < 1 << 24:
                raise DamagedIndexError("header length")
            head = fh.read(length)
            if len(head) != length or zlib.crc32(head) != int.from_bytes(fh.read(4), "little"):
                raise DamagedIndexError("header checksum")
            header = json.loads(head)
            prefix = len(MAGIC) + 8 + length + 4
            data_start = prefix + _pad(prefix)
            data_bytes = int(header["data_bytes"])
            crc_block = header.get("crc_block", BLOCK)
            if data_bytes % BLOCK:
                raise DamagedIndexError("data length")
            if not _valid_crc_block(crc_block):
                raise DamagedIndexError("checksum block size")
            crc_first, count = {}, 0
            for name, sec in sorted(header["sections"].items(), key=lambda item: item[1]["offset"]):
                crc_first[name] = count
                count += _blocks(int(sec["nbytes"]), crc_block)
            fh.seek(data_start + data_bytes)
            table = fh.read(count * 4)
            if len(table) != count * 4 or zlib.crc32(table) != header["crc_table_crc"] or fh.read(1):
                raise DamagedIndexError("checksum table")
            return cls(path, fh, header, data_start, np.frombuffer(table, dtype="<u4"), crc_first)
        except (OSError, ValueError, KeyError, TypeError, DamagedIndexError):
            fh.close()
            return None

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def section(self, name: str) -> dict:
        return self.header["sections"][name]

    def read_into(self, name: str, array: np.ndarray) -> None:
        """Fill `array` (C-contiguous, the section's size) from the section, verifying every block."""
        sec = self.section(name)
        if not array.flags.c_contiguous:
            raise ValueError("read_into needs a C-contiguous array")
        view = _bytes_of(array)
        if len(view) != sec["nbytes"]:
            raise DamagedIndexError(f"section {name}: size")
        first, block = self._crc_first[name], self.crc_block
        expected = self._crcs[first : first + _blocks(len(view), block)]
        if len(view) <= READ_CHUNK or not hasattr(os, "preadv"):
            self._fh.seek(self._data_start + sec["offset"])
            if self._fh.readinto(view) != len(view):
                raise DamagedIndexError(f"section {name}: truncated")
            if not np.array_equal(block_crcs(view, block), expected):
                raise DamagedIndexError(f"section {name}: checksum mismatch")
            return
        self._read_checking(name, self._data_start + sec["offset"], view, expected)

    def _read_checking(self, name: str, offset: int, view: memoryview, expected: np.ndarray) -> None:
        """Read a large section in chunks on several threads, each checking the chunk it read.

        Positioned reads and, for 1 MiB checksum blocks, the CRCs release the GIL, so the work
        spreads over the cores (and the disk serves more than one read at a time). Every thread has
        finished before this returns, so nothing writes into the caller's array afterwards.
        """
        block = self.crc_block
        step = max(READ_CHUNK // block, 1) * block
        chunks = [(lo, min(len(view), lo + step)) for lo in range(0, len(view), step)]
        stop = threading.Event()
        fd = self._fh.fileno()

        def read_and_check(lo: int, hi: int) -> None:
            at = lo
            while at < hi:
                if stop.is_set():
                    return
                got = os.preadv(fd, [view[at:hi]], offset + at)
                if got <= 0:
                    raise DamagedIndexError(f"section {name}: truncated")
                at += got
            if not np.array_equal(block_crcs(view[lo:hi], block), expected[lo // block : _blocks(hi, block)]):
                raise DamagedIndexError(f"section {name}: checksum mismatch")

        threads = min(len(chunks), READ_THREADS)
        with ThreadPoolExecutor(threads, thread_name_prefix="index-file-reader") as pool:
            futures = [pool.submit(read_and_check, lo, hi) for lo, hi in chunks]
            try:
                for future in futures:
                    future.result()  # DamagedIndexError, or the OSError of the read as readinto raises it
            finally:
                stop.set()  # the first failure ends the others early; leaving the block waits for them

    def read(self, name: str) -> np.ndarray:
        sec = self.section(name)
        array = np.empty(sec["shape"], dtype=np.dtype(sec["dtype"]))
        self.read_into(name, array)
        return array

    def on_disk(self, name: str) -> DiskSection:
        """A 2-d section left on disk; rows are read on demand, their blocks checked as they are read."""
        if self.crc_block != BLOCK:
            raise ValueError(f"{self.path.name}: sections read row by row need {BLOCK}-byte checksum blocks")
        sec = self.section(name)
        first = self._crc_first[name]
        return DiskSection(
            self.path, self._data_start + sec["offset"], sec, self._crcs[first : first + _blocks(sec["nbytes"], BLOCK)]
        )


class DiskSection:
    """Rows of a section that stays on disk, read with positioned reads, 4 KiB block by block.

    Each block read is checked against its CRC-32 every time (about a microsecond per block), so a
    file damaged even after it was opened is noticed. Not a memory map: on this kind of kernel
    (large page-cache folios) touching a thousand random rows of a mapped file made about 2 GB of
    it resident in the process at 1e7 faces; positioned reads keep the page cache out of the
    process's memory. Adjacent blocks are read together (one `preadv` per run of them).
    """

    def __init__(self, path: Path, start: int, sec: dict, crcs: np.ndarray):
        self.dtype = np.dtype(sec["dtype"])
        self.shape = tuple(sec["shape"])
        self.nbytes = int(sec["nbytes"])
        self._crcs = crcs
        self._start = start
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        self._fh: io.BufferedReader | None = open(path, "rb")  # held open until close()
        self._lock = threading.Lock()  # seek + read where os.preadv is missing (Windows)

    def _read_into(self, offset: int, view: memoryview) -> int:
        """Where os.preadv is missing (Windows): seek and read under a lock."""
        assert self._fh is not None
        with self._lock:
            self._fh.seek(offset)
            return self._fh.readinto(view) or 0

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (any order) as a new array, every block they lie in checked.

        The blocks are read once each, a run of adjacent blocks with one positioned read.
        """
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows),) + self.shape[1:], dtype=self.dtype)
        if len(rows) == 0:
            return out
        if rows.min() < 0 or rows.max() >= self.shape[0]:
            raise IndexError("row out of range")
        first = rows * self._row_bytes // BLOCK
        last = ((rows + 1) * self._row_bytes - 1) // BLOCK
        span = int((last - first).max()) + 1
        blocks = np.unique((first[:, None] + np.arange(span)).clip(max=last[:, None]))
        buf = np.empty(len(blocks) * BLOCK, dtype=np.uint8)
        view = buf.data
        # runs of adjacent blocks: (first block, first slot, slot after the last)
        starts = np.r_[0, np.flatnonzero(np.diff(blocks) != 1) + 1]
        ends = np.r_[starts[1:], len(blocks)]
        offsets = (self._start + blocks[starts] * BLOCK).tolist()
        if self._fh is None:
            raise ValueError("section closed")
        fd, preadv = self._fh.fileno(), getattr(os, "preadv", None)
        for offset, lo, hi in zip(offsets, (starts * BLOCK).tolist(), (ends * BLOCK).tolist(), strict=True):
            got = preadv(fd, [view[lo:hi]], offset) if preadv else self._read_into(offset, view[lo:hi])
            if got != hi - lo:
                raise DamagedIndexError("descriptors on disk: truncated")
        if not np.array_equal(block_crcs(view), self._crcs[blocks]):  # whole blocks: no padding
            raise DamagedIndexError("descriptors on disk: checksum mismatch")
        # the blocks of one row are adjacent in `buf`, in file order: each row is one slice of it
        start = np.searchsorted(blocks, first) * BLOCK + rows * self._row_bytes - first * BLOCK
        dest = out.reshape(len(rows), -1).view(np.uint8)
        dest[:] = np.lib.stride_tricks.sliding_window_view(buf, self._row_bytes)[start]
        return out

    def verify_all(self) -> None:
        for lo in range(0, self.shape[0], 8192):
            self.rows(np.arange(lo, min(self.shape[0], lo + 8192)))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
