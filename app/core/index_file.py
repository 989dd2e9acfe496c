"""The search index's files: raw arrays behind a header, every 4 KiB block checksummed.

Layout: MAGIC, an 8-byte little-endian header length, the JSON header, the CRC-32 of that header
(4 bytes, little-endian); then the sections, each starting on a 4 KiB boundary and zero-padded to
one; then the CRC table, one CRC-32 per 4 KiB block of the sections, whose own CRC-32 is in the
header. A damaged byte anywhere is therefore noticed by whoever reads it:

- sections read into memory are verified block by block as they are read (CRC-32 runs at several
  GB/s, about 0.15 s for the 512 MB of a million 128-d descriptors);
- sections that stay on disk, memory-mapped, are verified a block at a time the first time a
  search touches that block (`MappedSection.rows`), so opening a 20-million-face index does not
  read its 10 GB of descriptors.

Any mismatch makes the file unusable (`DamagedIndexError`, or None from `IndexFile.open`); the
caller rebuilds the index from the database, which the file only caches.
"""

from __future__ import annotations

import json
import mmap
import os
import zlib
from pathlib import Path

import numpy as np

MAGIC = b"REKURATOR-INDEX\n"
BLOCK = 4096
_ZEROS = bytes(BLOCK)


class DamagedIndexError(Exception):
    """An index file's content does not match its checksums."""


def _pad(nbytes: int) -> int:
    return -nbytes % BLOCK


def block_crcs(view: memoryview) -> np.ndarray:
    """CRC-32 of each 4 KiB block of `view` (bytes), the last one as if zero-padded to 4 KiB."""
    n = len(view)
    out = np.empty((n + BLOCK - 1) // BLOCK, dtype=np.uint32)
    crc32 = zlib.crc32
    for i, start in enumerate(range(0, n, BLOCK)):
        chunk = view[start : start + BLOCK]
        crc = crc32(chunk)
        if len(chunk) < BLOCK:
            crc = crc32(_ZEROS[: BLOCK - len(chunk)], crc)
        out[i] = crc
    return out


def _bytes_of(array: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, as a writable view when the array is (empty arrays too)."""
    array = np.ascontiguousarray(array)
    return array.reshape(-1).view(np.uint8).data


def write_index_file(path: Path, header: dict, sections: list[tuple[str, np.ndarray]]) -> None:
    """Write header and sections atomically (temp file, fsync, rename) with their CRC table."""
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
    crcs = np.concatenate([block_crcs(_bytes_of(a)) for _n, a in sections] or [np.zeros(0, np.uint32)])
    crc_table = crcs.astype("<u4").tobytes()
    full = {**header, "sections": layout, "data_bytes": offset, "crc_table_crc": zlib.crc32(crc_table)}
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

    def __init__(self, path: Path, fh, header: dict, data_start: int, crcs: np.ndarray):
        self.path = path
        self._fh = fh
        self.header = header
        self._data_start = data_start
        self._crcs = crcs

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
            if data_bytes % BLOCK:
                raise DamagedIndexError("data length")
            fh.seek(data_start + data_bytes)
            table = fh.read(data_bytes // BLOCK * 4)
            if (
                len(table) != data_bytes // BLOCK * 4
                or zlib.crc32(table) != header["crc_table_crc"]
                or fh.read(1)
            ):
                raise DamagedIndexError("checksum table")
            return cls(path, fh, header, data_start, np.frombuffer(table, dtype="<u4"))
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
        self._fh.seek(self._data_start + sec["offset"])
        if self._fh.readinto(view) != len(view):
            raise DamagedIndexError(f"section {name}: truncated")
        first = sec["offset"] // BLOCK
        expected = self._crcs[first : first + (len(view) + BLOCK - 1) // BLOCK]
        if not np.array_equal(block_crcs(view), expected):
            raise DamagedIndexError(f"section {name}: checksum mismatch")

    def read(self, name: str) -> np.ndarray:
        sec = self.section(name)
        array = np.empty(sec["shape"], dtype=np.dtype(sec["dtype"]))
        self.read_into(name, array)
        return array

    def map(self, name: str) -> MappedSection:
        """A 2-d section left on disk, memory-mapped, verified lazily block by block."""
        sec = self.section(name)
        return MappedSection(
            self.path,
            self._data_start + sec["offset"],
            sec,
            self._crcs[sec["offset"] // BLOCK : (sec["offset"] + sec["nbytes"] + BLOCK - 1) // BLOCK],
        )


class MappedSection:
    """Rows of a memory-mapped section; each 4 KiB block is checked the first time it is read."""

    def __init__(self, path: Path, start: int, sec: dict, crcs: np.ndarray):
        self.dtype = np.dtype(sec["dtype"])
        self.shape = tuple(sec["shape"])
        self.nbytes = int(sec["nbytes"])
        self._crcs = crcs
        self._checked = np.zeros(len(crcs), dtype=bool)
        with open(path, "rb") as fh:
            # map from the enclosing page boundary; the section itself starts BLOCK-aligned in the file
            self._map = (
                mmap.mmap(fh.fileno(), start + self.nbytes + _pad(self.nbytes), access=mmap.ACCESS_READ)
                if self.nbytes
                else None
            )
        self._start = start
        self._bytes = (
            memoryview(self._map)[start : start + self.nbytes + _pad(self.nbytes)] if self._map else None
        )
        self.array = (
            np.frombuffer(self._bytes, dtype=self.dtype, count=int(np.prod(self.shape))).reshape(self.shape)
            if self._bytes is not None
            else np.zeros(self.shape, self.dtype)
        )
        self._row_bytes = (
            self.dtype.itemsize * int(np.prod(self.shape[1:])) if len(self.shape) > 1 else self.dtype.itemsize
        )

    def verify_rows(self, rows: np.ndarray) -> None:
        """Check the blocks holding `rows` (any order) that were not checked yet."""
        if self._bytes is None or len(rows) == 0:
            return
        rows = np.asarray(rows, dtype=np.int64)
        first = rows * self._row_bytes // BLOCK
        last = ((rows + 1) * self._row_bytes - 1) // BLOCK
        blocks = np.unique(np.concatenate([first, last]) if self._row_bytes > 1 else first)
        if self._row_bytes > BLOCK:  # rows spanning several blocks: every block in between too
            spans = [np.arange(a, b + 1) for a, b in zip(first, last, strict=True)]
            blocks = np.unique(np.concatenate(spans))
        todo = blocks[~self._checked[blocks]]
        crc32 = zlib.crc32
        for b in todo.tolist():
            if crc32(self._bytes[b * BLOCK : (b + 1) * BLOCK]) != self._crcs[b]:
                raise DamagedIndexError("memory-mapped descriptors: checksum mismatch")
        self._checked[todo] = True

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the given rows, their blocks verified first."""
        self.verify_rows(rows)
        return self.array[rows]

    def verify_all(self) -> None:
        self.verify_rows(np.arange(self.shape[0]))

    def release_pages(self) -> None:
        """Let the kernel drop this process's mapping of pages read so far (they stay in the page cache)."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            try:
                self._map.madvise(mmap.MADV_DONTNEED)
            except OSError:
                pass

    def close(self) -> None:
        self.array = np.zeros(self.shape, self.dtype)
        if self._bytes is not None:
            self._bytes.release()
            self._bytes = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass  # a caller still holds a view; the mapping goes when it does
            self._map = None
