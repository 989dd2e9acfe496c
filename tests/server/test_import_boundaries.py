"""The endpoint and the remote backend stay on their side of the import arrow (no Qt, no CLI/GUI)."""

import subprocess
import sys


def test_server_and_remote_import_neither_qt_nor_gui_nor_cli():
    code = (
        "import sys, app.server.main, app.server.__main__, app.remote.boto3_backend\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6') or m.startswith(('app.gui', 'app.cli')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
