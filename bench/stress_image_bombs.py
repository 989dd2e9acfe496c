"""Stress: concurrent PNG "bombs" plus normal traffic against `rekurator serve`, watching its memory.

A bomb is a small PNG (about 0.3 MB) declaring 6324x6324 RGBA pixels at 16 bits, just under
the 40-megapixel limit. The script starts `python -m app.server` on 127.0.0.1 (port 0) over a
temporary workspace with the default models preloaded, warms it up with normal requests, then
sends --bombs IndexFaces requests with a bomb at once while --normal-threads threads keep
sending normal requests (SearchFacesByImage with a test photo, and ListCollections) until the
bombs are answered. Server RSS (VmRSS) is sampled every 20 ms; VmHWM gives the peak.

Every loop is bounded; nothing leaves 127.0.0.1. One JSON line per measurement:
- `bomb`: per bomb request, status, error type, seconds;
- `normal`: count, statuses, p50/max latency of the normal requests during the bombs;
- `memory`: RSS before the bombs, peak RSS (sampled and VmHWM) and the growth; target <= 1 GB;
- `decode`: one bomb through decode_image alone in a fresh process: peak RSS growth and seconds,
  for this checkout and, with --root DIR, for another checkout (e.g. the commit before, unpacked
  with `git archive`) in the same run.

Run: .venv/bin/python bench/stress_image_bombs.py [--bombs 8] [--normal-threads 2] [--budget-mb 640]
                                                  [--root DIR]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import pathlib
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIDE = 6324
PHOTO = ROOT / "tests" / "data" / "obama.jpg"


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def bomb_png(side: int = SIDE) -> bytes:
    """A 16-bit RGBA PNG of side x side pixels, made row by row (never whole in memory)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytearray(1 + side * 8)
    for x in range(0, side, 7):  # a sparse pattern, half-transparent, so every pixel is blended
        row[1 + 8 * x:1 + 8 * x + 8] = b"\x9c\x40\x00\x00\x20\x00\x80\x00"
    compressor = zlib.compressobj(9)
    stream = b"".join(compressor.compress(bytes(row)) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


class Server:
    def __init__(self, workspace: pathlib.Path, budget_mb: int | None):
        env = dict(os.environ)
        if budget_mb is not None:
            env["REKURATOR_IMAGE_MEMORY_MB"] = str(budget_mb)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.server", "--host", "127.0.0.1", "--port", "0",
             "--workspace", str(workspace), "--preload-models", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 120
        self.port = 0
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
        if not self.port:
            self.stop()
            raise RuntimeError("the server did not start")

    def status(self, field: str) -> int:
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_DECODE_ONE = """
import resource, sys, time
from app.vision.image_decode import decode_image
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
image = decode_image(data)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, time.perf_counter() - started)
"""


def decode_one(root: pathlib.Path, path: pathlib.Path, label: str) -> None:
    done = subprocess.run([sys.executable, "-c", _DECODE_ONE, str(path)], cwd=root, capture_output=True,
                          text=True,
                          env=dict(os.environ, PYTHONPATH=str(root)), timeout=600)
    if done.returncode != 0:
        emit(bench="decode", code=label, error=done.stderr.strip().splitlines()[-1:])
        return
    growth_mb, seconds = done.stdout.split()
    emit(bench="decode", code=label, side=SIDE, peak_growth_mb=int(growth_mb),
         seconds=round(float(seconds), 2))


def call(port: int, operation: str, body: dict, timeout: float = 180) -> tuple[int, str | None, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/", body=json.dumps(body), headers={
            "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"RekognitionService.{operation}"})
        response = conn.getresponse()
        payload = json.loads(response.read() or b"{}")
        return response.status, payload.get("__type"), time.perf_counter() - started
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__, time.perf_counter() - started
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bombs", type=int, default=8)
    parser.add_argument("--normal-threads", type=int, default=2)
    parser.add_argument("--budget-mb", type=int, default=None,
                        help="REKURATOR_IMAGE_MEMORY_MB for the server")
    parser.add_argument("--root", type=pathlib.Path, help="also decode one bomb with this checkout's code")
    args = parser.parse_args()
    if not 1 <= args.bombs <= 16:
        parser.error("--bombs must be 1..16")

    print("making the bomb...", file=sys.stderr)
    raw_bomb = bomb_png()
    bomb = base64.b64encode(raw_bomb).decode()
    photo = base64.b64encode(PHOTO.read_bytes()).decode()
    with tempfile.TemporaryDirectory(prefix="rekurator-bombs-") as tmp:
        bomb_file = pathlib.Path(tmp) / "bomb.png"
        bomb_file.write_bytes(raw_bomb)
        decode_one(ROOT, bomb_file, "this checkout")
        if args.root:
            decode_one(args.root.resolve(), bomb_file, str(args.root))
        server = Server(pathlib.Path(tmp) / "ws", args.budget_mb)
        try:
            port = server.port
            assert call(port, "CreateCollection", {"CollectionId": "c"})[0] == 200
            assert call(port, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": photo}})[0] == 200
            for _ in range(3):  # warm-up: every code path of a normal request has run once
                call(port, "SearchFacesByImage", {"CollectionId": "c", "Image": {"Bytes": photo}})
            time.sleep(0.5)
            baseline = server.status("VmRSS")
            samples = [baseline]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    samples.append(server.status("VmRSS"))
                    time.sleep(0.02)

            bombs: list[tuple[int, str | None, float]] = []
            normal: list[tuple[int, str | None, float]] = []

            def send_bomb() -> None:
                bombs.append(call(port, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": bomb}}))

            def send_normal() -> None:
                for i in range(10_000):  # bounded; stops when the bombs are answered
                    if done.is_set():
                        return
                    if i % 2:
                        normal.append(call(port, "ListCollections", {}, timeout=60))
                    else:
                        normal.append(call(port, "SearchFacesByImage",
                                           {"CollectionId": "c", "Image": {"Bytes": photo}}, timeout=60))

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            senders = [threading.Thread(target=send_bomb) for _ in range(args.bombs)]
            helpers = [threading.Thread(target=send_normal) for _ in range(args.normal_threads)]
            for thread in senders + helpers:
                thread.start()
            for thread in senders:
                thread.join()
            elapsed = time.perf_counter() - started
            done.set()
            for thread in helpers + [sampler]:
                thread.join()
            hwm = server.status("VmHWM")
            for status, error, seconds in bombs:
                emit(bench="bomb", status=status, error=error, seconds=round(seconds, 2))
            latencies = sorted(s for _, _, s in normal)
            emit(bench="normal", count=len(normal),
                 statuses=sorted({f"{status} {error or ''}".strip() for status, error, _ in normal}),
                 p50_ms=round(statistics.median(latencies) * 1000, 1) if latencies else None,
                 max_ms=round(latencies[-1] * 1000, 1) if latencies else None)
            peak = max(samples)
            emit(bench="memory", bombs=args.bombs, side=SIDE, bomb_bytes=len(bomb) * 3 // 4,
                 baseline_mb=round(baseline / 2**20), peak_sampled_mb=round(peak / 2**20),
                 vmhwm_mb=round(hwm / 2**20), growth_mb=round((max(peak, hwm) - baseline) / 2**20),
                 all_bombs_seconds=round(elapsed, 1), target_growth_mb=1024,
                 every_bomb_answered=all(status in (200, 400, 500) and status and (status == 200 or error)
                                         for status, error, _ in bombs))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
