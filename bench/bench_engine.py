"""Benchmark: the engine at 1e4..1e6 faces, measured against the memory-bandwidth floor.

Measures, in one run, on synthetic dlib-scale descriptors stored through the real storage path
(app.core.face_ops.store_analyzed):
  store_analyzed      faces/s through the batched storage path (100 images x 10 faces a transaction)
  search_faces        SearchFaces by FaceId: first call after writes, first call after a rebuild from
                      SQLite, p50/p99, against a bare numpy float32 mat-vec over a matrix of the same
                      size (the floor) and, on the compressed tier, against earlier scans
  search_users        SearchUsers by FaceId, same way
  associate_faces     AssociateFaces with 100 FaceIds on a user of 0 faces and of 99 faces
  open_first_search   a fresh process opening the largest workspace and running one SearchFaces:
                      wall time and resident memory against the raw descriptor bytes
  open_empty          the fixed memory of a process that imported the engine and opened an empty workspace
  exactness           SearchFaces answers (ids and similarities, default threshold) against an exhaustive
                      float64 search over the bench's own copy of the descriptors, on queries whose
                      same-person faces are planted in the collection (the compressed tier must agree)
  index_tier          which search tier the engine used at each size (exact, or compressed above
                      --compressed-min-faces)

One JSON line per measurement on stdout; progress on stderr. The workspace lives in a temporary
folder (or under --workdir) and is removed afterwards unless --keep is given.

Run: .venv/bin/python bench/bench_engine.py [--sizes 1e4,1e5,1e6] [--repeats 200] [--quick]
     .venv/bin/python bench/bench_engine.py --sizes 1e6,5e6,1e7 --repeats 100 --user-fraction 0.01 (about an hour)
     storage path alone, growing one kept workspace:
     .venv/bin/python bench/bench_engine.py --store-only --sizes 1e4,1e5 --workdir /tmp/b --keep   (prints the folder)
     .venv/bin/python bench/bench_engine.py --store-only --sizes 1e5,1e6 --reuse /tmp/b/rekurator-bench-engine-XXXX
"""

from __future__ import annotations

import time

_T_PROCESS = time.perf_counter()  # first thing: the open child reports its import time from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from app.core import engine as engine_module  # noqa: E402
from app.core import split_scan  # noqa: E402
from app.core.analysis import AnalyzedFace, ImageAnalysis  # noqa: E402
from app.core.compressed_index import CompressedIndex  # noqa: E402
from app.core.engine import Engine  # noqa: E402
from app.core.errors import ConflictException  # noqa: E402
from app.core.similarity import scale_for  # noqa: E402
from app.core.face_ops import AnalyzedImage, store_analyzed  # noqa: E402
from app.core.ids import face_id  # noqa: E402

MODEL = "dlib_resnet_v1+bench"
COLLECTION = "bench"
DIM = 128
CENTRE_SD = 1.0 / np.sqrt(2 * DIM)  # per dimension: two people's centres land ~1.0 apart
SPREAD = 0.35  # same-person pairs land ~0.35 apart, the dlib descriptor scale
FACES_PER_IMAGE = 10
FACES_PER_IDENTITY = 10
IMAGES_PER_BATCH = 100
LANDMARKS = ("eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose")


class BenchAnalyzer:
    """The engine's analyzer slot: the bench stores pre-analysed faces, so nothing is analysed."""

    model_version = MODEL

    def analyze(self, image_bytes: bytes) -> ImageAnalysis:
        raise RuntimeError("bench_engine stores pre-analysed faces through store_analyzed; analyze() is never due")


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def progress(message: str) -> None:
    print(f"[bench_engine {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ms(seconds) -> float:
    return round(float(seconds) * 1000.0, 3)


def percentiles(samples) -> dict:
    a = np.asarray(samples, dtype=np.float64)
    return {"p50_ms": ms(np.percentile(a, 50)), "p99_ms": ms(np.percentile(a, 99)), "max_ms": ms(a.max())}


def memory_status() -> dict:
    """VmRSS and VmHWM of this process, in MiB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024.0  # kB -> MiB
    return out


# -- synthetic faces -----------------------------------------------------------------------
class SyntheticFaces:
    """Descriptors of made-up people, laid out as images of FACES_PER_IMAGE faces.

    Face g sits in image g // FACES_PER_IMAGE at place g % FACES_PER_IMAGE. A block of faces
    holds I identities with k faces each, identity-minor (face j of the block is identity j % I),
    so an image shows different people and each person turns up in k different images.
    """

    def __init__(self, capacity: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.vectors = np.empty((capacity, DIM), dtype=np.float32)
        self.identity = np.empty(capacity, dtype=np.int64)
        self.count = 0
        self.identities = 0

    def add_block(self, n_identities: int, per_identity: int, interleave: bool = True) -> range:
        """New people with `per_identity` faces each; the range of their identity numbers."""
        n = n_identities * per_identity
        start = self.count
        if start + n > len(self.vectors):
            raise ValueError("SyntheticFaces capacity exceeded")
        centres = self.rng.standard_normal((n_identities, DIM), dtype=np.float32) * np.float32(CENTRE_SD)
        local = np.tile(np.arange(n_identities), per_identity) if interleave else np.repeat(np.arange(n_identities), per_identity)
        noise_sd = np.float32(SPREAD * CENTRE_SD)
        for lo in range(0, n, 100_000):  # in slices: no float64 temporaries the size of the block
            hi = min(n, lo + 100_000)
            noise = self.rng.standard_normal((hi - lo, DIM), dtype=np.float32) * noise_sd
            self.vectors[start + lo : start + hi] = centres[local[lo:hi]] + noise
        self.identity[start : start + n] = self.identities + local
        self.count += n
        first = self.identities
        self.identities += n_identities
        return range(first, self.identities)

    def faces_of(self, identity: int) -> np.ndarray:
        return np.flatnonzero(self.identity[: self.count] == identity)


def image_sha(image: int) -> str:
    return f"{image:064x}"  # stands in for the photo's SHA-256: unique per synthetic image


def image_external_id(image: int) -> str:
    return f"bench-{image}"


def face_id_of(g: int) -> str:
    image, place = divmod(int(g), FACES_PER_IMAGE)
    return face_id(MODEL, image_sha(image), image_external_id(image), place)


def analyzed_face(descriptor: np.ndarray, place: int) -> AnalyzedFace:
    """A face with the FaceDetail a real analyzer fills in (box, 5 landmarks, pose, quality)."""
    left, top, size = 0.02 + 0.095 * place, 0.3, 0.08
    return AnalyzedFace(
        bounding_box={"Width": size, "Height": size, "Left": left, "Top": top},
        confidence=99.5,
        descriptor=descriptor,
        landmarks=[{"Type": name, "X": left + 0.01 * (i + 1), "Y": top + 0.012 * (i + 1)} for i, name in enumerate(LANDMARKS)],
        pose={"Roll": 1.5, "Yaw": -4.0, "Pitch": 2.0},
        quality={"Brightness": 62.0, "Sharpness": 71.0},
    )


def image_items(faces: SyntheticFaces, first_image: int, last_image: int) -> list[AnalyzedImage]:
    items = []
    for image in range(first_image, last_image):
        g0 = image * FACES_PER_IMAGE
        found = [analyzed_face(faces.vectors[g0 + place], place) for place in range(FACES_PER_IMAGE)]
        items.append(AnalyzedImage(image_sha(image), image_external_id(image), ImageAnalysis(640, 480, found)))
    return items


# -- measurements --------------------------------------------------------------------------
def store_faces(engine: Engine, faces: SyntheticFaces, first_face: int, last_face: int, index_loaded: bool,
                purpose: str = "collection", profiler=None) -> None:
    """Store faces [first_face, last_face) in batches; time only the store_analyzed calls.

    `profiler` (a cProfile.Profile): enabled around the store_analyzed calls only.
    """
    assert first_face % FACES_PER_IMAGE == 0 and last_face % FACES_PER_IMAGE == 0
    first_image, last_image = first_face // FACES_PER_IMAGE, last_face // FACES_PER_IMAGE
    batch_s, batch_faces = [], []
    cpu0 = time.process_time()
    db0, io0 = database_bytes(engine), written_bytes()
    wall0 = time.perf_counter()
    for lo in range(first_image, last_image, IMAGES_PER_BATCH):
        items = image_items(faces, lo, min(last_image, lo + IMAGES_PER_BATCH))
        if profiler is not None:
            profiler.enable()
        t0 = time.perf_counter()
        responses = store_analyzed(engine, COLLECTION, items)
        batch_s.append(time.perf_counter() - t0)
        batch_faces.append(len(items) * FACES_PER_IMAGE)
        if profiler is not None:
            profiler.disable()
        stored = sum(len(r["FaceRecords"]) for r in responses)
        if stored != len(items) * FACES_PER_IMAGE:
            raise RuntimeError(f"store_analyzed kept {stored} of {len(items) * FACES_PER_IMAGE} faces")
        done = (lo + len(items)) * FACES_PER_IMAGE
        if done // 100_000 != (done - len(items) * FACES_PER_IMAGE) // 100_000:  # crossed a multiple of 100,000
            progress(f"  stored {done:,} faces ({(done - first_face) / sum(batch_s):,.0f} faces/s so far)")
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0  # includes synthesising the batches (small)
    n = last_face - first_face
    total = sum(batch_s)
    growth, written = database_bytes(engine) - db0, written_bytes() - io0
    tenth = max(1, len(batch_s) // 10)
    emit(bench="store_analyzed", purpose=purpose, faces_before=first_face, faces_after=last_face, faces=n,
         images_per_batch=IMAGES_PER_BATCH, faces_per_image=FACES_PER_IMAGE, index_in_memory=index_loaded,
         seconds=round(total, 3), faces_per_s=round(n / total), first_batch_ms=ms(batch_s[0]),
         first_tenth_faces_per_s=round(sum(batch_faces[:tenth]) / sum(batch_s[:tenth])),
         last_tenth_faces_per_s=round(sum(batch_faces[-tenth:]) / sum(batch_s[-tenth:])),
         cpu_us_per_face=round(cpu / n * 1e6, 1), database_growth_bytes_per_face=round(growth / n),
         written_bytes_per_face=round(written / n),
         batch_p50_ms=ms(np.median(batch_s)),
         batch_max_ms=ms(max(batch_s)), wall_with_synthesis_s=round(wall, 3), target_faces_per_s=20000,
         loadavg_1m=os.getloadavg()[0])


def written_bytes() -> int:
    """Bytes this process has had written to storage so far (WAL appends and checkpoints; /proc/self/io)."""
    try:
        with open("/proc/self/io") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("write_bytes:"))
    except (OSError, StopIteration):
        return 0


def database_bytes(engine: Engine) -> int:
    """The database, its WAL and shared-memory files, in bytes."""
    return sum(p.stat().st_size for p in engine.store.path.parent.glob(engine.store.path.name + "*") if p.is_file())


def stored_faces(engine: Engine) -> int:
    with engine.store.read() as conn:
        row = conn.execute("SELECT pk FROM collections WHERE collection_id = ?", (COLLECTION,)).fetchone()
        return 0 if row is None else conn.execute("SELECT COUNT(*) FROM faces WHERE collection_pk = ?", row).fetchone()[0]


def add_users(engine: Engine, faces: SyntheticFaces, identities: range, fraction: float, total_faces: int,
              first_stored: int = 0) -> list[int]:
    """One user per identity for the first `fraction` of `identities`, holding all its faces; their identities.

    `first_stored`: on a reused workspace, the first face this run's step stored; only people whose
    faces all lie at or above it qualify (below it an earlier run may have stored other draws, or
    given those FaceIds to its AssociateFaces users).
    """
    # identity-minor layout: identity i's faces sit at i_local + c * I within its block
    block_first = int(np.flatnonzero(faces.identity[: faces.count] == identities[0])[0])
    n_id = len(identities)
    eligible = [i for i in identities if block_first + (i - identities[0]) >= first_stored]
    chosen = eligible[: int(round(len(identities) * fraction))]
    if not chosen:
        return []
    create_s, assoc_s = [], []
    for identity in chosen:
        g = block_first + (identity - identities[0]) + n_id * np.arange(FACES_PER_IDENTITY)
        t0 = time.perf_counter()
        try:
            engine.create_user(CollectionId=COLLECTION, UserId=f"person-{identity}")
        except ConflictException:  # a reused workspace measured again at the size it holds: made before
            continue
        t1 = time.perf_counter()
        r = engine.associate_faces(CollectionId=COLLECTION, UserId=f"person-{identity}", FaceIds=[face_id_of(x) for x in g])
        t2 = time.perf_counter()
        if len(r["AssociatedFaces"]) != FACES_PER_IDENTITY:
            raise RuntimeError(f"AssociateFaces kept {len(r['AssociatedFaces'])} faces: {r['UnsuccessfulFaceAssociations'][:2]}")
        create_s.append(t1 - t0)
        assoc_s.append(t2 - t1)
    if not create_s:
        emit(bench="add_users", faces=total_faces, users_added=0, users_there_already=len(chosen))
        return chosen
    emit(bench="add_users", faces=total_faces, users_added=len(create_s), users_there_already=len(chosen) - len(create_s), faces_per_user=FACES_PER_IDENTITY,
         seconds=round(sum(create_s) + sum(assoc_s), 3), create_user_p50_ms=ms(np.median(create_s)),
         associate_10_p50_ms=ms(np.median(assoc_s)), associate_10_p99_ms=ms(np.percentile(assoc_s, 99)))
    return chosen


def whole_code_within(index):
    """The compressed tier's `_within` as it was before app/core/split_scan.py: simsimd over whole
    int8 codes into a reused buffer (a copy of the codes, built once: 128 bytes a face more), for a
    same-run A/B of the scan."""
    import simsimd

    from app.core import int8_scan

    codes = index.codes
    buf = np.empty(len(codes), int8_scan.sum_dtype(index.dim))
    nones = []  # simsimd 6.5's cdist(out=) takes a reference of None's each call: give one back

    def within(code, reach):
        n = index.n
        simsimd.cdist(code.reshape(1, -1), codes[:n], metric="sqeuclidean", threads=2, out=buf[:n].reshape(1, n))
        nones.append(None)
        scan = buf[:n]
        mask = scan <= (reach / index.step) ** 2 * (1 + 1e-6)
        mask[index._clipped[index._clipped < n]] = True
        pos = np.flatnonzero(mask)
        pos = pos[np.isfinite(index.sqnorms[pos])]
        return pos, scan[pos].astype(np.int64)

    return within


def previous_scans(index) -> dict:
    """name -> (switch on, switch off) of each earlier compressed-tier scan timed against today's on
    the same queries: simsimd over whole codes (before split_scan), and split_scan with eight faces
    a GEMM row (its first version, before the group was measured per machine)."""
    whole = whole_code_within(index)

    def whole_on():
        index._within = whole

    def whole_off():
        del index._within

    def eight_on():
        index.scan_group = 8

    def eight_off():
        index.scan_group = None

    return {"whole_code_scan": (whole_on, whole_off), "eight_a_row_scan": (eight_on, eight_off)}


def measure_searches(engine: Engine, faces: SyntheticFaces, n: int, users: int, user_identities: np.ndarray,
                     repeats: int, max_faces: int, rng, skip_floor: bool = False) -> None:
    """SearchFaces and SearchUsers by FaceId at n faces, alternating with the bare mat-vec floor."""
    face_queries = [face_id_of(g) for g in rng.integers(0, n, repeats)]
    user_faces = np.flatnonzero(np.isin(faces.identity[:n], user_identities)) if users else np.zeros(0, np.int64)
    user_queries = [face_id_of(g) for g in rng.choice(user_faces, repeats)] if len(user_faces) else face_queries
    matrix = faces.vectors[:n]  # same shape and dtype as the index's matrix
    floor_queries = rng.standard_normal((repeats, DIM), dtype=np.float32) * np.float32(CENTRE_SD)

    # the first search after writes brings the in-memory index up to date: timed on its own
    t0 = time.perf_counter()
    engine.search_faces(CollectionId=COLLECTION, FaceId=face_queries[0], MaxFaces=max_faces)
    first_faces = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.search_users(CollectionId=COLLECTION, FaceId=user_queries[0])
    first_users = time.perf_counter() - t0
    # and a rebuild: forget_index deletes the index files, so the index is built again from SQLite
    # (a process that reopens the workspace loads the file instead: measure_open, bench_open_cold.py)
    engine.forget_index(collection_pk(engine))
    t0 = time.perf_counter()
    engine.search_faces(CollectionId=COLLECTION, FaceId=face_queries[0], MaxFaces=max_faces)
    cold_faces = time.perf_counter() - t0
    engine.search_users(CollectionId=COLLECTION, FaceId=user_queries[0])  # user means built once, untimed
    for _ in range(3):  # warm caches and BLAS threads alike for all three
        matrix @ floor_queries[0]
    index = engine._indexes.get(collection_pk(engine))
    previous = previous_scans(index) if getattr(index, "tier", "") == "compressed" else {}
    for on, off in previous.values():
        on()
        engine.search_faces(CollectionId=COLLECTION, FaceId=face_queries[0], MaxFaces=max_faces)
        off()

    floor_s, faces_s, users_s, face_matches, user_matches = [], [], [], [], []
    previous_s: dict[str, list[float]] = {name: [] for name in previous}
    scans = [("today", lambda: None, lambda: None), *((name, on, off) for name, (on, off) in previous.items())]
    face_matches_of: dict[int, list] = {}
    # in blocks of 10 per measurement, the blocks alternating (drift and cache state hit all alike),
    # with a pause between blocks: a search timed right after a BLAS mat-vec shares the cores with
    # OpenBLAS's still-spinning threads (the compressed tier's scan uses both cores)
    for lo in range(0, repeats, 10):
        block = range(lo, min(repeats, lo + 10))
        if not skip_floor:
            for r in block:
                t0 = time.perf_counter()
                matrix @ floor_queries[r]
                floor_s.append(time.perf_counter() - t0)
        time.sleep(0.05)
        # each scan leads a block in turn: the one right after the mat-vec runs slower (at 1e6, 7.7
        # against 5.6-6.2 ms in one-off runs, whichever scan it was), so no scan keeps that place
        turn = (lo // 10) % len(scans)
        answers = {}
        for name, on, off in scans[turn:] + scans[:turn]:
            on()
            for r in block:
                t0 = time.perf_counter()
                rf = engine.search_faces(CollectionId=COLLECTION, FaceId=face_queries[r], MaxFaces=max_faces)
                (faces_s if name == "today" else previous_s[name]).append(time.perf_counter() - t0)
                answers[name, r] = rf["FaceMatches"]
            off()
            time.sleep(0.05)
        for r in block:
            face_matches.append(len(answers["today", r]))
            face_matches_of[r] = answers["today", r]
        for (name, r), got in answers.items():  # the earlier scans must answer the same
            if got != face_matches_of[r]:
                raise AssertionError(f"the {name} answered {face_queries[r]} differently")
        for r in block:
            t0 = time.perf_counter()
            ru = engine.search_users(CollectionId=COLLECTION, FaceId=user_queries[r])
            users_s.append(time.perf_counter() - t0)
            user_matches.append(len(ru["UserMatches"]))
        time.sleep(0.05)
    floor_s = floor_s or [0.0]
    floor_p50 = max(float(np.median(floor_s)), 1e-9)  # --skip-floor: ratios meaningless
    floor = {"floor_p50_ms": ms(floor_p50), "floor_p99_ms": ms(np.percentile(floor_s, 99))}
    pf, pu = percentiles(faces_s), percentiles(users_s)
    ab: dict = {}
    for name, times in previous_s.items():  # earlier scans, same queries, same answers, blocks alternating
        ab[f"{name}_p50_ms"] = ms(np.median(times))
        ab[f"ratio_to_{name}_p50"] = round(float(np.median(faces_s) / np.median(times)), 3)
    if previous:
        ab["faces_per_gemm_row"] = split_scan.chosen_groups()
    emit(bench="search_faces", faces=n, repeats=repeats, max_faces=max_faces, first_after_write_ms=ms(first_faces),
         rebuild_first_ms=ms(cold_faces), **pf, **ab, **floor,
         ratio_p50=round(float(np.median(faces_s)) / floor_p50, 3),
         mean_matches=round(float(np.mean(face_matches)), 2), target_ratio_p50_at_1e6=1.5, loadavg_1m=os.getloadavg()[0])
    emit(bench="search_users", faces=n, users=users, repeats=repeats, first_after_write_ms=ms(first_users), **pu,
         **floor, ratio_p50=round(float(np.median(users_s)) / floor_p50, 3),
         mean_matches=round(float(np.mean(user_matches)), 2))


def measure_exactness(engine: Engine, faces: SyntheticFaces, n: int, queries: int, max_faces: int, rng,
                      first_query: int = 0) -> None:
    """SearchFaces (default threshold) against an exhaustive search over the same descriptors.

    Every face has FACES_PER_IDENTITY - 1 same-person faces in the collection (planted matches).
    The reference scans all n descriptors in float32 blocks, re-measures every face near the
    threshold in float64 and orders by (distance, rowid) like the engine; a query agrees when the
    FaceIds and Similarities are identical.
    """
    scale = scale_for(MODEL)
    threshold = 80.0
    bound = scale.max_distance(threshold)
    # a reused workspace: only faces this run stored are sure to be the bench's copies (a grown
    # workspace's earlier steps may have drawn other blocks); their same-person faces are in their block
    chosen = first_query + rng.choice(n - first_query, size=min(4 * queries, n - first_query), replace=False)
    if first_query:  # and whose same-person faces this run stored too (a block may begin below first_query)
        chosen = np.asarray([g for g in chosen if faces.faces_of(int(faces.identity[g])).min() >= first_query], np.int64)
    chosen = chosen[:queries]
    qv = faces.vectors[chosen].astype(np.float32)
    near: list[list[int]] = [[] for _ in chosen]
    for lo in range(0, n, 25_000):  # float32 blocks: a margin well above their rounding, then float64
        block = faces.vectors[lo : min(n, lo + 25_000)]
        d2 = (np.einsum("ij,ij->i", block, block)[None, :] - 2.0 * (qv @ block.T)) + np.einsum("ij,ij->i", qv, qv)[:, None]
        for qi, cols in zip(*np.nonzero(d2 <= bound * bound + 1e-3)):
            near[qi].append(lo + int(cols))
    agree, engine_s, mismatches = 0, [], []
    for qi, g in enumerate(chosen):
        cand = np.asarray([c for c in near[qi] if c != g], dtype=np.int64)
        diff = faces.vectors[cand].astype(np.float64) - qv[qi].astype(np.float64)
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff))  # the same float64 arithmetic as the index
        keep = d <= bound
        cand, d = cand[keep], d[keep]
        order = np.lexsort((cand, d))[:max_faces]  # rowid order = face order in this collection
        sims = np.atleast_1d(scale.similarity(d[order]))
        expected = [(face_id_of(int(c)), round(float(sv), 5)) for c, sv in zip(cand[order], sims) if sv >= threshold]
        t0 = time.perf_counter()
        r = engine.search_faces(CollectionId=COLLECTION, FaceId=face_id_of(int(g)), MaxFaces=max_faces)
        engine_s.append(time.perf_counter() - t0)
        got = [(m["Face"]["FaceId"], m["Similarity"]) for m in r["FaceMatches"]]
        if got == expected:
            agree += 1
        elif len(mismatches) < 3:
            mismatches.append({"face": int(g), "expected": len(expected), "got": len(got)})
    emit(bench="exactness", faces=n, queries=len(chosen), queries_from_face=first_query, agreeing=agree, agreement=round(agree / len(chosen), 5),
         target=0.999, mean_planted_matches=round(float(np.mean([len(x) for x in near])) - 1, 2),
         search_p50_ms=ms(np.median(engine_s)), tier=index_tier(engine), mismatches=mismatches)


def index_tier(engine: Engine) -> str:
    index = engine._indexes.get(collection_pk(engine))
    return "none" if index is None else ("compressed" if isinstance(index, CompressedIndex) else "exact")


def collection_pk(engine: Engine) -> int:
    with engine.store.read() as conn:
        return conn.execute("SELECT pk FROM collections WHERE collection_id = ?", (COLLECTION,)).fetchone()[0]


def measure_external_write(engine: Engine, workspace: pathlib.Path, n: int, rng) -> None:
    """First SearchFaces after another process wrote: the index resyncs from the database."""
    query = face_id_of(int(rng.integers(0, n)))
    engine.search_faces(CollectionId=COLLECTION, FaceId=query, MaxFaces=10)  # index current
    # a second Engine has its own index cache: to the first, its writes look like another process's
    with Engine(workspace, analyzer=BenchAnalyzer()) as other:
        other.create_user(CollectionId=COLLECTION, UserId=f"external-writer-{n}")  # one per run on a reused workspace
        other.associate_faces(CollectionId=COLLECTION, UserId=f"external-writer-{n}", FaceIds=[face_id_of(n - 1)])
    t0 = time.perf_counter()
    engine.search_faces(CollectionId=COLLECTION, FaceId=query, MaxFaces=10)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.search_faces(CollectionId=COLLECTION, FaceId=query, MaxFaces=10)
    emit(bench="search_after_external_write", faces=n, first_ms=ms(first), next_ms=ms(time.perf_counter() - t0))


def measure_associate(engine: Engine, faces: SyntheticFaces, repeats: int) -> None:
    """AssociateFaces of 100 fresh FaceIds onto a fresh user holding 0, then 99, faces."""
    # fresh people just for this: A_r has 100 faces (the empty-user case), B_r 199 (99 already
    # on the user + 100 same-person candidates, all scored against the user's faces)
    first = faces.count
    people_a = faces.add_block(repeats, 100, interleave=False)
    people_b = faces.add_block(repeats, 199, interleave=False)
    pad = (-faces.count) % FACES_PER_IMAGE  # whole images only: pad with one more person
    if pad:
        faces.add_block(1, pad)
    progress(f"  storing {faces.count - first:,} faces for the AssociateFaces runs")
    # the index was last loaded cold (exact size): the first batch also pays for growing it
    store_faces(engine, faces, first, faces.count, index_loaded=True, purpose="associate_pool")
    engine.search_faces(CollectionId=COLLECTION, FaceId=face_id_of(first), MaxFaces=1)  # bring the index current

    empty_s, full_s, free_s = [], [], []
    results_empty, results_full = set(), set()
    for r in range(repeats):
        a_ids = [face_id_of(g) for g in faces.faces_of(people_a[r])]
        b_ids = [face_id_of(g) for g in faces.faces_of(people_b[r])]
        tag = f"{first}-{r}"  # the pool's first face: new users on a reused workspace
        for user in (f"assoc-empty-{tag}", f"assoc-full-{tag}"):
            engine.create_user(CollectionId=COLLECTION, UserId=user)
        t0 = time.perf_counter()
        ra = engine.associate_faces(CollectionId=COLLECTION, UserId=f"assoc-empty-{tag}", FaceIds=a_ids)
        empty_s.append(time.perf_counter() - t0)
        results_empty.add((len(ra["AssociatedFaces"]), len(ra["UnsuccessfulFaceAssociations"])))
        pre = engine.associate_faces(CollectionId=COLLECTION, UserId=f"assoc-full-{tag}", FaceIds=b_ids[:99])  # setup
        if len(pre["AssociatedFaces"]) != 99:
            raise RuntimeError("setting up the 99-face user failed")
        t0 = time.perf_counter()
        rb = engine.associate_faces(CollectionId=COLLECTION, UserId=f"assoc-full-{tag}", FaceIds=b_ids[99:])
        full_s.append(time.perf_counter() - t0)
        results_full.add((len(rb["AssociatedFaces"]), len(rb["UnsuccessfulFaceAssociations"])))
        t0 = time.perf_counter()
        engine.disassociate_faces(CollectionId=COLLECTION, UserId=f"assoc-empty-{tag}", FaceIds=a_ids)
        free_s.append(time.perf_counter() - t0)
    common = {"faces": faces.count, "face_ids": 100, "repeats": repeats, "target_p50_ms": 20}
    emit(bench="associate_faces", user_faces_before=0, **common, **percentiles(empty_s),
         associated_unsuccessful=sorted(results_empty))
    emit(bench="associate_faces", user_faces_before=99, **common, **percentiles(full_s),
         associated_unsuccessful=sorted(results_full))
    emit(bench="disassociate_faces", user_faces_before=100, faces=faces.count, face_ids=100, repeats=repeats,
         **percentiles(free_s))


def run_open_child(workspace: pathlib.Path, query_face: str | None) -> dict:
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child-open", str(workspace)]
    if query_face:
        cmd += ["--child-face", query_face]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"open child failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(wall, 3)
    return result


def child_open(workspace: str, query_face: str | None) -> None:
    """In a fresh process: open the workspace, run one SearchFaces, report times and memory."""
    imported = time.perf_counter()
    engine = Engine(workspace, analyzer=BenchAnalyzer())
    opened = time.perf_counter()
    out = {"import_s": round(imported - _T_PROCESS, 3), "open_s": round(opened - imported, 3)}
    if query_face:
        r = engine.search_faces(CollectionId=COLLECTION, FaceId=query_face, MaxFaces=10)
        searched = time.perf_counter()
        out.update(first_search_s=round(searched - opened, 3), open_and_first_search_s=round(searched - imported, 3),
                   matches=len(r["FaceMatches"]))
    mem = memory_status()
    out.update(vm_rss_mib=round(mem["VmRSS"], 1), vm_hwm_mib=round(mem["VmHWM"], 1),
               rss_anon_mib=round(mem.get("RssAnon", 0.0), 1), rss_file_mib=round(mem.get("RssFile", 0.0), 1))
    engine.close()
    print(json.dumps(out), flush=True)


def measure_open(workdir: pathlib.Path, workspace: pathlib.Path, n: int, query_face: str, repeats: int) -> None:
    empty = run_open_child(workdir / "empty-ws", None)
    emit(bench="open_empty", **empty)
    runs = [run_open_child(workspace, query_face) for _ in range(repeats)]
    runs.sort(key=lambda r: r["open_and_first_search_s"])
    mid = runs[len(runs) // 2]
    raw_mib = n * DIM * 4 / 2**20
    fixed = empty["vm_rss_mib"]
    emit(bench="open_first_search", faces=n, runs=repeats, **mid,
         open_and_first_search_all_s=[r["open_and_first_search_s"] for r in runs],
         descriptor_mib=round(raw_mib, 1), fixed_rss_mib=fixed, rss_ratio=round(mid["vm_rss_mib"] / raw_mib, 3),
         rss_over_fixed_ratio=round((mid["vm_rss_mib"] - fixed) / raw_mib, 3),
         hwm_over_fixed_ratio=round((mid["vm_hwm_mib"] - fixed) / raw_mib, 3), os_page_cache="warm", target_s=3.0)


# -- driver --------------------------------------------------------------------------------
def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(float(s)) for s in text.split(",") if s.strip()})
    step = FACES_PER_IMAGE * FACES_PER_IDENTITY
    bad = [s for s in sizes if s <= 0 or s % step]
    if bad:
        raise argparse.ArgumentTypeError(f"--sizes must be positive multiples of {step}; got {bad}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=None, help="collection sizes, ascending (default 1e4,1e5,1e6)")
    parser.add_argument("--repeats", type=int, default=None, help="timed searches per size (default 200; --quick 50)")
    parser.add_argument("--assoc-repeats", type=int, default=None, help="AssociateFaces calls per case (default 20)")
    parser.add_argument("--open-repeats", type=int, default=3, help="fresh-process opens of the largest workspace")
    parser.add_argument("--user-fraction", type=float, default=0.1, help="share of identities given a user")
    parser.add_argument("--max-faces", type=int, default=10, help="SearchFaces MaxFaces")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats: a smoke run")
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="folder for the bench's temporary workspaces")
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    parser.add_argument("--reuse", type=pathlib.Path, default=None,
                        help="a folder a --keep run left: go on from the faces its workspace holds (same --seed)")
    parser.add_argument("--store-only", action="store_true",
                        help="measure only the storage path at each size (no users, searches, opens, AssociateFaces)")
    parser.add_argument("--skip-floor", action="store_true", help="searches: skip the bare mat-vec floor")
    parser.add_argument("--index-in-memory", action="store_true",
                        help="--store-only: load the search index before each size step (one SearchFaces), so storing keeps it up to date")
    parser.add_argument("--images-per-batch", type=int, default=IMAGES_PER_BATCH,
                        help="images per store_analyzed call (one transaction); 1 = one IndexFaces per photo")
    parser.add_argument("--profile", type=pathlib.Path, default=None,
                        help="cProfile the store_analyzed calls of the last size step into this pstats file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exact-queries", type=int, default=1000, help="exactness queries per size (0: skip)")
    parser.add_argument("--exact-from", type=int, default=None,
                        help="exactness queries only about faces from this one on (default: a reused workspace's first "
                             "face this run stores; set it when measuring again at the size a workspace holds)")
    parser.add_argument("--compressed-min-faces", type=int, default=None,
                        help="switch-over to the compressed tier (default: the engine's COMPRESSED_MIN_FACES)")
    parser.add_argument("--child-open", help=argparse.SUPPRESS)
    parser.add_argument("--child-face", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compressed_min_faces is not None:
        engine_module.COMPRESSED_MIN_FACES = args.compressed_min_faces
        os.environ["REKURATOR_BENCH_COMPRESSED_MIN_FACES"] = str(args.compressed_min_faces)
    elif os.environ.get("REKURATOR_BENCH_COMPRESSED_MIN_FACES"):  # the open children use the parent's setting
        engine_module.COMPRESSED_MIN_FACES = int(os.environ["REKURATOR_BENCH_COMPRESSED_MIN_FACES"])
    globals()["IMAGES_PER_BATCH"] = args.images_per_batch
    if args.child_open:
        child_open(args.child_open, args.child_face)
        return

    sizes = args.sizes or ([2_000, 20_000] if args.quick else [10_000, 100_000, 1_000_000])
    repeats = args.repeats or (50 if args.quick else 200)
    assoc_repeats = args.assoc_repeats or (5 if args.quick else 20)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    if args.reuse:
        workdir = args.reuse
        args.keep = True
        if not (workdir / "ws").is_dir():
            parser.error(f"--reuse {workdir}: no workspace folder ws/ there")
    else:
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="rekurator-bench-engine-", dir=args.workdir))
    workspace = workdir / "ws"
    started = time.perf_counter()
    emit(bench="environment", python=platform.python_version(), numpy=np.__version__, cpus=os.cpu_count(),
         sizes=sizes, repeats=repeats, assoc_repeats=assoc_repeats, user_fraction=args.user_fraction,
         compressed_min_faces=engine_module.COMPRESSED_MIN_FACES,
         workdir=str(workdir), loadavg=os.getloadavg())
    try:
        rng = np.random.default_rng(args.seed + 1)
        faces = SyntheticFaces(sizes[-1] + assoc_repeats * 299 + FACES_PER_IMAGE, args.seed)
        users, user_identities = 0, []
        with Engine(workspace, analyzer=BenchAnalyzer()) as engine:
            existing = stored_faces(engine) if args.reuse else 0
            if existing == 0:
                engine.create_collection(CollectionId=COLLECTION)
            if existing % FACES_PER_IMAGE or existing > sizes[-1]:
                parser.error(f"--reuse: the workspace holds {existing:,} faces; give --sizes above that")
            # the synthetic faces are made a block per size step: only the same steps remake the stored
            # ones, which the exactness check and the users' people need (storing alone does not)
            layout = workdir / "sizes.json"
            built = json.loads(layout.read_text()) if layout.exists() else None
            same = existing == 0 or [n for n in sizes if n <= existing] == built
            if not same and not args.store_only:
                parser.error(f"--reuse: the workspace was built with --sizes {','.join(map(str, built or ['unknown']))}; "
                             "give those first (the bench's copy of the faces must be the stored ones)")
            if same:
                layout.write_text(json.dumps(sizes))
            else:  # stored with other steps: no longer any run's copy
                layout.unlink(missing_ok=True)
            progress(f"workspace {workspace} holds {existing:,} faces")
            for n in sizes:
                before = faces.count
                people = faces.add_block((n - before) // FACES_PER_IDENTITY, FACES_PER_IDENTITY)
                if n > existing:  # below: stored by the run that built the reused workspace (same seed, same faces)
                    before = max(before, existing)
                    profiler = None
                    if args.profile and n == sizes[-1]:
                        import cProfile

                        profiler = cProfile.Profile()
                    progress(f"storing faces {before:,}..{n:,}")
                    if args.index_in_memory and before > 0:  # as an open window's engine: every batch updates the index
                        engine.search_faces(CollectionId=COLLECTION, FaceId=face_id_of(0), MaxFaces=1)
                    store_faces(engine, faces, before, n, index_loaded=bool(engine._indexes), profiler=profiler)
                    if profiler is not None:
                        profiler.dump_stats(str(args.profile))
                # sizes a reused workspace already held were measured by the run that built it
                if args.store_only or n < existing or (n == existing and n != sizes[-1]):
                    continue
                progress(f"adding users at {n:,} faces")
                first_query = args.exact_from if args.exact_from is not None else (existing if n > existing else 0)
                added = add_users(engine, faces, people, args.user_fraction, n, first_stored=first_query)
                users += len(added)
                user_identities.extend(added)
                progress(f"searching at {n:,} faces ({users:,} users)")
                measure_searches(engine, faces, n, users, np.asarray(user_identities, np.int64), repeats, args.max_faces, rng,
                                 skip_floor=args.skip_floor)
                emit(bench="index_tier", faces=n, tier=index_tier(engine))
                if args.exact_queries:
                    progress(f"exactness at {n:,} faces ({args.exact_queries} queries)")
                    measure_exactness(engine, faces, n, args.exact_queries, args.max_faces, rng, first_query=first_query)
            if args.store_only:
                engine.store.close()
                db = sum(p.stat().st_size for p in workspace.iterdir() if p.is_file())
                emit(bench="run", total_s=round(time.perf_counter() - started, 1), loadavg=os.getloadavg(),
                     workspace_mib=round(db / 2**20, 1), faces=sizes[-1], kept=str(workdir) if args.keep else None)
                return
            engine.store.close()  # as an app quitting does: the last close checkpoints the WAL
            progress(f"opening the {sizes[-1]:,}-face workspace in fresh processes")
            measure_open(workdir, workspace, sizes[-1], face_id_of(int(rng.integers(0, sizes[-1]))), args.open_repeats)
            progress("first search after another process's write")
            measure_external_write(engine, workspace, sizes[-1], rng)
            progress(f"AssociateFaces at {sizes[-1]:,} faces")
            measure_associate(engine, faces, assoc_repeats)
        db = sum(p.stat().st_size for p in workspace.iterdir() if p.is_file())
        emit(bench="run", total_s=round(time.perf_counter() - started, 1), loadavg=os.getloadavg(),
             workspace_mib=round(db / 2**20, 1),
             kept=str(workdir) if args.keep else None)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
