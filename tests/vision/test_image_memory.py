"""Bounded decode memory (issue 13.1): band-by-band PNG decoding, exact integer blending, the budget."""

from __future__ import annotations

import concurrent.futures
import contextvars
import http.client
import json
import struct
import subprocess
import sys
import threading
import time
import zlib
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.core.errors import ThrottlingException
from app.vision import image_decode, image_memory
from app.vision.image_decode import decode_image

REPO = Path(__file__).resolve().parents[2]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def gray_alpha_png(samples: np.ndarray) -> bytes:
    """A grey+alpha PNG (colour type 4) from an (h, w, 2) uint8 or uint16 array, Up-filtered rows."""
    height, width = samples.shape[:2]
    depth = 16 if samples.dtype == np.uint16 else 8
    raw = samples.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    rows, previous = b"", np.zeros(raw.shape[1], np.uint8)
    for row in raw:
        rows += b"\x02" + (row - previous).astype(np.uint8).tobytes()  # filter 2 (Up) needs the row above
        previous = row
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 4, 0, 0, 0)
    idat = png_chunk(b"IDAT", zlib.compress(rows))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + idat + png_chunk(b"IEND", b"")


def samples(rng, shape, dtype) -> np.ndarray:
    top = 65536 if dtype == np.uint16 else 256
    image = rng.integers(0, top, size=shape, dtype=np.int64).astype(dtype)
    image[: shape[0] // 3] //= 7  # smoother rows, so that the encoder picks varied filters
    return image


CASES = [
    ("gray8", (53, 41), np.uint8), ("gray16", (53, 41), np.uint16),
    ("bgr8", (53, 41, 3), np.uint8), ("bgr16", (53, 41, 3), np.uint16),
    ("bgra8", (53, 41, 4), np.uint8), ("bgra16", (53, 41, 4), np.uint16),
    ("ga8", (53, 41, 2), np.uint8), ("ga16", (53, 41, 2), np.uint16),
]


@pytest.mark.parametrize("name,shape,dtype", CASES, ids=[c[0] for c in CASES])
def test_bands_give_exactly_the_pixels_of_a_whole_decode(monkeypatch, name, shape, dtype):
    rng = np.random.default_rng(7)
    image = samples(rng, shape, dtype)
    data = gray_alpha_png(image) if name.startswith("ga") else cv2.imencode(".png", image)[1].tobytes()
    whole = decode_image(data).rgb
    calls = []
    original = image_decode._decode_png_by_bands
    monkeypatch.setattr(image_memory, "SMALL_IMAGE_BYTES", 0)  # every PNG counts as large
    monkeypatch.setattr(image_decode, "_BAND_BYTES", 1)  # one row per band: every band boundary is tested
    monkeypatch.setattr(image_decode, "_decode_png_by_bands", lambda *a: calls.append(1) or original(*a))
    banded = decode_image(data).rgb
    assert calls, "the banded path ran"
    assert banded.dtype == np.uint8 and banded.flags.c_contiguous
    np.testing.assert_array_equal(banded, whole)


@pytest.mark.parametrize("colour,channels,trns",
                         [(2, 3, struct.pack(">HHH", 10, 20, 30)), (0, 1, struct.pack(">H", 10))])
@pytest.mark.parametrize("depth", [8, 16])
def test_bands_of_a_png_with_a_transparent_colour_key(monkeypatch, colour, channels, trns, depth):
    # tRNS makes OpenCV add an alpha channel to RGB: the row carried to the next band must not have it
    rng = np.random.default_rng(1)
    height, width = 23, 17
    dtype = np.uint8 if depth == 8 else np.dtype(">u2")
    raw = rng.integers(0, 40, size=(height, width * channels)).astype(dtype)
    raw[3, :channels] = [10, 20, 30][:channels]  # one pixel of the key colour
    as_bytes = [r.view(np.uint8) for r in raw]
    rows = b"".join(b"\x02" + (row - (as_bytes[i - 1] if i else 0)).astype(np.uint8).tobytes()
                    for i, row in enumerate(as_bytes))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"tRNS", trns)
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))
    whole = decode_image(data).rgb
    monkeypatch.setattr(image_memory, "SMALL_IMAGE_BYTES", 0)
    monkeypatch.setattr(image_decode, "_BAND_BYTES", 1)
    np.testing.assert_array_equal(decode_image(data).rgb, whole)


def test_8bit_alpha_over_white_equals_the_float_formula_for_every_sample_and_alpha():
    c, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    bgra = np.stack([c, c, c, a], axis=2).astype(np.uint8)  # (256, 256, 4)
    alpha = bgra[:, :, -1:].astype(np.float32) / 255.0
    blended = bgra[:, :, :-1].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    float_formula = np.rint(blended).astype(np.uint8)
    got = image_decode._to_rgb8(bgra)
    np.testing.assert_array_equal(got, float_formula[:, :, ::-1])


def test_16bit_alpha_over_white_is_exactly_rounded():
    rng = np.random.default_rng(3)
    bgra = rng.integers(0, 65536, size=(300, 300, 4), dtype=np.int64).astype(np.uint16)
    bgra[0, :4] = [[0, 0, 0, 0], [65535, 65535, 65535, 65535], [1, 2, 3, 1], [65534, 7, 9, 65534]]
    got = image_decode._to_rgb8(bgra)
    full = 65535
    for (y, x) in [(0, 0), (0, 1), (0, 2), (0, 3)] + [tuple(p) for p in rng.integers(0, 300, size=(500, 2))]:
        colour, alpha = bgra[y, x, :3].astype(int), int(bgra[y, x, 3])
        expected = [round(Fraction(255 * (int(v) * alpha + full * (full - alpha)), full * full))
                    for v in colour]
        assert list(got[y, x]) == expected[::-1], (y, x)


_BOMB_SCRIPT = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from bench.stress_image_bombs import bomb_png
from app.vision.image_decode import decode_image
data = bomb_png()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
image = decode_image(data)
assert image.rgb.shape == (6324, 6324, 3)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_16bit_rgba_bomb_decodes_in_bounded_memory():
    # 6324x6324 RGBA at 16 bits: 320 MB of samples, 120 MB as RGB. The whole-image float path
    # peaked at about 1.8 GB; band by band the peak is the RGB result plus a band.
    done = subprocess.run([sys.executable, "-c", _BOMB_SCRIPT, str(REPO)], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    growth_mb = int(done.stdout.split()[-1])
    assert growth_mb < 260, f"decoding the bomb grew the peak RSS by {growth_mb} MB"


# --- the budget --------------------------------------------------------------------------------


def test_budget_never_lets_shares_exceed_the_limit():
    budget = image_memory.MemoryBudget(1000)
    active, peak, lock = [0], [0], threading.Lock()

    def work():
        share = budget.acquire(300, wait_s=30)
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        share.release()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert budget.peak <= 1000 and peak[0] == 3 and budget.in_use == 0


def test_budget_waits_at_most_its_limit_then_throttles():
    budget = image_memory.MemoryBudget(100)
    held = budget.acquire(80, wait_s=1)
    started = time.monotonic()
    with pytest.raises(ThrottlingException, match="retry"):
        budget.acquire(30, wait_s=0.2)
    assert 0.15 < time.monotonic() - started < 5
    held.shrink(50)  # what a decoder does once its samples are freed
    budget.acquire(30, wait_s=0.2).release()
    held.release()
    assert budget.in_use == 0
    budget.acquire(500, wait_s=0.2).release()  # larger than the whole budget: runs when alone


def test_small_images_never_take_from_the_budget(monkeypatch):
    budget = image_memory.MemoryBudget(1)
    monkeypatch.setattr(image_memory, "BUDGET", budget)
    photo = (REPO / "tests" / "data" / "obama.jpg").read_bytes()
    assert image_memory.estimate(photo).small
    held = budget.acquire(1, wait_s=0)
    decode_image(photo)  # does not wait for the full budget
    held.release()


def test_a_reservation_covers_the_decode_in_another_thread_with_its_context(monkeypatch):
    budget = image_memory.MemoryBudget(10 * 2**30)
    monkeypatch.setattr(image_memory, "BUDGET", budget)
    monkeypatch.setattr(image_memory, "SMALL_IMAGE_BYTES", 0)
    data = cv2.imencode(".png", np.zeros((64, 64, 4), np.uint16))[1].tobytes()
    need = image_memory.estimate(data)
    with image_memory.reserve(data), concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert budget.in_use == need.decoding
        pool.submit(contextvars.copy_context().run, decode_image, data).result()
        assert budget.in_use == need.holding  # shrunk once decoded, not reserved twice
    assert budget.in_use == 0


def test_the_endpoint_serves_other_requests_while_images_wait_for_memory(tmp_path, monkeypatch):
    from tests.server.endpoint_fixtures import running_endpoint

    monkeypatch.setattr(image_memory, "BUDGET", image_memory.MemoryBudget(1))
    monkeypatch.setattr(image_memory, "SMALL_IMAGE_BYTES", 0)
    held = image_memory.BUDGET.acquire(1, wait_s=0)
    png = cv2.imencode(".png", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
    import base64

    with running_endpoint(tmp_path / "ws", workers=1) as ep:
        ep.engine.create_collection(CollectionId="c")
        results = []

        def post(target, body):
            conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=30)
            headers = {"X-Amz-Target": f"RekognitionService.{target}"}
            conn.request("POST", "/", body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            results.append((target, response.status, json.loads(response.read()).get("__type")))
            conn.close()

        waiting = [threading.Thread(target=post, args=("IndexFaces", {"CollectionId": "c", "Image": {
            "Bytes": base64.b64encode(png).decode()}})) for _ in range(3)]
        for thread in waiting:
            thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        post("ListCollections", {})  # the one worker is free: waiting images do not hold it
        assert time.monotonic() - started < 1.0
        assert results[0][:2] == ("ListCollections", 200)
        held.release()
        for thread in waiting:
            thread.join(30)
        assert all(status == 400 and error == "InvalidImageFormatException"
                   for target, status, error in results[1:])  # answered (the fake analyzer knows no image)


def test_a_large_png_whose_data_does_not_inflate_is_an_invalid_format(monkeypatch):
    from app.core.errors import InvalidImageFormatException

    monkeypatch.setattr(image_memory, "SMALL_IMAGE_BYTES", 0)
    ihdr = struct.pack(">IIBBBBB", 4, 4, 16, 6, 0, 0, 0)
    for idat in (b"not zlib at all", zlib.compress(b"\0" * 10)):  # garbage; too few rows
        data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
                + png_chunk(b"IEND", b""))
        with pytest.raises(InvalidImageFormatException, match="could not be decoded"):
            decode_image(data)
