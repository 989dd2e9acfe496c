"""The desktop entry, AppStream metadata and icons: valid for the freedesktop.org tools, and
consistent with each other, the version and the installed programs."""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import app
from app.resources import APP_ID

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "resources" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def scripts() -> dict:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {**project["scripts"], **project["gui-scripts"]}


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-validate not installed "
                    "(apt-get install desktop-file-utils)")
def test_desktop_file_validate():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, timeout=60)
    # it prints hints as well as errors; any output is a finding worth fixing
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed (apt-get install appstream)")
def test_appstreamcli_validate():
    result = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_entry_points_at_the_gui_program_and_the_icon():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "rekurator-gui" and "rekurator-gui" in scripts()
    assert entry["Icon"] == APP_ID
    assert (ROOT / "resources" / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file()


def test_metainfo_matches_the_desktop_entry_version_and_programs():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    binaries = {b.text for b in root.iter("binary")}
    assert binaries == set(scripts())  # every installed program is declared, and only those
    assert root.find("content_rating").get("type").startswith("oars-")
    releases = [r.get("version") for r in root.find("releases").iter("release")]
    assert releases[0] == app.__version__, "add a <release> for the new version to the metainfo"
    assert root.find("description").findall("p")


def load_render_icons():
    spec = importlib.util.spec_from_file_location("render_icons", ROOT / "packaging" / "render_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_pngs_are_rendered_from_the_svg(qapp):
    render_icons = load_render_icons()
    assert render_icons.APP_ID == APP_ID
    assert render_icons.stale_pngs() == []
    from PySide6.QtGui import QImage

    for size in render_icons.SIZES:
        image = QImage(str(render_icons.png_path(size)))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, 0).alpha() == 0  # the rounded corner is transparent
        assert image.pixelColor(size // 2, size // 2).alpha() == 255


def test_stale_png_check_can_fail(qapp):
    render_icons = load_render_icons()
    big = render_icons.render(32)
    assert render_icons.max_difference(big, render_icons.render(32)) == 0
    assert render_icons.max_difference(big, render_icons.render(16)) == 255
    shifted = render_icons.render(32)
    shifted.setPixelColor(16, 16, shifted.pixelColor(0, 0))  # punch a transparent hole in the face
    assert render_icons.max_difference(big, shifted) > render_icons.CHECK_TOLERANCE
