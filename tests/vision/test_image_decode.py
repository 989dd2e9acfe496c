"""decode_image: format sniffing, size/resolution limits, structure checks, pixel conversions, EXIF."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.errors import ImageTooLargeException, InvalidImageFormatException
from app.vision import image_decode
from app.vision.image_decode import MAX_IMAGE_BYTES, MAX_PIXELS, MAX_SIDE, decode_image

DATA = Path(__file__).resolve().parents[1] / "data"


# --- builders ---------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_by_hand(width, height, color_type, depth, raw_rows: bytes, extra_chunks: list[bytes] = ()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + b"".join(extra_chunks)
        + png_chunk(b"IDAT", zlib.compress(raw_rows))
        + png_chunk(b"IEND", b"")
    )


def encode(ext: str, image: np.ndarray, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


def exif_app1(orientation: int, byteorder: str = "<") -> bytes:
    """An APP1 segment holding a minimal EXIF TIFF block: IFD0 with only tag 0x0112."""
    magic = b"II*\x00" if byteorder == "<" else b"MM\x00*"
    tiff = magic + struct.pack(byteorder + "I", 8)
    tiff += struct.pack(byteorder + "H", 1)
    tiff += struct.pack(byteorder + "HHI", 0x0112, 3, 1) + struct.pack(byteorder + "H", orientation) + b"\0\0"
    tiff += struct.pack(byteorder + "I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_app1(jpeg: bytes, app1: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + app1 + jpeg[2:]


def upright_pattern() -> np.ndarray:
    """48x80 RGB with four differently coloured quadrants: every rotation/mirror looks different."""
    u = np.zeros((48, 80, 3), np.uint8)
    u[:24, :40] = (220, 30, 30)
    u[:24, 40:] = (30, 200, 30)
    u[24:, :40] = (30, 30, 220)
    u[24:, 40:] = (230, 230, 40)
    return u


# How a camera stores an upright picture U for each EXIF orientation, written from the tag's
# definition (where row 0 and column 0 of the stored raster lie), not from the decoder's code.
STORED_FROM_UPRIGHT = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],  # row0 top, col0 right
    3: lambda u: u[::-1, ::-1],  # row0 bottom, col0 right
    4: lambda u: u[::-1, :],  # row0 bottom, col0 left
    5: lambda u: u.transpose(1, 0, 2),  # row0 left, col0 top
    6: lambda u: u[:, ::-1].transpose(1, 0, 2),  # row0 right, col0 top
    7: lambda u: u[::-1, ::-1].transpose(1, 0, 2),  # row0 right, col0 bottom
    8: lambda u: u[::-1, :].transpose(1, 0, 2),  # row0 left, col0 bottom
}


def jpeg_of_rgb(rgb: np.ndarray, params=(cv2.IMWRITE_JPEG_QUALITY, 95)) -> bytes:
    return encode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), params)


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if anything reaches cv2.imdecode (proves a check ran on the header alone)."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("cv2.imdecode was called")

    monkeypatch.setattr(image_decode.cv2, "imdecode", refuse)


# --- size and format --------------------------------------------------------------------------


def test_empty_bytes_are_invalid_format():
    with pytest.raises(InvalidImageFormatException, match="empty"):
        decode_image(b"")


def test_size_limit_is_exactly_5_mib():
    small = encode(".png", np.full((8, 8, 3), 90, np.uint8))
    # Pad with a private ancillary chunk so the file is a valid PNG of exactly the limit.
    filler = MAX_IMAGE_BYTES - len(small) - 12
    at_limit = small[:-12] + png_chunk(b"zzZz", b"\0" * filler) + small[-12:]
    assert len(at_limit) == MAX_IMAGE_BYTES
    assert decode_image(at_limit).width == 8

    over = small[:-12] + png_chunk(b"zzZz", b"\0" * (filler + 1)) + small[-12:]
    with pytest.raises(ImageTooLargeException, match="5,242,881 bytes"):
        decode_image(over)


@pytest.mark.parametrize(
    "data, named",
    [
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
         b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "GIF"),
        (encode(".bmp", np.zeros((4, 4, 3), np.uint8)), "BMP"),
        (b"hello, this is not an image\n", "text"),
        (b'{"Image": {"Bytes": "..."}}', "text"),
        (encode(".tiff", np.zeros((4, 4, 3), np.uint8)), "TIFF"),
        (bytes(range(7, 200)), "unrecognised"),
    ],
)
def test_other_formats_are_rejected_and_named(data, named):
    with pytest.raises(InvalidImageFormatException, match=named):
        decode_image(data)


def test_format_comes_from_content_only():
    rgb = upright_pattern()
    assert decode_image(jpeg_of_rgb(rgb)).format == "JPEG"
    assert decode_image(encode(".png", rgb[:, :, ::-1])).format == "PNG"


def test_bytes_like_inputs_accepted_and_other_types_refused():
    data = encode(".png", np.full((3, 5, 3), 7, np.uint8))
    assert decode_image(bytearray(data)).rgb.shape == (3, 5, 3)
    assert decode_image(memoryview(data)).rgb.shape == (3, 5, 3)
    with pytest.raises(TypeError, match="bytes"):
        decode_image("not bytes")  # type: ignore[arg-type]


# --- resolution limit (decompression bombs) ---------------------------------------------------


def test_huge_png_header_rejected_before_decoding(no_pixel_decoding):
    bomb = png_by_hand(100_000, 100_000, 2, 8, b"\0" * 301)
    assert len(bomb) < 200
    with pytest.raises(ImageTooLargeException, match="100000x100000"):
        decode_image(bomb)


def test_pixel_count_limit_applies_with_sides_in_range(no_pixel_decoding):
    side_ok = png_by_hand(10_000, 5_000, 0, 8, b"\0")
    assert 10_000 <= MAX_SIDE and 10_000 * 5_000 > MAX_PIXELS
    with pytest.raises(ImageTooLargeException, match="pixels"):
        decode_image(side_ok)
    with pytest.raises(ImageTooLargeException):
        decode_image(png_by_hand(MAX_SIDE + 1, 1, 0, 8, b"\0"))


def test_longest_allowed_side_decodes():
    row = b"\0" + bytes(MAX_SIDE)
    img = decode_image(png_by_hand(MAX_SIDE, 1, 0, 8, row))
    assert (img.width, img.height) == (MAX_SIDE, 1)


def test_huge_jpeg_frame_header_rejected_before_decoding(no_pixel_decoding):
    jpeg = bytearray(jpeg_of_rgb(upright_pattern()))
    sof = jpeg.find(b"\xff\xc0")
    assert sof > 0
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 60_000, 60_000)
    with pytest.raises(ImageTooLargeException, match="60000x60000"):
        decode_image(bytes(jpeg))


# --- structure / truncation -------------------------------------------------------------------


def test_jpeg_cut_in_half_is_rejected():
    data = (DATA / "obama.jpg").read_bytes()
    with pytest.raises(InvalidImageFormatException, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_jpeg_missing_only_its_eoi_marker_is_rejected():
    data = jpeg_of_rgb(upright_pattern())
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(InvalidImageFormatException, match="EOI"):
        decode_image(data[:-2])


def test_jpeg_cut_inside_header_is_rejected():
    data = (DATA / "obama.jpg").read_bytes()
    with pytest.raises(InvalidImageFormatException, match="JPEG is truncated"):
        decode_image(data[:300])


def test_jpeg_signature_then_garbage_is_rejected():
    with pytest.raises(InvalidImageFormatException, match="JPEG"):
        decode_image(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 40)


def test_jpeg_with_trailing_bytes_after_eoi_is_accepted():
    rgb = upright_pattern()
    img = decode_image(jpeg_of_rgb(rgb) + b"\0\0camera trailer")
    assert img.rgb.shape == rgb.shape


@pytest.mark.parametrize(
    "params",
    [
        (cv2.IMWRITE_JPEG_PROGRESSIVE, 1),  # several scans with DHT segments between them
        (cv2.IMWRITE_JPEG_RST_INTERVAL, 2),  # RST markers inside the scan data
    ],
)
def test_multiscan_and_restart_jpegs_decode(params):
    rgb = upright_pattern()
    img = decode_image(jpeg_of_rgb(rgb, params))
    assert np.abs(img.rgb.astype(int) - rgb).mean() < 6


def test_png_cut_short_is_rejected():
    data = encode(".png", np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(InvalidImageFormatException, match="PNG is truncated"):
        decode_image(data[: len(data) // 2])
    with pytest.raises(InvalidImageFormatException, match="IEND"):
        decode_image(data[:-12])  # everything but the IEND chunk


def test_png_with_damaged_data_fails_its_crc():
    data = bytearray(encode(".png", np.full((16, 16, 3), 100, np.uint8)))
    idat = data.find(b"IDAT")
    data[idat + 6] ^= 0xFF
    with pytest.raises(InvalidImageFormatException, match="CRC mismatch in chunk IDAT"):
        decode_image(bytes(data))


def test_png_with_invalid_ihdr_is_rejected():
    with pytest.raises(InvalidImageFormatException, match="bit depth 3"):
        decode_image(png_by_hand(1, 1, 2, 3, b"\0\0"))
    with pytest.raises(InvalidImageFormatException, match="dimensions 0x1"):
        decode_image(png_by_hand(0, 1, 0, 8, b"\0"))


def test_png_idat_that_does_not_inflate_is_rejected():
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)  # 8-bit RGB
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"not zlib at all")
            + png_chunk(b"IEND", b""))
    with pytest.raises(InvalidImageFormatException, match="could not be decoded"):
        decode_image(data)


# --- pixel conversions ------------------------------------------------------------------------


def test_png_rgb8_round_trips_exactly_as_rgb():
    rgb = np.random.default_rng(2).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    img = decode_image(encode(".png", rgb[:, :, ::-1].copy()))
    assert img.rgb.dtype == np.uint8 and img.rgb.flags["C_CONTIGUOUS"]
    assert (img.width, img.height) == (53, 37)
    np.testing.assert_array_equal(img.rgb, rgb)
    assert img.orientation_correction is None


def test_png_16bit_is_rounded_to_8bit():
    values = np.array([[0, 128, 257, 32767], [32896, 65278, 65407, 65535]], np.uint16)
    bgr16 = np.repeat(values[:, :, None], 3, axis=2)
    bgr16[0, 0] = (0, 0, 65535)  # pure red in BGR order
    img = decode_image(encode(".png", bgr16))
    expected = np.rint(values / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(img.rgb[1, :, 1], expected[1])
    assert tuple(img.rgb[0, 0]) == (255, 0, 0)
    assert tuple(img.rgb[0, 2]) == (1, 1, 1)


def test_png_grayscale_becomes_three_equal_channels():
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    img = decode_image(encode(".png", gray))
    assert img.rgb.shape == (6, 10, 3)
    for channel in range(3):
        np.testing.assert_array_equal(img.rgb[:, :, channel], gray)


def test_png_palette_by_hand():
    palette = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255])
    rows = b"\0" + bytes([0, 1, 2, 3]) + b"\0" + bytes([3, 2, 1, 0])
    img = decode_image(png_by_hand(4, 2, 3, 8, rows, [png_chunk(b"PLTE", palette)]))
    expected = np.array(
        [[(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)],
         [(255, 255, 255), (0, 0, 255), (0, 255, 0), (255, 0, 0)]], np.uint8)
    np.testing.assert_array_equal(img.rgb, expected)


def test_png_palette_transparency_is_composited_on_white():
    palette = bytes([255, 0, 0, 0, 255, 0])
    rows = b"\0" + bytes([0, 1])
    trns = png_chunk(b"tRNS", bytes([0, 128]))
    img = decode_image(png_by_hand(2, 1, 3, 8, rows, [png_chunk(b"PLTE", palette), trns]))
    assert tuple(img.rgb[0, 0]) == (255, 255, 255)  # fully transparent red -> white
    assert tuple(img.rgb[0, 1]) == (127, 255, 127)  # half-transparent green over white


def test_png_rgba_alpha_is_composited_on_white():
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[0, 0] = (0, 0, 200, 255)  # opaque red stays red
    bgra[0, 1] = (10, 20, 30, 0)  # hidden colour under full transparency -> white
    bgra[0, 2] = (0, 0, 0, 128)  # black at ~50% -> mid gray
    img = decode_image(encode(".png", bgra))
    assert tuple(img.rgb[0, 0]) == (200, 0, 0)
    assert tuple(img.rgb[0, 1]) == (255, 255, 255)
    assert tuple(img.rgb[0, 2]) == (127, 127, 127)


def test_gray_alpha_png_by_hand():
    rows = b"\0" + bytes([0, 255, 200, 0])  # (gray 0, alpha 255), (gray 200, alpha 0)
    img = decode_image(png_by_hand(2, 1, 4, 8, rows))
    assert tuple(img.rgb[0, 0]) == (0, 0, 0)
    assert tuple(img.rgb[0, 1]) == (255, 255, 255)


def test_bundled_rgba_photo_decodes():
    img = decode_image((DATA / "32bit.png").read_bytes())
    assert (img.width, img.height, img.format) == (626, 1200, "PNG")


# --- EXIF orientation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "orientation, correction",
    [(1, "ROTATE_0"), (2, "ROTATE_0"), (3, "ROTATE_180"), (4, "ROTATE_180"),
     (5, "ROTATE_270"), (6, "ROTATE_90"), (7, "ROTATE_90"), (8, "ROTATE_270")],
)
@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_exif_orientation_is_turned_upright(orientation, correction, byteorder):
    upright = upright_pattern()
    stored = np.ascontiguousarray(STORED_FROM_UPRIGHT[orientation](upright))
    data = with_app1(jpeg_of_rgb(stored), exif_app1(orientation, byteorder))
    img = decode_image(data)
    assert img.rgb.shape == upright.shape
    assert np.abs(img.rgb.astype(int) - upright).mean() < 6
    assert img.orientation_correction == correction
    assert img.exif_orientation == orientation


def test_stored_raster_for_orientation_6_is_a_counterclockwise_turn():
    # Checks the test's own table against OpenCV: EXIF 6 = picture stored turned 90 deg CCW.
    u = upright_pattern()
    np.testing.assert_array_equal(STORED_FROM_UPRIGHT[6](u), cv2.rotate(u, cv2.ROTATE_90_COUNTERCLOCKWISE))
    np.testing.assert_array_equal(STORED_FROM_UPRIGHT[8](u), cv2.rotate(u, cv2.ROTATE_90_CLOCKWISE))


def test_jpeg_without_exif_has_no_orientation_correction():
    img = decode_image(jpeg_of_rgb(upright_pattern()))
    assert img.orientation_correction is None and img.exif_orientation is None


def test_malformed_exif_is_ignored_not_fatal():
    payload = b"Exif\x00\x00" + b"XX\x00\x00garbage"
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    img = decode_image(with_app1(jpeg_of_rgb(upright_pattern()), app1))
    assert img.orientation_correction is None
    assert img.rgb.shape == (48, 80, 3)


def test_out_of_range_orientation_value_is_ignored():
    img = decode_image(with_app1(jpeg_of_rgb(upright_pattern()), exif_app1(9)))
    assert img.orientation_correction is None
    assert img.rgb.shape == (48, 80, 3)


def test_png_exif_chunk_is_not_applied():
    bgr = upright_pattern()[:, :, ::-1].copy()
    png = encode(".png", bgr)
    tiff = exif_app1(6)[10:]  # TIFF block only
    with_exif = png[:33] + png_chunk(b"eXIf", tiff) + png[33:]
    img = decode_image(with_exif)
    assert img.orientation_correction is None
    np.testing.assert_array_equal(img.rgb, upright_pattern())


def test_real_photo_with_exif_orientation_1():
    img = decode_image((DATA / "obama.jpg").read_bytes())
    assert (img.width, img.height, img.format) == (910, 1137, "JPEG")
    assert img.orientation_correction == "ROTATE_0"
