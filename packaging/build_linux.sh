#!/usr/bin/env bash
# Build the one-folder Linux bundle dist/rekurator/ (rekurator-gui + rekurator) with PyInstaller.
#
#   packaging/build_linux.sh [PYTHON]
#
# PYTHON defaults to .venv/bin/python: a venv holding the project's dependencies
# (pip install -e .). PyInstaller is installed into it if missing (the `packaging` extra);
# it is a build tool, never a run-time dependency. Output: dist/rekurator/, work files in
# build/pyinstaller/ (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}

if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
  echo "+ installing PyInstaller into $("$PY" -c 'import sys; print(sys.prefix)')"
  "$PY" -m pip install --quiet 'pyinstaller>=6.10,<7'
fi
# the committed icons must match the SVG they are drawn from
QT_QPA_PLATFORM=offscreen "$PY" packaging/render_icons.py --check

started=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/rekurator.spec
elapsed=$(( $(date +%s) - started ))

echo "built dist/rekurator in ${elapsed}s: $(du -sh dist/rekurator | cut -f1)" \
     "($(find dist/rekurator -type f | wc -l) files)"
echo "check it with: packaging/smoke_test.sh dist/rekurator"
