"""The one photo importer: analysed here and stored in batches, or sent with IndexFaces; per-file
results, progress, cancel, and what ends an import before anything is stored."""

import numpy as np
import pytest

from app.core.errors import (
    ImageTooLargeException,
    InvalidImageFormatException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from app.workflows.photo_files import find_photos
from app.workflows.photo_import import FILE_READ_ERROR, ImportHooks, ImportOptions, import_photos
from tests.core.fakes import analyzed_face, face_of, identity_centres


@pytest.fixture
def folder(tmp_path, analyzer):
    """p0.jpg .. p4.jpg, one face each (p0 also has a blurry face the quality filter turns away)."""
    rng = np.random.default_rng(4)
    centres = identity_centres(2, seed=2)
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(5):
        faces = [analyzed_face(face_of(centres[i % 2], rng))]
        if i == 0:
            faces.append(analyzed_face(face_of(centres[0], rng), left=0.6, confidence=20.0))
        (root / f"p{i}.jpg").write_bytes(analyzer.register(f"photo-{i}".encode(), faces))
    return root


class Recorder:
    """Every hook call, in order."""

    def __init__(self, cancel_after: int | None = None):
        self.events: list[tuple] = []
        self.cancel_after = cancel_after

    def hooks(self) -> ImportHooks:
        return ImportHooks(on_progress=lambda done, total, text: self.events.append(("progress", done, total, text)),
                           should_cancel=self.should_cancel,
                           on_result=lambda r: self.events.append(("result", r.photo.relative.as_posix(), r.error_code)),
                           note=lambda text: self.events.append(("note", text)))

    def should_cancel(self) -> bool:
        started = sum(1 for e in self.events if e[0] == "progress" and e[3].endswith(".jpg"))
        return self.cancel_after is not None and started >= self.cancel_after

    def of(self, kind: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == kind]


def test_local_import_stores_in_batches_with_progress_and_results_per_file(engine, folder):
    engine.create_collection(CollectionId="c")
    seen = Recorder()
    photos = find_photos([folder]).photos
    outcome = import_photos(engine, "c", photos, ImportOptions(batch_size=2), seen.hooks())
    assert not outcome.cancelled and outcome.total == 5 and [r.error for r in outcome.results] == [None] * 5
    assert [r.indexed for r in outcome.results] == [1] * 5 and outcome.results[0].unindexed == [["LOW_CONFIDENCE"]]
    assert seen.of("progress") == [(0, 5, "Loading the face models")] + [(n, 5, f"p{n}.jpg") for n in range(5)] + \
        [(5, 5, "Done")]
    assert seen.of("note") == [("Storing 2 analysed image(s) in one transaction",)] * 2 + \
        [("Storing 1 analysed image(s) in one transaction",)]
    # a file's result comes when its batch is stored: p0 and p1 after p1 was analysed, before p2 starts
    order = [e[:2] for e in seen.events if e[0] in ("progress", "result")]
    assert order.index(("result", "p1.jpg")) < order.index(("progress", 2)) and \
        order.index(("result", "p0.jpg")) > order.index(("progress", 1))
    faces = engine.list_faces(CollectionId="c")["Faces"]
    assert sorted(f["FaceId"] for f in faces) == sorted(outcome.face_ids)
    assert {f["ExternalImageId"] for f in faces} == {f"p{n}.jpg" for n in range(5)}
    assert all(r.image_id for r in outcome.results)
    journal = [e["Request"] for e in engine.journal_entries() if e["Operation"] == "IndexFaces"]
    assert [j["SourceFile"] for j in journal] == [f"p{n}.jpg" for n in range(5)]
    assert set(journal[0]["Image"]["Bytes"]) == {"Sha256", "Size"}
    again = import_photos(engine, "c", photos)  # the same files again: nothing new
    assert again.face_ids == outcome.face_ids and len(engine.list_faces(CollectionId="c")["Faces"]) == 5


def test_what_one_file_gets_wrong_is_its_own_result(engine, folder, analyzer):
    engine.create_collection(CollectionId="c")
    (folder / "broken.png").write_bytes(b"not an image")  # InvalidImageFormatException from the analyzer
    (folder / "gone.jpg").symlink_to(folder / "nowhere.jpg")  # cannot be read
    odd = analyzer.register(b"odd", [analyzed_face(np.ones(64, np.float32))])  # spoils the batch it is stored in
    (folder / "z-odd.jpg").write_bytes(odd)  # after the others: they set the collection's descriptor length
    real = analyzer.analyze

    def analyze(data):
        if data == b"crash":
            raise ValueError("decoder gave up")
        return real(data)

    analyzer.analyze = analyze
    (folder / "crash.jpg").write_bytes(b"crash")
    seen = Recorder()
    outcome = import_photos(engine, "c", find_photos([folder]).photos, hooks=seen.hooks())
    errors = {r.photo.path.name: (r.error_code, r.error_message) for r in outcome.results if r.error_code}
    assert errors == {"broken.png": ("InvalidImageFormatException", "Request has invalid image format"),
                      "crash.jpg": ("ValueError", "decoder gave up"),
                      "gone.jpg": (FILE_READ_ERROR, "No such file or directory"),
                      "z-odd.jpg": ("InvalidParameterException", errors["z-odd.jpg"][1])}
    assert outcome.failed[0].error == "InvalidImageFormatException: Request has invalid image format"
    assert "descriptors" in errors["z-odd.jpg"][1]
    assert len(engine.list_faces(CollectionId="c")["Faces"]) == 5  # every good photo is stored
    assert sorted(r[0] for r in seen.of("result")) == sorted(r.photo.relative.as_posix() for r in outcome.results)


def test_request_checks_as_index_faces_are_asked_for(engine, folder, analyzer):
    engine.create_collection(CollectionId="c")
    big = analyzer.register(b"B" * (5 * 1024 * 1024 + 1), [analyzed_face(face_of(identity_centres(1)[0],
                                                                                  np.random.default_rng(1)))])
    (folder / "big.jpg").write_bytes(big)
    photos = [p for p in find_photos([folder]).photos if p.path.name == "big.jpg"]
    strict = import_photos(engine, "c", photos, ImportOptions(check_requests=True))
    assert strict.results[0].error_code == ImageTooLargeException.code
    assert import_photos(engine, "c", photos).results[0].indexed == 1  # photos analysed here may be of any size


def test_cancel_stores_what_was_analysed_and_says_so(engine, folder):
    engine.create_collection(CollectionId="c")
    seen = Recorder(cancel_after=3)
    outcome = import_photos(engine, "c", find_photos([folder]).photos, hooks=seen.hooks())
    assert outcome.cancelled and len(outcome.results) == 3 and outcome.total == 5
    assert len(engine.list_faces(CollectionId="c")["Faces"]) == 3
    assert seen.of("progress")[-1] == (2, 5, "p2.jpg")  # no "Done"


def test_what_is_wrong_with_the_whole_import_ends_it_before_any_file(engine, folder, analyzer):
    photos = find_photos([folder]).photos
    with pytest.raises(ResourceNotFoundException):
        import_photos(engine, "nope", photos)
    engine.create_collection(CollectionId="c")
    with pytest.raises(InvalidParameterException, match="MaxFaces"):
        import_photos(engine, "c", photos, ImportOptions(max_faces=0))
    with pytest.raises(InvalidParameterException, match="QualityFilter"):
        import_photos(engine, "c", photos, ImportOptions(quality_filter="SOMETIMES"))
    analyzer.model_version = "another_model"
    with pytest.raises(InvalidParameterException, match="never compared"):
        import_photos(engine, "c", photos)
    assert analyzer.calls == 0 and engine.list_faces(CollectionId="c")["Faces"] == []


class Endpoint:
    """A backend that analyses images itself: only `call`, as a remote endpoint offers."""

    capabilities = frozenset()

    def __init__(self, refuse=None):
        self.requests: list[tuple[str, dict]] = []
        self.refuse = refuse or {}

    def call(self, operation, params):
        self.requests.append((operation, params))
        if operation == "IndexFaces":
            error = self.refuse.get(params["Image"]["Bytes"])
            if error is not None:
                raise error
            n = len(self.requests)
            return {"FaceRecords": [{"Face": {"FaceId": f"face-{n}", "ImageId": f"image-{n}"}}],
                    "UnindexedFaces": [{"Reasons": ["SMALL_BOUNDING_BOX"]}]}
        return {}

    def store_analyzed(self, *args):
        raise AssertionError("nothing is analysed here for an endpoint")


def test_an_endpoint_gets_each_photos_bytes_with_index_faces(folder):
    (folder / "bad.png").write_bytes(b"bad")
    endpoint = Endpoint(refuse={b"bad": InvalidImageFormatException("Request has invalid image format")})
    seen = Recorder()
    photos = find_photos([folder]).photos
    outcome = import_photos(endpoint, "c", photos, ImportOptions(max_faces=3, quality_filter="LOW", id_source="path"),
                            seen.hooks())
    assert [op for op, _ in endpoint.requests] == ["DescribeCollection"] + ["IndexFaces"] * 6
    first = endpoint.requests[2][1]
    assert list(first) == ["CollectionId", "MaxFaces", "QualityFilter", "Image", "ExternalImageId"]
    assert first["Image"]["Bytes"] == (folder / "p0.jpg").read_bytes() and first["ExternalImageId"] == "p0.jpg"
    assert outcome.results[0].error_code == "InvalidImageFormatException"  # bad.png sorts first
    assert outcome.results[1].face_ids == ["face-3"] and outcome.results[1].image_id == "image-3"
    assert outcome.results[1].unindexed == [["SMALL_BOUNDING_BOX"]]
    assert seen.of("note") == [] and ("Loading the face models",) not in [e[2:] for e in seen.of("progress")]
    plain = Endpoint()
    import_photos(plain, "c", photos[1:2], ImportOptions(id_source="none"))
    assert plain.requests[1][1] == {"CollectionId": "c", "Image": {"Bytes": (folder / "p0.jpg").read_bytes()}}


def test_an_error_that_is_not_the_files_ends_the_import(folder):
    class Down(Endpoint):
        def call(self, operation, params):
            if operation == "IndexFaces":
                raise ConnectionError("endpoint unreachable")
            return super().call(operation, params)

    with pytest.raises(ConnectionError):
        import_photos(Down(), "c", find_photos([folder]).photos)


def test_sending_bytes_can_be_asked_for_on_a_local_engine(engine, folder):
    engine.create_collection(CollectionId="c")
    asked = []

    def call(operation, params):
        asked.append(operation)
        return engine.call(operation, params)

    photos = find_photos([folder]).photos[:2]
    import_photos(engine, "c", photos, call=call, analyse_locally=False)
    assert asked == ["DescribeCollection", "IndexFaces", "IndexFaces"]
