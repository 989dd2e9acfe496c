"""--version everywhere, from app.__version__: the window, the CLI and the endpoint agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[1]


def run(*args) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_every_program_reports_the_package_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", app.__version__)
    expected = f"rekurator {app.__version__}"
    assert run("main.py", "--version") == expected
    assert run("-m", "app.server", "--version") == expected
    assert run("-m", "app.cli", "--version").startswith(expected + " Python/")


def test_in_process_version_options(capsys):
    from app.cli.main import main as cli_main
    from app.gui.main import main as gui_main
    from app.server.main import serve_main

    expected = f"rekurator {app.__version__}"
    assert gui_main(["--version"]) == 0
    assert serve_main(["--version"]) == 0
    assert cli_main(["serve", "--version"]) == 0  # `rekurator serve --version` reaches the server's option
    out = capsys.readouterr().out.splitlines()
    assert out == [expected, expected, expected]
