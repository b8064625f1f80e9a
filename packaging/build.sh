#!/usr/bin/env bash
# Builds the one-folder app: dist/bytes2beats/ (run dist/bytes2beats/bytes2beats).
#   packaging/build.sh [--dist DIR] [--work DIR]
# Uses the project's ./.venv (./setup.sh first); installs PyInstaller there if it is missing.
# Build on each platform for that platform: PyInstaller does not cross-compile.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=dist
work=build/pyinstaller
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) dist=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "build: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$work" && work=$(cd "$work" && pwd)  # absolute: the spec reads the stage by path
python=.venv/bin/python
[ -x "$python" ] || { echo "build: no ./.venv here: run ./setup.sh first" >&2; exit 1; }
"$python" -c "import PyInstaller" 2>/dev/null || "$python" -m pip install -q "pyinstaller>=6"
# The package as its wheel installs it, for the bundle to carry (see the spec).
rm -rf "$work/stage"
"$python" -m pip install -q --no-deps --target "$work/stage" .
export BYTES2BEATS_STAGE="$work/stage"
"$python" -m PyInstaller packaging/bytes2beats.spec --noconfirm --log-level WARN \
  --distpath "$dist" --workpath "$work"
echo "build: $dist/bytes2beats ($(du -sh "$dist/bytes2beats" | cut -f1))"
