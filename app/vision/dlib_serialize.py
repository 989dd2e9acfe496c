"""Readers for dlib's serialization primitives (dlib/serialize.h, dlib/float_details.h).

dlib files have no header: objects are read back to back. Integers are one control byte
(bit 7 = negative, low 4 bits = byte count) followed by that many little-endian bytes.
Floats are a mantissa then an exponent, both in the integer format.
"""

from __future__ import annotations

import numpy as np


class DlibFormatError(ValueError):
    """The bytes are not a dlib object of the expected kind."""


class DlibReader:
    """Sequential reader over the bytes of a dlib-serialized file."""

    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DlibFormatError(f"unexpected end of data at byte {self.pos} (wanted {n} bytes)")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def integer(self) -> int:
        control = self.raw(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at byte {self.pos - 1}")
        value = int.from_bytes(self.raw(size), "little")
        return -value if control & 0x80 else value

    def uint(self) -> int:
        value = self.integer()
        if value < 0:
            raise DlibFormatError(f"negative value where an unsigned integer was expected at byte {self.pos}")
        return value

    def boolean(self) -> bool:
        b = self.raw(1)
        if b not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool byte {b!r} at byte {self.pos - 1}")
        return b == b"1"

    def real(self) -> float:
        if self.data[self.pos] & 0x70:
            raise DlibFormatError(f"legacy ASCII float format at byte {self.pos} is not supported")
        mantissa = self.integer()
        exponent = self.integer()
        if exponent == 32000:
            return float("inf")
        if exponent == 32001:
            return float("-inf")
        if exponent == 32002:
            return float("nan")
        return float(mantissa) * (2.0**exponent)

    def string(self) -> str:
        n = self.uint()
        return self.raw(n).decode("latin-1")

    def peek_string(self) -> str:
        """Read a string without consuming it."""
        start = self.pos
        try:
            return self.string()
        finally:
            self.pos = start

    def float32_array(self, count: int) -> np.ndarray:
        """Raw little-endian IEEE float32 values (as tensors store them)."""
        return np.frombuffer(self.raw(4 * count), dtype="<f4").astype(np.float32)

    def matrix(self, element=None) -> np.ndarray:
        """dlib::matrix<T>: -nr, -nc (new format) then row-major elements."""
        element = element or self.real
        nr, nc = self.integer(), self.integer()
        if nr < 0 or nc < 0:
            nr, nc = -nr, -nc
        values = [element() for _ in range(nr * nc)]
        return np.asarray(values, dtype=np.float64).reshape(nr, nc)
