import json
from dataclasses import dataclass

import numpy as np
import pytest

from app.cli.main import main
from tests.core.fakes import RegisteredAnalyzer, analyzed_face, face_of, identity_centres


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def analyzer():
    return RegisteredAnalyzer()


@pytest.fixture
def cli(capsys, analyzer):
    """Run the command line in-process: cli("list-faces", "--collection-id", "c") -> Result."""

    def run(*argv, **injected):
        injected.setdefault("analyzer", analyzer)
        rc = main([str(a) for a in argv], **injected)
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run


class Photos:
    """Image files whose faces the fake analyzer knows: one face per photo, of a chosen person."""

    def __init__(self, folder, analyzer):
        self.folder = folder
        self.analyzer = analyzer
        self.centres = identity_centres(3, seed=7)
        self.rng = np.random.default_rng(11)
        self.count = 0

    def make(self, name: str, person: int, faces: int = 1, folder=None):
        self.count += 1
        data = f"photo-{self.count}-{name}".encode()
        self.analyzer.register(data, [analyzed_face(face_of(self.centres[person], self.rng, 0.2), left=0.05 + 0.3 * i)
                                      for i in range(faces)])
        path = (folder or self.folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


@pytest.fixture
def photos(tmp_path, analyzer):
    folder = tmp_path / "photos"
    folder.mkdir()
    return Photos(folder, analyzer)


@pytest.fixture
def collection(cli, photos):
    """Collection "c" with amy (3 photos) and bob (2 photos) indexed; name -> FaceId."""
    assert cli("create-collection", "--collection-id", "c").rc == 0
    faces = {}
    for name, person in (("amy1", 0), ("amy2", 0), ("amy3", 0), ("bob1", 1), ("bob2", 1)):
        path = photos.make(f"{name}.jpg", person)
        result = cli("index-faces", "--collection-id", "c", "--image-bytes", f"fileb://{path}",
                     "--external-image-id", name)
        assert result.rc == 0, result.err
        faces[name] = result.json["FaceRecords"][0]["Face"]["FaceId"]
    return faces
