"""app.resources finds resources/ in a checkout, a PyInstaller bundle and an installed wheel; the
wheel's data-files mapping ships every file of resources/ with the same layout."""

from __future__ import annotations

import glob
import importlib.metadata
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

from app import resources

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "resources"


def make_resources(folder: Path) -> Path:
    """A minimal complete resources folder (marker + model + one sample)."""
    (folder / "models").mkdir(parents=True)
    (folder / "samples").mkdir()
    (folder / resources.MARKER).write_text("{}")
    (folder.joinpath(*resources.YUNET_MODEL)).write_bytes(b"onnx")
    (folder / "samples" / "a.jpg").write_bytes(b"jpg")
    return folder


def test_checkout_resolves_to_the_repository_folder():
    assert resources.resources_dir() == CHECKOUT
    assert resources.resource_path(*resources.YUNET_MODEL).is_file()
    assert resources.resource_path(*resources.REPORT_SCHEMA).is_file()


def test_pyinstaller_bundle_wins(tmp_path, monkeypatch):
    bundle = make_resources(tmp_path / "_internal" / "resources").parent
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert resources.resources_dir() == bundle / "resources"
    assert resources.resource_path("samples", "a.jpg").read_bytes() == b"jpg"


def test_meipass_without_frozen_is_ignored(tmp_path, monkeypatch):
    # only a frozen program's _MEIPASS means "bundle"
    make_resources(tmp_path / "resources")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_dir() == CHECKOUT


class FakeDistribution(importlib.metadata.PathDistribution):
    """A wheel installed under a prefix: dist-info in lib/.../site-packages, data under share/."""


def install_fake_wheel(prefix: Path, with_data: bool = True) -> Path:
    site_packages = prefix / "lib" / "python3" / "site-packages"
    dist_info = site_packages / "rekurator-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: rekurator\nVersion: 0.1.0\n")
    record = ["app/__init__.py,,", "rekurator-0.1.0.dist-info/METADATA,,"]
    if with_data:
        make_resources(prefix / "share" / "rekurator")
        record += [f"../../../share/rekurator/{name},," for name in
                   ("report.schema.json", "models/face_detection_yunet_2023mar.onnx", "samples/a.jpg")]
    (dist_info / "RECORD").write_text("\n".join(record) + "\n")
    return dist_info


def pretend_installed(monkeypatch, dist_info: Path, checkout_present: bool = False) -> None:
    def distribution(name):
        if name != "rekurator":
            raise importlib.metadata.PackageNotFoundError(name)
        return FakeDistribution(dist_info)

    monkeypatch.setattr(resources.importlib.metadata, "distribution", distribution)
    if not checkout_present:  # an installed app/ has no ../resources next to it
        monkeypatch.setattr(resources, "__file__", str(dist_info.parent / "app" / "resources.py"))


def test_installed_wheel_is_found_through_its_record(tmp_path, monkeypatch):
    prefix = tmp_path / "prefix"
    pretend_installed(monkeypatch, install_fake_wheel(prefix))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "elsewhere"))  # not a lucky guess
    assert resources.resources_dir() == (prefix / "share" / "rekurator").resolve()
    assert resources.resource_path(*resources.YUNET_MODEL).read_bytes() == b"onnx"


def test_checkout_beats_an_installed_copy(tmp_path, monkeypatch):
    # an editable install (or running from the source tree) reads the files in place
    pretend_installed(monkeypatch, install_fake_wheel(tmp_path / "prefix"), checkout_present=True)
    assert resources.resources_dir() == CHECKOUT


def test_prefix_fallback_without_a_record_entry(tmp_path, monkeypatch):
    prefix = tmp_path / "prefix"
    pretend_installed(monkeypatch, install_fake_wheel(prefix, with_data=False))
    make_resources(prefix / "share" / "rekurator")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    assert resources.resources_dir() == prefix / "share" / "rekurator"


def test_a_folder_without_the_marker_is_not_taken(tmp_path, monkeypatch):
    # someone else's site-packages/resources must not be mistaken for ours
    prefix = tmp_path / "prefix"
    dist_info = install_fake_wheel(prefix, with_data=False)
    (dist_info.parent / "resources" / "models").mkdir(parents=True)
    pretend_installed(monkeypatch, dist_info)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "empty"))
    monkeypatch.setattr(resources.site, "USER_BASE", str(tmp_path / "empty-user"))
    found = resources.resources_dir()
    # nothing complete anywhere: the first candidate comes back, and using it fails by path
    assert found == dist_info.parent / "resources"
    assert not resources.resource_path(*resources.YUNET_MODEL).exists()


@pytest.mark.parametrize("parts", [(), ("",), ("/etc", "passwd"), ("..", "secret"), ("models", "..", "x")])
def test_resource_path_refuses_paths_outside(parts):
    with pytest.raises(ValueError, match="relative path parts"):
        resources.resource_path(*parts)


def test_icon_files_svg_first_then_pngs_by_size():
    icons = resources.icon_files()
    assert icons[0].suffix == ".svg"
    sizes = [int(p.parts[-3].split("x")[0]) for p in icons[1:]]
    assert sizes == [16, 32, 48, 64, 128, 256]


def test_default_paths_of_the_vision_and_demo_code_come_from_here():
    from app.gui import demo_collection
    from app.vision import yunet

    assert yunet.DEFAULT_MODEL_PATH == CHECKOUT.joinpath(*resources.YUNET_MODEL)
    assert demo_collection.SAMPLES_DIR == CHECKOUT / "samples"
    assert demo_collection.sample_photos()


# -- the wheel's data files ----------------------------------------------------------------------
def data_files_mapping() -> dict[str, str]:
    """{repository file: install path under the prefix}, as setuptools expands pyproject's globs."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = {}
    for target, patterns in config["tool"]["setuptools"]["data-files"].items():
        for pattern in patterns:
            matches = sorted(glob.glob(pattern, root_dir=ROOT))
            assert matches, f"data-files pattern {pattern!r} matches nothing"
            for match in matches:
                assert (ROOT / match).is_file(), f"{pattern!r} matches the folder {match} (setuptools copies files)"
                mapping.setdefault(match, []).append(f"{target}/{Path(match).name}")
    return mapping


def test_wheel_installs_all_of_resources_with_the_same_layout():
    mapping = data_files_mapping()
    tracked = [p.relative_to(ROOT).as_posix() for p in CHECKOUT.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert "resources/models/face_detection_yunet_2023mar.onnx" in tracked
    for name in tracked:
        expected = "share/rekurator/" + name.removeprefix("resources/")
        assert expected in mapping.get(name, []), f"{name} is not installed as {expected}"


def test_wheel_installs_the_desktop_integration_files_in_their_standard_places():
    mapping = data_files_mapping()
    app_id = resources.APP_ID
    assert f"share/applications/{app_id}.desktop" in mapping[f"resources/linux/{app_id}.desktop"]
    assert f"share/metainfo/{app_id}.metainfo.xml" in mapping[f"resources/linux/{app_id}.metainfo.xml"]
    for icon in resources.icon_files():
        relative = icon.relative_to(CHECKOUT).as_posix()  # icons/hicolor/<size>/apps/<id>.<ext>
        assert f"share/{relative}" in mapping[f"resources/{relative}"]


def test_installed_layout_resolves(tmp_path, monkeypatch):
    """Copy the files where the mapping says a wheel puts them; the resolver finds a working folder."""
    prefix = tmp_path / "prefix"
    dist_info = install_fake_wheel(prefix, with_data=False)
    record = []
    for source, targets in data_files_mapping().items():
        for target in targets:
            (prefix / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / source, prefix / target)
            record.append(f"../../../{target},,")
    with open(dist_info / "RECORD", "a") as f:
        f.write("\n".join(record) + "\n")
    pretend_installed(monkeypatch, dist_info)
    folder = resources.resources_dir()
    assert folder == (prefix / "share" / "rekurator").resolve()
    from app.vision.yunet import _read_verified

    assert len(_read_verified(resources.resource_path(*resources.YUNET_MODEL))) == 232_589  # checksum holds
    assert [p.name for p in resources.icon_files()][0].endswith(".svg")
    assert (folder / "samples" / "obama.jpg").is_file()
