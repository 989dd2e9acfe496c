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
- Memory is bounded (issue 13): a large image first reserves its working set in the process-wide
  budget of image_memory.py; a large non-interlaced PNG is decoded band by band, so its samples
  (320 MB for a 40-megapixel 16-bit RGBA image) never exist whole; 16-bit and alpha samples are
  converted strip by strip with exact integer rounding (see _to_rgb8).
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

from . import image_memory

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
    orientation = header.exif_orientation
    # no-op inside an analyzer's reservation, which also covers the analysis after this
    with image_memory.reserve(data):
        rgb = _decode_rgb8(data, kind, header)
        if orientation is not None:
            rgb = np.ascontiguousarray(_apply_exif_orientation(rgb, orientation))
        share = image_memory.current_share()
        if share is not None:
            share.shrink(image_memory.estimate(data).holding)
    return DecodedImage(
        rgb=rgb,
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
    width: int | None = None
    height: int | None = None
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
            assert width is not None and height is not None  # set from the IHDR, the first chunk
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


def _decode_rgb8(data: bytes, kind: str, header: _Header) -> np.ndarray:
    """The upright-to-be RGB uint8 pixels (EXIF not applied yet)."""
    if kind == "PNG" and not image_memory.estimate(data).small:
        banded = _png_bands(data)
        if banded is not None:
            return _decode_png_by_bands(*banded)
    pixels = _decode_pixels(data, kind)
    if pixels.shape[:2] != (header.height, header.width):
        raise InvalidImageFormatException(
            f"{kind} decoded to {pixels.shape[1]}x{pixels.shape[0]} pixels but its header says "
            f"{header.width}x{header.height}; the file is corrupt."
        )
    return _to_rgb8(pixels)


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


# --- large PNGs, band by band -------------------------------------------------------------------
#
# OpenCV decodes a whole PNG at once, and for 16-bit samples it briefly holds two copies: 640 MB
# for a 40-megapixel RGBA image. A large PNG is therefore cut into bands of rows: its zlib stream
# is inflated a band at a time, and each band becomes a small PNG of its own (same header fields
# and ancillary chunks, the band's filtered rows stored uncompressed) that OpenCV decodes. A row
# filtered against the one above it needs that row: each band starts with the previous band's
# last row, unfiltered, rebuilt from OpenCV's output, and dropped again after decoding. That
# rebuild is exact for grey, grey+alpha, RGB and RGBA at 8 or 16 bits, so those are banded; palette,
# low-bit-depth and interlaced images are decoded whole (at most 4 bytes a pixel).

_BAND_BYTES = 4 << 20
_BANDED_COLOUR_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class _PngLayout:
    width: int
    height: int
    depth: int
    colour: int
    ancillary: bytes  # chunks between IHDR and the first IDAT, as they are (PLTE, tRNS, ...)


def _png_bands(data: bytes) -> tuple[_PngLayout, list[memoryview]] | None:
    """The layout and IDAT bodies of a PNG that can be decoded band by band, else None."""
    width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if not image_memory.png_decodes_in_bands(depth, colour, interlace):
        return None
    view = memoryview(data)
    pos = 33
    ancillary = bytearray()
    idat: list[memoryview] = []
    while pos + 12 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        if ctype == b"IDAT":
            idat.append(view[pos + 8:pos + 8 + length])
        elif ctype == b"IEND":
            break
        elif not idat and ctype not in (b"acTL", b"fcTL"):  # animation control: the bands are stills
            ancillary += data[pos:pos + 12 + length]
        pos += 12 + length
    return _PngLayout(width, height, depth, colour, bytes(ancillary)), idat


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _decode_png_by_bands(layout: _PngLayout, idat: list[memoryview]) -> np.ndarray:
    """RGB uint8 pixels of a large PNG, holding one band of decoded samples at a time."""
    channels = _BANDED_COLOUR_CHANNELS[layout.colour]
    sample_bytes = layout.depth // 8
    row_bytes = 1 + layout.width * channels * sample_bytes
    band_rows = max(1, _BAND_BYTES // row_bytes)
    inflater = zlib.decompressobj()
    chunks = iter(idat)
    pending = bytearray()
    out: np.ndarray | None = None
    previous_row = b""
    for top in range(0, layout.height, band_rows):
        rows = min(band_rows, layout.height - top)
        need = rows * row_bytes
        while len(pending) < need:
            if inflater.unconsumed_tail:
                try:
                    pending += inflater.decompress(inflater.unconsumed_tail, need - len(pending))
                except zlib.error as exc:
                    raise InvalidImageFormatException(f"PNG could not be decoded: {exc}") from None
                continue
            body = next(chunks, None)
            if body is None:
                raise InvalidImageFormatException(
                    "PNG could not be decoded: its image data ends before the last row."
                )
            try:
                pending += inflater.decompress(body, need - len(pending))
            except zlib.error as exc:
                raise InvalidImageFormatException(f"PNG could not be decoded: {exc}") from None
        band = bytes(pending[:need])
        del pending[:need]
        extra = 1 if previous_row else 0
        header = struct.pack(">IIBBBBB", layout.width, rows + extra, layout.depth, layout.colour, 0, 0, 0)
        stream = zlib.compress(previous_row + band, 0)
        mini = (_PNG_SIGNATURE + _png_chunk(b"IHDR", header) + layout.ancillary + _png_chunk(b"IDAT", stream)
                + _png_chunk(b"IEND", b""))
        pixels = cv2.imdecode(np.frombuffer(mini, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None or pixels.shape[:2] != (rows + extra, layout.width):
            raise InvalidImageFormatException(
                "PNG could not be decoded: the image data is corrupt or uses an unsupported variant."
            )
        previous_row = b"\x00" + _raw_row(pixels[-1], layout.colour, layout.depth)
        if out is None:
            out = np.empty((layout.height, layout.width, 3), dtype=np.uint8)
        out[top:top + rows] = _to_rgb8(pixels[extra:])
    assert out is not None
    return out


def _raw_row(row: np.ndarray, colour: int, depth: int) -> bytes:
    """One row of OpenCV's output back in PNG sample order (unfiltered), for the next band."""
    # OpenCV may add an alpha channel (a tRNS chunk) or repeat grey in B, G, R: take the samples
    # the PNG itself stores, in its order
    if colour == 2:
        row = row[:, [2, 1, 0]]  # BGR(A) -> RGB
    elif colour == 6:
        row = row[:, [2, 1, 0, 3]]  # BGRA -> RGBA
    elif colour == 4:
        row = row[:, [0, 3]]
    elif row.ndim == 2:  # grey that OpenCV expanded
        row = row[:, 0]
    return np.ascontiguousarray(row, dtype=">u2" if depth == 16 else np.uint8).tobytes()


def _to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """OpenCV's gray / BGR / BGRA (8 or 16 bit) -> RGB uint8, alpha composited over white.

    Memory: the result is written strip by strip into one new array (8-bit BGR is turned into
    RGB in place, with no new array at all), so besides the decoder's samples and the result
    only a strip of about a million samples is ever held in a wider type. Arithmetic is exact
    integer arithmetic: 16-bit samples are rounded to 8 bits as round(v * 255 / 65535), and a
    sample c with alpha a (both out of F = 255 or 65535) becomes
    round(255 * (c*a + F*(F - a)) / F^2): alpha over white in one rounding. For 8-bit images
    that is what the float32 formula it replaces gave for every input; for 16-bit images with
    alpha it is the exactly rounded value, which float32 missed by one level in rare pixels.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    if channels not in (1, 2, 3, 4):
        raise InvalidImageFormatException(f"Image has {channels} channels; expected 1 to 4.")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InvalidImageFormatException(f"Image sample type {pixels.dtype} is not supported.")
    has_alpha = channels in (2, 4)
    if pixels.dtype == np.uint8 and not has_alpha:
        if channels == 1:
            return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)
        pixels = np.ascontiguousarray(pixels)
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB, dst=pixels)  # in place

    height, width = pixels.shape[:2]
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _STRIP_SAMPLES // (width * channels))
    for top in range(0, height, rows):
        strip = pixels[top:top + rows]
        colour8 = _strip_to_8bit(strip, has_alpha)
        code = cv2.COLOR_GRAY2RGB if colour8.shape[2] == 1 else cv2.COLOR_BGR2RGB
        cv2.cvtColor(colour8, code, dst=out[top:top + rows])
    return out


_STRIP_SAMPLES = 1 << 18


def _strip_to_8bit(strip: np.ndarray, has_alpha: bool) -> np.ndarray:
    """A few rows of 16-bit or alpha samples -> 8-bit colour (alpha over white), exactly rounded."""
    if not has_alpha:  # 16-bit without alpha
        return ((strip.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    # c*a + F*(F - a) = F^2 - a*(F - c), so the result is 255 - round(255 * a*(F - c) / F^2);
    # F^2 is odd, so the quotient is never exactly half-way and the rounding is unambiguous
    alpha = strip[:, :, -1:]
    if strip.dtype == np.uint8:
        t8 = (strip[:, :, :-1] ^ np.uint8(0xFF)).astype(np.uint16) * alpha  # a*(255 - c) <= 65025
        return 255 - ((t8 + 127) // 255).astype(np.uint8)
    # 16-bit: a*(F - c) < 2^32, exact in float64, and 255 * it / F^2 is never within float64's
    # error of a half, so rint rounds it exactly
    t16 = ((strip[:, :, :-1] ^ np.uint16(0xFFFF)).astype(np.uint32) * alpha).astype(np.float64)
    np.multiply(t16, 255.0 / (65535.0 * 65535.0), out=t16)
    np.rint(t16, out=t16)
    return 255 - t16.astype(np.uint8)
