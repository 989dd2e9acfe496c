"""The arrow of imports points one way: gui, cli, server -> workflows, core, vision, capture, remote.

Checked on the source (every import statement, including ones inside functions).
"""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

QT = ("PySide6", "shiboken6")
ADAPTERS = ("app.gui", "app.cli", "app.server")
FORBIDDEN = {
    "core": QT + ADAPTERS + ("app.vision", "app.capture", "app.remote", "cv2"),
    "vision": QT + ADAPTERS,
    "capture": QT + ADAPTERS,
    "remote": QT + ADAPTERS,
    "cli": QT + ("app.gui",),
    "server": QT + ("app.gui", "app.cli"),
    "workflows": QT + ADAPTERS,
}


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(APP.parent).with_suffix("").parts[:-1])


def imported_modules(source: str, package: str):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.lineno, node.module


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer):
    folder = APP / layer
    files = sorted(folder.rglob("*.py"))
    assert files, f"no sources under {folder}"
    bad = [
        f"{path.relative_to(APP.parent)}:{line} imports {name}"
        for path in files
        for line, name in imported_modules(path.read_text(), package_of(path))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer])
    ]
    assert not bad, "\n".join(bad)


def test_rule_checker_sees_every_import_form():
    # guard against a checker that cannot fail: relative, nested and plain imports are all seen
    source = "from ..gui import window\nfrom . import store\ndef f():\n    import PySide6.QtCore\n"
    names = [name for _line, name in imported_modules(source, "app.core")]
    assert names == ["app.gui", "app.core", "PySide6.QtCore"]
