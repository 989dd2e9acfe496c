"""Decode request image bytes (JPEG or PNG only) into an upright RGB array, strictly.

Rules (ours where Rekognition is silent; keep them here and in the README):

- The format is decided by content (magic bytes), never by a file name. Only JPEG and PNG.
- 0 bytes -> InvalidImageFormatException; more than 5,242,880 bytes (the service model's
  ImageBlob maximum) -> ImageTooLargeException.
- Resolution limit: the width and height are read from the PNG IHDR / JPEG SOF header *before*
  anything is decoded, so a small file that claims a huge raster (a decompression bomb) costs
  nothing. More than MAX_SIDE pixels on a side or MAX_PIXELS pixels in all ->
  ImageTooLargeException (the service documents that exception for "size or resolution").
- The container structure is checked before decoding: PNG chunk lengths and CRCs and an IEND
  chunk; JPEG segment lengths, a frame header before the scan, and an EOI marker after the
  entropy-coded data. A file cut short is therefore rejected even where a decoder would
  quietly fill the missing rows with gray.
- PNG grayscale, palette, 16-bit and alpha are all accepted. 16-bit samples are rounded to
  8 bits. Alpha is composited over white (transparent areas become white, whatever colour the
  encoder left under them), so the same picture always gives the same pixels.
- JPEG EXIF orientation (APP1 "Exif", TIFF tag 0x0112) is applied: the pixels come back
  upright. `orientation_correction` names the rotation the way Rekognition's
  OrientationCorrection enum does ("the orientation of the input image, counterclockwise"):
  ROTATE_90 means the stored raster is the upright picture turned 90 degrees counterclockwise
  (EXIF 6), and we turned it 90 degrees clockwise. Mirrored orientations (2, 4, 5, 7) are
  un-mirrored too and report their rotation part. It is None for PNG (Rekognition: PNG has no
  EXIF; an eXIf chunk is ignored) and for JPEGs without a valid orientation tag.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from app.core.errors import ImageTooLargeException, InvalidImageFormatException

MAX_IMAGE_BYTES = 5_242_880
MAX_SIDE = 16_384
MAX_PIXELS = 40_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"

# Allowed PNG bit depths per colour type (PNG spec, table 11.1).
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}

# JPEG start-of-frame markers; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

# EXIF orientation -> OrientationCorrection name (the rotation part; mirroring is not named).
_ROTATION_NAME = {1: "ROTATE_0", 2: "ROTATE_0", 3: "ROTATE_180", 4: "ROTATE_180",
                  5: "ROTATE_270", 6: "ROTATE_90", 7: "ROTATE_90", 8: "ROTATE_270"}

# Magic numbers of formats people send by mistake, to name them in the error message.
_OTHER_FORMATS = (
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"), (b"RIFF", "RIFF/WebP"), (b"\x00\x00\x01\x00", "ICO"), (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
)


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An upright RGB image decoded from request bytes."""

    rgb: np.ndarray  # uint8, shape (height, width, 3), C-contiguous, upright
    format: str  # "JPEG" or "PNG", from the content
    orientation_correction: str | None  # ROTATE_0/90/180/270 for JPEGs with EXIF orientation
    exif_orientation: int | None  # the raw EXIF tag value 1..8, None when absent

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    exif_orientation: int | None = None


def decode_image(data: bytes) -> DecodedImage:
    """Validate and decode JPEG/PNG bytes; raise a typed error naming the problem."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"image data must be bytes, not {type(data).__name__}")
    if len(data) == 0:
        raise InvalidImageFormatException("Image bytes are empty (0 bytes); a JPEG or PNG image is required.")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLargeException(
            f"Image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes (5 MiB)."
        )

    if data.startswith(_PNG_SIGNATURE):
        kind = "PNG"
        header = _read_png_structure(data)
    elif data.startswith(_JPEG_SIGNATURE):
        kind = "JPEG"
        header = _read_jpeg_structure(data)
    else:
        raise InvalidImageFormatException(
            f"Image format not supported: {_describe_unknown(data)}; only JPEG and PNG are accepted."
        )

    _check_resolution(kind, header)
    pixels = _decode_pixels(data, kind)
    if pixels.shape[:2] != (header.height, header.width):
        raise InvalidImageFormatException(
            f"{kind} decoded to {pixels.shape[1]}x{pixels.shape[0]} pixels but its header says "
            f"{header.width}x{header.height}; the file is corrupt."
        )
    rgb = _to_rgb8(pixels)

    orientation = header.exif_orientation
    if orientation is not None:
        rgb = _apply_exif_orientation(rgb, orientation)
    return DecodedImage(
        rgb=np.ascontiguousarray(rgb),
        format=kind,
        orientation_correction=_ROTATION_NAME[orientation] if orientation is not None else None,
        exif_orientation=orientation,
    )


def _describe_unknown(data: bytes) -> str:
    for magic, name in _OTHER_FORMATS:
        if data.startswith(magic):
            if name == "RIFF/WebP" and data[8:12] == b"WEBP":
                return "the bytes are a WebP image"
            return f"the bytes look like {name}"
    head = data[:64]
    if head.lstrip()[:1] in (b"<", b"{", b"["):
        return "the bytes look like text (markup or JSON), not an image"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "the bytes look like text, not an image"
    return f"unrecognised leading bytes {data[:8].hex(' ')}"


def _check_resolution(kind: str, header: _Header) -> None:
    w, h = header.width, header.height
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise ImageTooLargeException(
            f"{kind} header declares {w}x{h} pixels; the limit is {MAX_SIDE} pixels per side "
            f"and {MAX_PIXELS:,} pixels in total."
        )


# --- PNG --------------------------------------------------------------------------------------


def _read_png_structure(data: bytes) -> _Header:
    """Check every chunk's length and CRC, require IHDR first and IEND last; return the size."""
    n = len(data)
    pos = len(_PNG_SIGNATURE)
    width = height = None
    seen_idat = False
    first = True
    while True:
        if pos + 12 > n:
            raise InvalidImageFormatException(
                f"PNG is truncated: it ends at byte {n} before the IEND chunk (file cut short?)."
            )
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if not ctype.isalpha():
            raise InvalidImageFormatException(f"PNG is corrupt: invalid chunk type {ctype!r} at byte {pos}.")
        if length > 0x7FFFFFFF or pos + 12 + length > n:
            raise InvalidImageFormatException(
                f"PNG is truncated: chunk {ctype.decode('ascii')} at byte {pos} needs {length} bytes "
                f"but the file ends at byte {n}."
            )
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) != crc:
            raise InvalidImageFormatException(
                f"PNG is corrupt: CRC mismatch in chunk {ctype.decode('ascii')} at byte {pos}."
            )
        if first:
            if ctype != b"IHDR" or length != 13:
                raise InvalidImageFormatException("PNG is corrupt: the first chunk is not a 13-byte IHDR.")
            width, height = _parse_ihdr(body)
            first = False
        elif ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"IEND":
            if not seen_idat:
                raise InvalidImageFormatException("PNG is corrupt: no IDAT (image data) chunk before IEND.")
            return _Header(width, height)
        pos += 12 + length


def _parse_ihdr(body: bytes) -> tuple[int, int]:
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if width == 0 or height == 0 or width > 0x7FFFFFFF or height > 0x7FFFFFFF:
        raise InvalidImageFormatException(f"PNG is corrupt: invalid dimensions {width}x{height} in IHDR.")
    if depth not in _PNG_DEPTHS.get(color, ()):
        raise InvalidImageFormatException(
            f"PNG is corrupt: colour type {color} with bit depth {depth} is not a valid combination."
        )
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise InvalidImageFormatException("PNG is corrupt: unknown compression, filter or interlace method in IHDR.")
    return width, height


# --- JPEG -------------------------------------------------------------------------------------


def _read_jpeg_structure(data: bytes) -> _Header:
    """Walk the marker segments up to the first scan, then find EOI after the scan data."""
    pos = 2  # after SOI
    frame = None
    orientation = None
    while True:
        marker, pos = _next_marker(data, pos)
        if marker == 0xD9:
            raise InvalidImageFormatException("JPEG is corrupt: EOI marker before any image data.")
        if marker == 0xD8:
            raise InvalidImageFormatException(f"JPEG is corrupt: unexpected SOI marker at byte {pos - 2}.")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # standalone markers carry no length
        body, end = _segment_body(data, pos, marker)
        if marker in _JPEG_SOF:
            if frame is not None:
                raise InvalidImageFormatException("JPEG is corrupt: more than one frame header (SOF).")
            if len(body) < 6:
                raise InvalidImageFormatException("JPEG is corrupt: frame header (SOF) too short.")
            _precision, height, width, _components = struct.unpack(">BHHB", body[:6])
            if width == 0 or height == 0:
                raise InvalidImageFormatException(
                    f"JPEG not supported: frame header declares {width}x{height} pixels "
                    "(a zero height defined later by a DNL marker is not supported)."
                )
            frame = (width, height)
        elif marker == 0xE1 and orientation is None and body.startswith(b"Exif\x00\x00"):
            orientation = _exif_orientation(body[6:])
        elif marker == 0xDA:
            if frame is None:
                raise InvalidImageFormatException("JPEG is corrupt: scan (SOS) before any frame header (SOF).")
            _find_eoi(data, end)
            return _Header(frame[0], frame[1], orientation)
        pos = end


def _next_marker(data: bytes, pos: int) -> tuple[int, int]:
    """Return (marker byte, position after it); skip 0xFF fill bytes."""
    n = len(data)
    if pos >= n:
        raise InvalidImageFormatException(f"JPEG is truncated: it ends at byte {n} inside the header.")
    if data[pos] != 0xFF:
        raise InvalidImageFormatException(f"JPEG is corrupt: expected a marker at byte {pos}.")
    while pos < n and data[pos] == 0xFF:
        pos += 1
    if pos >= n:
        raise InvalidImageFormatException(f"JPEG is truncated: it ends at byte {n} inside a marker.")
    return data[pos], pos + 1


def _segment_body(data: bytes, pos: int, marker: int) -> tuple[bytes, int]:
    """The payload of the segment whose length field starts at `pos`, and where it ends."""
    n = len(data)
    if pos + 2 > n:
        raise InvalidImageFormatException(f"JPEG is truncated: it ends at byte {n} inside segment 0xFF{marker:02X}.")
    (length,) = struct.unpack(">H", data[pos:pos + 2])
    if length < 2:
        raise InvalidImageFormatException(f"JPEG is corrupt: segment 0xFF{marker:02X} at byte {pos} has length {length}.")
    end = pos + length
    if end > n:
        raise InvalidImageFormatException(
            f"JPEG is truncated: segment 0xFF{marker:02X} at byte {pos} needs {length} bytes "
            f"but the file ends at byte {n}."
        )
    return data[pos + 2:end], end


def _find_eoi(data: bytes, pos: int) -> int:
    """Skip entropy-coded data and any segments between scans; return the offset after EOI.

    In scan data 0xFF is always followed by 0x00 (a stuffed byte) or RST0-7, so any other
    0xFFxx is a real marker. Data after EOI is allowed (cameras append some).
    """
    n = len(data)
    while True:
        i = data.find(b"\xff", pos)
        if i < 0 or i + 1 >= n:
            raise InvalidImageFormatException(
                f"JPEG is truncated: the image data ends at byte {n} without an EOI marker (file cut short?)."
            )
        marker = data[i + 1]
        if marker == 0x00 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos = i + 2
        elif marker == 0xFF:
            pos = i + 1  # fill byte before a marker
        elif marker == 0xD9:
            return i + 2
        elif marker == 0xD8:
            raise InvalidImageFormatException(f"JPEG is corrupt: unexpected SOI marker at byte {i}.")
        else:
            # DHT, DQT, SOS, DRI, COM... between the scans of a progressive or multi-scan file.
            _, pos = _segment_body(data, i + 2, marker)


def _exif_orientation(tiff: bytes) -> int | None:
    """Read tag 0x0112 from IFD0 of an EXIF TIFF block; None when absent or malformed.

    Malformed EXIF is metadata damage, not image damage, so it never rejects the image.
    """
    if len(tiff) < 8:
        return None
    if tiff[:4] == b"II*\x00":
        order = "<"
    elif tiff[:4] == b"MM\x00*":
        order = ">"
    else:
        return None
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd < 8 or ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack(order + "H", tiff[ifd:ifd + 2])
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            return None
        tag, typ, n_values = struct.unpack(order + "HHI", tiff[entry:entry + 8])
        if tag != 0x0112:
            continue
        if typ == 3 and n_values >= 1:  # SHORT, as the standard says
            (value,) = struct.unpack(order + "H", tiff[entry + 8:entry + 10])
        elif typ == 4 and n_values >= 1:  # LONG, written by a few tools
            (value,) = struct.unpack(order + "I", tiff[entry + 8:entry + 12])
        else:
            return None
        return value if 1 <= value <= 8 else None
    return None


def _apply_exif_orientation(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Turn the stored raster upright (EXIF 2.3, tag 0x0112 semantics)."""
    if orientation == 2:
        return rgb[:, ::-1]
    if orientation == 3:
        return rgb[::-1, ::-1]
    if orientation == 4:
        return rgb[::-1]
    if orientation == 5:
        return rgb.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(rgb, k=-1)  # clockwise
    if orientation == 7:
        return rgb[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(rgb, k=1)  # counterclockwise
    return rgb


# --- pixels -----------------------------------------------------------------------------------


def _decode_pixels(data: bytes, kind: str) -> np.ndarray:
    buffer = np.frombuffer(data, dtype=np.uint8)
    if kind == "JPEG":
        # We apply EXIF orientation ourselves, so OpenCV must not.
        flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    else:
        flags = cv2.IMREAD_UNCHANGED  # keeps alpha and 16-bit samples; never rotates
    try:
        pixels = cv2.imdecode(buffer, flags)
    except cv2.error as exc:
        raise InvalidImageFormatException(f"{kind} could not be decoded: {exc}") from None
    if pixels is None or pixels.size == 0:
        raise InvalidImageFormatException(
            f"{kind} could not be decoded: the image data is corrupt or uses an unsupported variant."
        )
    return pixels


def _to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """OpenCV's gray / BGR / BGRA (8 or 16 bit) -> RGB uint8, alpha composited over white."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    if channels not in (1, 2, 3, 4):
        raise InvalidImageFormatException(f"Image has {channels} channels; expected 1 to 4.")
    if pixels.dtype == np.uint8:
        full = 255.0
    elif pixels.dtype == np.uint16:
        full = 65535.0
    else:
        raise InvalidImageFormatException(f"Image sample type {pixels.dtype} is not supported.")

    has_alpha = channels in (2, 4)
    colour = pixels[:, :, :-1] if has_alpha else pixels
    if has_alpha:
        alpha = pixels[:, :, -1:].astype(np.float32) / full
        blended = colour.astype(np.float32) * alpha + full * (1.0 - alpha)
        colour8 = np.rint(blended * (255.0 / full)).astype(np.uint8)
    elif pixels.dtype == np.uint16:
        colour8 = ((colour.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    else:
        colour8 = colour

    if colour8.shape[2] == 1:
        return cv2.cvtColor(colour8, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(np.ascontiguousarray(colour8), cv2.COLOR_BGR2RGB)
