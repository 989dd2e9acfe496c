"""The command line with no injected analyzer: app.vision's default analyzer on real photos."""

import json
import shutil
from pathlib import Path

from app.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data"


def test_index_folder_and_search_real_photos(capsys, tmp_path):
    folder = tmp_path / "people"
    folder.mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(DATA / name, folder / name)
    # nothing injected: each run loads the default analyzer itself, as separate processes would
    assert main(["create-collection", "--collection-id", "people"]) == 0
    capsys.readouterr()
    assert main(["index-folder", "--collection-id", "people", "--folder", str(folder)]) == 0
    indexed = json.loads(capsys.readouterr().out)
    assert indexed["FacesIndexed"] == 2 and indexed["FailedFileCount"] == 0
    assert main(["search-faces-by-image", "--collection-id", "people", "--image-bytes", f"fileb://{DATA / 'obama2.jpg'}",
                 "--query", "FaceMatches[].Face.ExternalImageId", "--output", "text"]) == 0
    assert capsys.readouterr().out == "obama.jpg\n"
