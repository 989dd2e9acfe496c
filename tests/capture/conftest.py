"""Shared pieces of the capture tests: the real default analyzer, footage made from the test
photos, and a command line runner."""

import json
from dataclasses import dataclass

import pytest

from app.capture.frame_collector import capture_frames
from app.capture.sources import FileSource
from app.cli.main import main
from app.core.engine import Engine

from .video_frames import FrameMaker, Shot, enrollment_shots, held, stranger_shots, write_video


@pytest.fixture(scope="package")
def analyzer(session_cache_dir):
    # the real models, built once for this package; the converted ResNet goes to the session's cache dir
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REKURATOR_CACHE_DIR", str(session_cache_dir))
        from app.vision.default_analyzer import DlibYuNetAnalyzer

        return DlibYuNetAnalyzer()


@pytest.fixture(scope="package")
def frame_maker(analyzer):
    return FrameMaker(analyzer.detect_rgb)


@pytest.fixture(scope="package")
def videos(tmp_path_factory, frame_maker):
    """name -> (path, shots) of the test videos."""
    folder = tmp_path_factory.mktemp("videos")
    made = {}

    def make(name, shots):
        made[name] = (write_video(folder / f"{name}.avi", [frame_maker.render(s) for s in shots]), shots)

    make("enrollment", enrollment_shots())  # problems first, then many good views of one person
    make("short", held(Shot("obama.jpg"), 3) + held(Shot("obama2.jpg"), 2))  # ends with 2-3 views
    make("nobody", [Shot("t1.jpg", letterbox=True)] * 3 + [Shot("obama.jpg", gain=0.2)] * 2)
    make("biden", held(Shot("biden.jpg"), 3))
    make("stranger", stranger_shots())  # another person in several views: 4 good frames
    return made


@pytest.fixture(scope="package")
def enrollment_capture(videos, analyzer):
    """The enrollment video captured once (5 frames): the CaptureOutcome, and every verdict."""
    verdicts = []
    with FileSource(videos["enrollment"][0]) as source:
        outcome = capture_frames(source, analyzer, 5, on_verdict=verdicts.append)
    return outcome, verdicts


@pytest.fixture
def engine(tmp_path, analyzer):
    with Engine(tmp_path / "workspace", analyzer=analyzer) as eng:
        eng.create_collection(CollectionId="c")
        yield eng


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, analyzer):
    """Run the command line in-process with the real analyzer (workspace: $REKURATOR_WORKSPACE)."""

    def run(*argv):
        rc = main([str(a) for a in argv], analyzer=analyzer)
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run
