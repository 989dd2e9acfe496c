"""Benchmark: reading a large index file into memory, checksums checked, against the previous code.

Writes the sections a compressed-tier index file holds at --rows faces (rowids, owners, sqnorms,
int8 codes split in heads and tails with their squared norms, radii: 160 bytes a face, 1.6 GB at
1e7) twice: as the previous commit's
`app/core/index_file.py` writes them (4 KiB checksum blocks) and as today's code writes the files
it reads whole (1 MiB blocks). Then, round by round, in an order that rotates:

  floor          reading the new file sequentially (8 MiB reads into one reused buffer): the disk's
                 and page cache's share, no checksums, no fresh memory
  baseline       the previous commit's IndexFile reading its own file into fresh arrays, as
                 CompressedIndex.load_file does (one reader thread, CRCs on the calling thread)
  new            today's IndexFile reading today's file (several threads read and check a chunk each)
  new_old_file   today's IndexFile reading the previous commit's file (4 KiB blocks, as found in
                 workspaces saved before this change until their next save)
  new_threads_T  today's code with READ_THREADS = T, for each T of --threads

each once with the files dropped from the page cache (cold, posix_fadvise) and once right after
(warm). One JSON line per measurement and a summary with medians and ratios to the baseline.
First, with the file's bytes in memory: CRC-32 over them in 4 KiB and in 1 MiB blocks on one and
on two threads (zlib releases the GIL only for blocks over 5 KiB), medians of --repeats.

Run: .venv/bin/python bench/bench_index_file_read.py --rows 1e7 --repeats 5 --workdir /tmp/ifr
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_open_cold import evict, read_file  # noqa: E402

from app.core import index_file as new_module  # noqa: E402

SECTIONS = [("rowids", np.int64, ()), ("owners", np.int64, ()), ("sqnorms", np.float32, ()),
            ("code_head", np.uint8, (64,)), ("code_tail", np.uint8, (64,)), ("code_head_sq", np.int32, ()),
            ("code_tail_sq", np.int32, ()), ("radii", np.float32, ())]


def baseline_module(rev: str, workdir: pathlib.Path):
    """The previous commit's index_file.py, imported under another name."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:app/core/index_file.py"],
                            capture_output=True, text=True, check=True).stdout
    path = workdir / "baseline_index_file.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_index_file", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arrays(rows: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for name, dtype, tail in SECTIONS:
        if dtype == np.int8:
            array = rng.integers(-128, 128, (rows, *tail), dtype=np.int8)
        else:
            array = rng.random((rows, *tail)).astype(dtype) * 1000
        out.append((name, array))
    return out


def crc_speeds(data: np.ndarray, repeats: int) -> None:
    """CRC-32 of `data` in 4 KiB and 1 MiB blocks, one thread and two (a 32 MiB chunk a task)."""
    from concurrent.futures import ThreadPoolExecutor

    view, chunk = data.data, 32 << 20
    for block in (new_module.BLOCK, new_module.MEMORY_CRC_BLOCK):
        for threads in (1, 2):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(lambda lo, b=block: new_module.block_crcs(view[lo : lo + chunk], b),
                                  range(0, len(view), chunk)))
                times.append(time.perf_counter() - t0)
            print(json.dumps({"bench": "crc32", "bytes": len(view), "block": block, "threads": threads,
                              "seconds_p50": round(statistics.median(times), 3)}), flush=True)


def load(module, path: pathlib.Path, rows: int) -> float:
    """Open and read every section into fresh arrays with headroom, as load_file does; seconds."""
    cap = rows + max(1024, rows // 8)
    t0 = time.perf_counter()
    file = module.IndexFile.open(path)
    if file is None:
        raise SystemExit(f"{path}: not readable by {module.__name__}")
    with file:
        for name, dtype, tail in SECTIONS:
            array = np.empty((cap, *tail), dtype)
            file.read_into(name, array[:rows])
    return time.perf_counter() - t0


def load_with_threads(threads: int, path: pathlib.Path, rows: int) -> float:
    default, new_module.READ_THREADS = new_module.READ_THREADS, threads
    try:
        return load(new_module, path, rows)
    finally:
        new_module.READ_THREADS = default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default="55fcfdd", help="the commit whose index_file.py is the baseline")
    parser.add_argument("--workdir", type=pathlib.Path, default=None)
    parser.add_argument("--threads", default="", help="also today's code with these READ_THREADS, e.g. 2,8")
    args = parser.parse_args()
    rows = int(args.rows)
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="bench-index-file-"))
    workdir.mkdir(parents=True, exist_ok=True)
    old = baseline_module(args.baseline, workdir)
    old_path, new_path = workdir / "old.index", workdir / "new.index"
    sections = arrays(rows)
    crc_speeds(np.concatenate([a.reshape(-1).view(np.uint8) for _n, a in sections]), args.repeats)
    old.write_index_file(old_path, {"rows": rows}, sections)
    new_module.write_index_file(new_path, {"rows": rows}, sections, crc_block=new_module.MEMORY_CRC_BLOCK)
    del sections
    print(json.dumps({"bench": "environment", "rows": rows, "file_bytes": new_path.stat().st_size,
                      "baseline": args.baseline, "cpus": os.cpu_count(), "read_threads": new_module.READ_THREADS,
                      "loadavg": os.getloadavg()}), flush=True)
    variants = {
        "floor": lambda: read_file(new_path),
        "baseline": lambda: load(old, old_path, rows),
        "new": lambda: load(new_module, new_path, rows),
        "new_old_file": lambda: load(new_module, old_path, rows),
    }
    for threads in [int(t) for t in args.threads.split(",") if t]:
        variants[f"new_threads_{threads}"] = lambda threads=threads: load_with_threads(threads, new_path, rows)
    times: dict[str, list[float]] = {f"{name}_{state}": [] for name in variants for state in ("cold", "warm")}
    names = list(variants)
    for round_ in range(args.repeats):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            evict([old_path, new_path])
            for state in ("cold", "warm"):
                seconds = variants[name]()
                times[f"{name}_{state}"].append(seconds)
                print(json.dumps({"bench": name, "state": state, "round": round_, "seconds": round(seconds, 3)}),
                      flush=True)
    medians = {key: round(statistics.median(values), 3) for key, values in times.items()}
    ratios = {f"{name}_{state}_over_baseline": round(medians[f"{name}_{state}"] / medians[f"baseline_{state}"], 2)
              for name in variants if name != "baseline" for state in ("cold", "warm")}
    print(json.dumps({"bench": "summary", "repeats": args.repeats, "medians_s": medians, **ratios,
                      "loadavg": os.getloadavg()}), flush=True)
    if args.workdir is None:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
