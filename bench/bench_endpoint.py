"""Benchmark: AssociateFaces and SearchFaces through the local endpoint vs in-process on the engine.

Builds a workspace with the test fake analyzer (no vision models), then for each operation and
each concurrency level runs the same bounded number of calls per thread:
- inprocess: N threads calling engine.call on one shared Engine;
- endpoint:  N threads, each with its own boto3 client, against `python -m app.server` started
  as a separate process on 127.0.0.1 (or, with --server-in-thread, in this process).
Prints one JSON line per measurement (requests/s, p50/p99 latency) and one "overhead" line per
operation and level. Loopback only; every loop is bounded.

AssociateFaces: each thread owns a user that already has one face (so every call is scored
against the user), and associates one new face of the same identity per call; users are
recreated between levels, untimed.

Run: .venv/bin/python bench/bench_endpoint.py [--threads 1 4 8] [--search-calls 100] [--associate-calls 50] [--signed]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from app.core.engine import Engine  # noqa: E402
from app.server.endpoint import EndpointConfig, EndpointServer  # noqa: E402
from tests.core.fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres  # noqa: E402

COLLECTION = "bench"
KEY_ID, SECRET = "AKIDBENCH", "bench-secret"
FACES_PER_IMAGE = 20


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def populate(workspace: pathlib.Path, identities: int, faces_per_identity: int, filler_faces: int, seed: int = 0) -> dict:
    """Index the faces; return {identity: [FaceId, ...]} for the per-thread identities."""
    analyzer = RegisteredAnalyzer()
    rng = np.random.default_rng(seed)
    centres = identity_centres(identities + 1 + filler_faces // FACES_PER_IMAGE, seed=seed)
    by_identity: dict[int, list[str]] = {}
    with Engine(workspace, analyzer=analyzer) as engine:
        engine.create_collection(CollectionId=COLLECTION)

        def index(name: str, who: list[int]) -> list[str]:
            faces = [analyzed_face(face_of(centres[w], rng), left=0.04 * i, top=0.1, size=0.03) for i, w in enumerate(who)]
            data = analyzer.register(name.encode(), faces, width=4000, height=3000)  # 0.03 x 3000 = 90 px faces
            out = engine.index_faces(CollectionId=COLLECTION, Image={"Bytes": data}, MaxFaces=FACES_PER_IMAGE)
            return [r["Face"]["FaceId"] for r in out["FaceRecords"]]

        for identity in range(identities):
            ids: list[str] = []
            for n in range(-(-faces_per_identity // FACES_PER_IMAGE)):
                ids += index(f"identity-{identity}-{n}", [identity] * FACES_PER_IMAGE)
            by_identity[identity] = ids[:faces_per_identity]
        for n in range(filler_faces // FACES_PER_IMAGE):
            index(f"filler-{n}", [identities + 1 + n] * FACES_PER_IMAGE)
        total = engine.describe_collection(CollectionId=COLLECTION)["FaceCount"]
    emit(measure="workspace", faces=total, identities=identities)
    return by_identity


class InProcess:
    mode = "inprocess"

    def __init__(self, workspace):
        self.engine = Engine(workspace, analyzer=RegisteredAnalyzer())

    def callers(self, n):
        return [self.engine.call] * n

    def close(self):
        self.engine.close()


class Endpoint:
    mode = "endpoint"

    def __init__(self, workspace, signed: bool, in_thread: bool):
        self.signed = signed
        self._process = None
        self._server = None
        if in_thread:
            self._engine = Engine(workspace, analyzer=RegisteredAnalyzer())
            credentials = {KEY_ID: SECRET} if signed else {}
            self._server = EndpointServer(self._engine, "127.0.0.1", 0, EndpointConfig(credentials=credentials))
            self._server.start()
            self.url = self._server.url
        else:
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            if signed:
                env.update(REKURATOR_ACCESS_KEY_ID=KEY_ID, REKURATOR_SECRET_ACCESS_KEY=SECRET)
            self._process = subprocess.Popen(
                [sys.executable, "-m", "app.server", "--port", "0", "--workspace", str(workspace), "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            first = self._process.stdout.readline()
            match = re.search(r"(http://\S+)", first)
            if not match:
                self._process.kill()
                raise RuntimeError(f"server did not start: {first!r}")
            self.url = match.group(1)
        self._clients = []

    def callers(self, n):
        from botocore import xform_name

        session = boto3.session.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name="us-east-1")
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        callers = []
        for _ in range(n):
            client = session.client("rekognition", endpoint_url=self.url, config=config)
            self._clients.append(client)
            callers.append(lambda op, params, c=client: getattr(c, xform_name(op))(**params))
        return callers

    def close(self):
        for client in self._clients:
            client.close()
        if self._server is not None:
            self._server.stop()
            self._engine.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)


class RawHttp:
    """The endpoint without boto3: one kept-alive http.client connection per thread, plain JSON.

    Separates the server's share of the overhead from the client library's. Unsigned only.
    """

    mode = "endpoint_raw"

    def __init__(self, url: str):
        self.host, port = url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self._connections = []

    def callers(self, n):
        import http.client

        callers = []
        for _ in range(n):
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self._connections.append(conn)

            def call(operation, params, conn=conn):
                conn.request("POST", "/", json.dumps(params).encode(), {
                    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"RekognitionService.{operation}",
                })
                response = conn.getresponse()
                body = json.loads(response.read())
                if response.status != 200:
                    raise RuntimeError(body)
                return body

            callers.append(call)
        return callers

    def close(self):
        for conn in self._connections:
            conn.close()


def run_level(callers, plan) -> tuple[list[float], float, int]:
    """Each thread runs its own list of (operation, params); returns latencies, wall seconds, errors."""
    latencies: list[list[float]] = [[] for _ in callers]
    errors = [0] * len(callers)
    barrier = threading.Barrier(len(callers) + 1)

    def work(i):
        call = callers[i]
        barrier.wait()
        for operation, params, check in plan[i]:
            t0 = time.perf_counter()
            try:
                result = call(operation, params)
            except Exception:
                errors[i] += 1
                continue
            latencies[i].append(time.perf_counter() - t0)
            if check is not None and not check(result):
                errors[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(callers))]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return [x for per in latencies for x in per], wall, sum(errors)


def summarize(operation, mode, threads, latencies, wall, errors, signed) -> dict:
    ms = np.asarray(latencies) * 1000
    row = dict(
        measure="throughput", op=operation, mode=mode, threads=threads, signed=signed if mode != "inprocess" else None,
        requests=len(latencies), errors=errors, seconds=round(wall, 3), rps=round(len(latencies) / wall, 1),
        p50_ms=round(float(np.percentile(ms, 50)), 3), p99_ms=round(float(np.percentile(ms, 99)), 3),
        mean_ms=round(float(ms.mean()), 3),
    )
    emit(**row)
    return row


def search_plan(threads, calls, face_ids, rng):
    probes = [face_ids[i] for i in rng.integers(0, len(face_ids), size=threads * calls)]
    ok = lambda result: len(result["FaceMatches"]) > 0  # noqa: E731
    return [
        [("SearchFaces", {"CollectionId": COLLECTION, "FaceId": probes[t * calls + k], "MaxFaces": 10}, ok) for k in range(calls)]
        for t in range(threads)
    ]


def associate_plan(threads, calls, by_identity):
    ok = lambda result: len(result["AssociatedFaces"]) == 1  # noqa: E731
    return [
        [
            ("AssociateFaces", {"CollectionId": COLLECTION, "UserId": f"user-{t}", "FaceIds": [by_identity[t][1 + k]]}, ok)
            for k in range(calls)
        ]
        for t in range(threads)
    ]


def reset_users(engine: Engine, threads: int, by_identity) -> None:
    """Fresh users, each holding one face of its identity (untimed)."""
    existing = {u["UserId"] for u in engine.list_users(CollectionId=COLLECTION)["Users"]}
    for t in range(threads):
        if f"user-{t}" in existing:
            engine.delete_user(CollectionId=COLLECTION, UserId=f"user-{t}")
        engine.create_user(CollectionId=COLLECTION, UserId=f"user-{t}")
        engine.associate_faces(CollectionId=COLLECTION, UserId=f"user-{t}", FaceIds=[by_identity[t][0]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--search-calls", type=int, default=100, help="SearchFaces calls per thread and level")
    parser.add_argument("--associate-calls", type=int, default=50, help="AssociateFaces calls per thread and level (<= 99)")
    parser.add_argument("--filler-faces", type=int, default=2000, help="extra faces in the collection")
    parser.add_argument("--signed", action="store_true", help="the server requires SigV4 (clients sign either way)")
    parser.add_argument("--server-in-thread", action="store_true", help="run the server inside this process")
    args = parser.parse_args()
    if not 1 <= args.associate_calls <= 99:
        parser.error("--associate-calls must be 1..99 (a user holds at most 100 faces)")

    max_threads = max(args.threads)
    with tempfile.TemporaryDirectory(prefix="rekurator-bench-") as tmp:
        workspace = pathlib.Path(tmp) / "ws"
        by_identity = populate(workspace, max_threads, args.associate_calls + 1, args.filler_faces)
        all_faces = [f for ids in by_identity.values() for f in ids]
        rng = np.random.default_rng(1)
        emit(measure="setup", cpus=os.cpu_count(), python=sys.version.split()[0],
             server="thread" if args.server_in_thread else "process", signed=args.signed)

        admin = Engine(workspace, analyzer=RegisteredAnalyzer())
        inprocess = InProcess(workspace)
        endpoint = Endpoint(workspace, args.signed, args.server_in_thread)
        backends = [inprocess, endpoint] + ([] if args.signed else [RawHttp(endpoint.url)])
        try:
            for operation in ("SearchFaces", "AssociateFaces"):
                for threads in args.threads:
                    rows = {}
                    for backend in backends:
                        if operation == "SearchFaces":
                            plan = search_plan(threads, args.search_calls, all_faces, rng)
                        else:
                            reset_users(admin, threads, by_identity)
                            plan = associate_plan(threads, args.associate_calls, by_identity)
                        callers = backend.callers(threads)
                        # warm-up: connections, index load, lazy imports (not timed)
                        for call in callers:
                            call("DescribeCollection", {"CollectionId": COLLECTION})
                        if operation == "SearchFaces":
                            for call in callers:
                                call(*plan[0][0][:2])
                        latencies, wall, errors = run_level(callers, plan)
                        rows[backend.mode] = summarize(operation, backend.mode, threads, latencies, wall, errors, args.signed)
                    local = rows["inprocess"]
                    for mode in ("endpoint", "endpoint_raw"):
                        if mode not in rows:
                            continue
                        remote = rows[mode]
                        emit(
                            measure="overhead", op=operation, threads=threads, client="boto3" if mode == "endpoint" else "http.client",
                            p50_added_ms=round(remote["p50_ms"] - local["p50_ms"], 3),
                            p99_added_ms=round(remote["p99_ms"] - local["p99_ms"], 3),
                            rps_ratio=round(remote["rps"] / local["rps"], 3),
                        )
        finally:
            for backend in backends[2:]:
                backend.close()
            endpoint.close()
            inprocess.close()
            admin.close()


if __name__ == "__main__":
    main()
