"""Stress: slowloris connections against `rekurator serve`, and how fast a normal request is answered.

Starts `python -m app.server` on 127.0.0.1 (port 0) over a temporary workspace (no face models
are loaded: ListCollections needs none), opens --slow connections that each send a request line
and then one header line every --every seconds (never finishing their headers), and while they
are open sends --probes normal ListCollections requests on fresh connections, one every 0.5 s,
each with a --probe-timeout limit. Loopback only; every loop is bounded.

--root DIR runs the server from another checkout of the project (e.g. the commit before this
change, unpacked with `git archive`), so that one run compares both servers on the same machine.

One JSON line per server: probe latencies (p50/max, how many were answered within 1 s), how many
slow connections the server had closed by the end, and the settings.

Run: .venv/bin/python bench/stress_slow_clients.py [--slow 70] [--every 10] [--probes 10] [--root DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pathlib
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def start_server(root: pathlib.Path, workspace: pathlib.Path) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(root))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.server", "--host", "127.0.0.1", "--port", "0",
         "--workspace", str(workspace), "--log-level", "warning"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if match:
            return process, int(match.group(1))
    process.kill()
    raise RuntimeError("the server did not start")


def probe(port: int, timeout: float) -> float | None:
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "RekognitionService.ListCollections"})
        response = conn.getresponse()
        response.read()
        conn.close()
        return time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return None


def run(root: pathlib.Path, label: str, args) -> None:
    with tempfile.TemporaryDirectory(prefix="rekurator-slow-") as tmp:
        process, port = start_server(root, pathlib.Path(tmp) / "ws")
        stop = threading.Event()
        closed = [0]
        lock = threading.Lock()

        def slow_client(index: int) -> None:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                return
            with sock:
                try:
                    sock.sendall(b"POST / HTTP/1.1\r\nHost: bench\r\n")
                    for line in range(1000):  # bounded; stops when the run ends or the server closes it
                        if stop.wait(args.every):
                            return
                        sock.sendall(b"X-Slow-%d: %d\r\n" % (line, index))
                except OSError:
                    with lock:
                        closed[0] += 1

        try:
            assert probe(port, 10) is not None, "the server answers before the slow clients come"
            threads = [threading.Thread(target=slow_client, args=(i,), daemon=True) for i in range(args.slow)]
            for thread in threads:
                thread.start()
                time.sleep(0.005)
            time.sleep(1.0)
            latencies = []
            for _ in range(args.probes):
                latencies.append(probe(port, args.probe_timeout))
                time.sleep(0.5)
            answered = [t for t in latencies if t is not None]
            stop.set()
            for thread in threads:
                thread.join(args.every + 5)
            emit(bench="slow_clients", server=label, slow_connections=args.slow,
                 header_line_every_s=args.every, probes=args.probes, answered=len(answered),
                 answered_within_1s=sum(1 for t in answered if t <= 1.0),
                 p50_ms=round(statistics.median(answered) * 1000, 1) if answered else None,
                 max_ms=round(max(answered) * 1000, 1) if answered else None,
                 slow_clients_that_noticed_a_close=closed[0], probe_timeout_s=args.probe_timeout)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow", type=int, default=70)
    parser.add_argument("--every", type=float, default=10.0,
                        help="seconds between a slow client's header lines")
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--probe-timeout", type=float, default=5.0)
    parser.add_argument("--root", type=pathlib.Path,
                        help="also run the server of this checkout, for comparison")
    args = parser.parse_args()
    if not 1 <= args.slow <= 500 or not 1 <= args.probes <= 100:
        parser.error("--slow must be 1..500 and --probes 1..100")
    run(ROOT, "this checkout", args)
    if args.root:
        run(args.root.resolve(), str(args.root), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
