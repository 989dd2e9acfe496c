"""Render the application icon's PNG sizes from its SVG, into the hicolor icon-theme layout.

    .venv/bin/python packaging/render_icons.py          # rewrite the PNGs
    .venv/bin/python packaging/render_icons.py --check  # exit 1 if a PNG is missing or stale

The PNGs are committed (desktops, PyInstaller and Windows/macOS icon tools want bitmaps);
run this after editing the SVG. Uses Qt's own SVG renderer (PySide6-Essentials ships QtSvg).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "io.github.rekurator.Rekurator"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
SVG = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
SIZES = (16, 32, 48, 64, 128, 256)
# Antialiasing differs a hair between Qt builds: a committed PNG is stale only past this.
CHECK_TOLERANCE = 8


def png_path(size: int) -> Path:
    return HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def _ensure_gui_application():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([sys.argv[0]])


def render(size: int, svg: Path = SVG):
    """The icon at size x size as a premultiplied-ARGB QImage."""
    _ensure_gui_application()
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG file Qt can render")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def max_difference(a, b) -> int:
    """Largest per-channel difference between two same-sized images (255 when sizes differ)."""
    from PySide6.QtGui import QImage

    if a.size() != b.size():
        return 255
    a = a.convertToFormat(QImage.Format.Format_RGBA8888)
    b = b.convertToFormat(QImage.Format.Format_RGBA8888)
    bytes_a, bytes_b = bytes(a.constBits())[: a.sizeInBytes()], bytes(b.constBits())[: b.sizeInBytes()]
    return max((abs(x - y) for x, y in zip(bytes_a, bytes_b)), default=0)


def stale_pngs() -> list[str]:
    """Sizes whose committed PNG is missing or differs from a fresh rendering."""
    from PySide6.QtGui import QImage

    _ensure_gui_application()
    problems = []
    for size in SIZES:
        path = png_path(size)
        committed = QImage(str(path))
        if committed.isNull():
            problems.append(f"{path.relative_to(ROOT)} is missing or unreadable")
        elif (diff := max_difference(committed, render(size))) > CHECK_TOLERANCE:
            problems.append(f"{path.relative_to(ROOT)} differs from the SVG by up to {diff}/255")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the committed PNGs are current")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_pngs()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for size in SIZES:
        path = png_path(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render(size).save(str(path), "PNG"):
            print(f"cannot write {path}", file=sys.stderr)
            return 1
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
