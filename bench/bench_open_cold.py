"""Benchmark: open a large workspace and answer the first search with a cold OS page cache.

bench_engine.py's open_first_search opens the workspace right after building it, so the
operating system still caches the index file. Here, on a workspace a `bench_engine.py --keep`
run left, every file of the workspace is dropped from the page cache first
(posix_fadvise DONTNEED; `fincore` confirms what stayed cached), then, alternately:

  read_floor          reading the collection's index file sequentially (8 MiB reads) in this
                      process: what any open that needs the file's bytes pays for them on this disk
  open_cold           a fresh process (bench_engine's open child) opening the workspace and running
                      one SearchFaces: import, open, first search, resident memory
  open_warm           the same right after, the file now cached
  memory_floor        a fresh process touching as many bytes of fresh memory as the index file
                      holds (one write a 4 KiB page): what any open that keeps the index in memory
                      pays to get that memory from the operating system (on a VM whose host backs
                      guest memory lazily this is not small: 0.7-3.9 s for 1.5 GB here)

One JSON line per measurement and a summary line with medians and the cold open's ratio to the
read floor of the same run.

--count-ab, after those rounds: loading the collection's index file in a fresh process with a cold
page cache, alone (as the engine does since schema 7 keeps the face count) and with a
`SELECT COUNT(*)` over the collection's faces running beside it (as the engine did before),
alternating, --repeats rounds of each.

--upgrade-ab, after those: opening with an index file rewritten as format 4 wrote it (whole int8
codes: split on load and saved again), then the next open, --repeats rounds; then one open with no
index file (the tier rebuilt from SQLite, as format-4 files were before).

Run: .venv/bin/python bench/bench_open_cold.py /tmp/e7/rekurator-bench-engine-XXXX [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import bench_engine  # noqa: E402

CHUNK = 8 << 20


def workspace_files(workspace: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in workspace.rglob("*") if p.is_file())


def evict(paths: list[pathlib.Path]) -> None:
    """Drop the files' clean pages from the OS page cache (nothing is written or changed)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cached_bytes(paths: list[pathlib.Path]) -> int | None:
    """Bytes of the files in the page cache, by util-linux `fincore` (None where it is missing)."""
    try:
        done = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *map(str, paths)],
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum(int(line.split()[0]) for line in done.stdout.splitlines() if line.strip())


def touch_fresh_memory(nbytes: int) -> float:
    """Seconds a fresh process takes to allocate `nbytes` and write one byte in every 4 KiB page."""
    code = (f"import time, numpy as np; t = time.perf_counter(); a = np.empty({nbytes}, np.uint8); a[::4096] = 1; "
            "print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


_LOAD_CHILD = """
import pathlib, sqlite3, sys, threading, time
sys.path.insert(0, sys.argv[1])
from app.core.compressed_index import load_sidecar
from app.core.index_file import IndexFile
ws, with_count = pathlib.Path(sys.argv[2]), sys.argv[3] == "1"
path = sorted((ws / "index").glob("collection-*.index"))[0]
pk = int(path.stem.split("-")[1])
t0 = time.perf_counter()
def count():
    db = sqlite3.connect(f"file:{ws / 'rekurator.sqlite3'}?mode=ro", uri=True)
    db.execute("SELECT COUNT(*) FROM faces WHERE collection_pk = ?", (pk,)).fetchone()
counting = threading.Thread(target=count)
if with_count:
    counting.start()
with IndexFile.open(path) as f:
    dim = int(f.header["dim"])
index = load_sidecar(path, pk, dim)
if with_count:
    counting.join()
assert index is not None, "the index file did not load"
print(time.perf_counter() - t0)
"""


def load_in_child(workspace: pathlib.Path, with_count: bool) -> float:
    root = str(pathlib.Path(__file__).resolve().parent.parent)
    done = subprocess.run([sys.executable, "-c", _LOAD_CHILD, root, str(workspace), "1" if with_count else "0"],
                          capture_output=True, text=True, check=True)
    return float(done.stdout)


def count_ab(workspace: pathlib.Path, files: list[pathlib.Path], repeats: int) -> None:
    times: dict[str, list[float]] = {"load_alone": [], "load_with_count": []}
    for round_ in range(repeats):
        order = [False, True] if round_ % 2 == 0 else [True, False]
        for with_count in order:
            evict(files)
            seconds = load_in_child(workspace, with_count)
            name = "load_with_count" if with_count else "load_alone"
            times[name].append(seconds)
            print(json.dumps({"bench": name, "round": round_, "seconds": round(seconds, 3)}), flush=True)
    alone, both = statistics.median(times["load_alone"]), statistics.median(times["load_with_count"])
    print(json.dumps({"bench": "count_ab_summary", "repeats": repeats, "load_alone_s": round(alone, 3),
                      "load_with_count_s": round(both, 3), "alone_over_with_count": round(alone / both, 2),
                      "loadavg": os.getloadavg()}), flush=True)


def read_file(path: pathlib.Path) -> float:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as fh:
        while fh.readinto(view):
            pass
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=pathlib.Path, help="a folder a bench_engine.py --keep run left (holds ws/)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--query", type=int, default=12345, help="the synthetic face whose FaceId is searched")
    parser.add_argument("--count-ab", action="store_true",
                        help="then: loading the index file cold alone vs with a COUNT(*) beside it (before schema 7)")
    parser.add_argument("--skip-open", action="store_true", help="only the --count-ab / --upgrade-ab rounds")
    parser.add_argument("--upgrade-ab", action="store_true",
                        help="then: opening with an index file of format 4 (whole codes, split on load and saved "
                             "again) vs without one (rebuilt from SQLite, one round)")
    args = parser.parse_args()
    workspace = args.folder / "ws"
    files = workspace_files(workspace)
    index_files = sorted((workspace / "index").glob("collection-*.index"))
    if not index_files:
        parser.error(f"{workspace}: no index file under index/ (run a search on the workspace once)")
    index_file = index_files[0]
    query = bench_engine.face_id_of(args.query)
    size = index_file.stat().st_size
    print(json.dumps({"bench": "environment", "workspace": str(workspace), "index_file_bytes": size,
                      "workspace_bytes": sum(p.stat().st_size for p in files), "loadavg": os.getloadavg()}), flush=True)
    if not args.skip_open:
        open_rounds(workspace, files, index_file, query, args.repeats)
    if args.count_ab:
        count_ab(workspace, files, args.repeats)
    if args.upgrade_ab:
        upgrade_ab(workspace, index_file, query, args.repeats)


def upgrade_ab(workspace: pathlib.Path, index_file: pathlib.Path, query: str, repeats: int) -> None:
    """A fresh process opening a workspace whose index file an earlier build wrote in format 4
    (whole int8 codes), which it splits and saves again, then the next open; against one open with
    no index file at all (the tier rebuilt from SQLite, which is what format 4 cost before)."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from tests.core.test_split_scan import as_whole_codes_file  # the converter the tests use

    upgrades, afters = [], []
    for round_ in range(repeats):
        as_whole_codes_file(index_file)
        upgrade = bench_engine.run_open_child(workspace, query)
        after = bench_engine.run_open_child(workspace, query)
        upgrades.append(upgrade["open_and_first_search_s"])
        afters.append(after["open_and_first_search_s"])
        print(json.dumps({"bench": "open_format_4", "round": round_, **upgrade}), flush=True)
        print(json.dumps({"bench": "open_after_upgrade", "round": round_, **after}), flush=True)
    for path in (workspace / "index").glob("collection-*"):
        path.unlink()
    rebuild = bench_engine.run_open_child(workspace, query)
    print(json.dumps({"bench": "open_without_index_file", **rebuild}), flush=True)
    print(json.dumps({"bench": "upgrade_summary", "repeats": repeats,
                      "open_format_4_s": round(statistics.median(upgrades), 2),
                      "open_after_upgrade_s": round(statistics.median(afters), 2),
                      "open_rebuilding_from_sqlite_s": round(rebuild["open_and_first_search_s"], 2),
                      "loadavg": os.getloadavg()}), flush=True)


def open_rounds(workspace: pathlib.Path, files: list[pathlib.Path], index_file: pathlib.Path, query: str,
                repeats: int) -> None:
    size = index_file.stat().st_size
    floors, colds, warms, memories = [], [], [], []
    for round_ in range(repeats):
        evict(files)
        left = cached_bytes(files)
        seconds = read_file(index_file)
        floors.append(seconds)
        print(json.dumps({"bench": "read_floor", "round": round_, "seconds": round(seconds, 3),
                          "gb_per_s": round(size / seconds / 1e9, 3), "cached_bytes_before": left}), flush=True)
        evict(files)
        left = cached_bytes(files)
        cold = bench_engine.run_open_child(workspace, query)
        colds.append(cold["open_and_first_search_s"])
        print(json.dumps({"bench": "open_cold", "round": round_, "cached_bytes_before": left, **cold}), flush=True)
        warm = bench_engine.run_open_child(workspace, query)
        warms.append(warm["open_and_first_search_s"])
        print(json.dumps({"bench": "open_warm", "round": round_, **warm}), flush=True)
        memories.append(touch_fresh_memory(size))
        print(json.dumps({"bench": "memory_floor", "round": round_, "seconds": round(memories[-1], 3)}), flush=True)
    floor, cold_s = statistics.median(floors), statistics.median(colds)
    print(json.dumps({"bench": "summary", "repeats": repeats, "index_file_bytes": size,
                      "read_floor_s": round(floor, 3), "open_cold_s": round(cold_s, 3),
                      "open_warm_s": round(statistics.median(warms), 3),
                      "memory_floor_s": round(statistics.median(memories), 3),
                      "cold_over_floor": round(cold_s / floor, 2), "target_s": 3.0,
                      "loadavg": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
