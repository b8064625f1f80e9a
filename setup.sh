#!/usr/bin/env bash
# Sets up Bytes to Beats in ./.venv: system packages (Debian/Ubuntu, when run as root),
# a virtual environment, a CPU build of torch where no CUDA build is wanted, and the app.
#   ./setup.sh          the app
#   ./setup.sh --test   the app and what the tests need
set -euo pipefail
cd "$(dirname "$0")"

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

# Real MIDI ports (JACK), a synthesizer, MuseScore as a reader of MIDI files, and a virtual
# screen for window tests; binutils for PyInstaller (the bundle test). Users on other systems
# install the equivalents by hand.
apt_packages="jackd2 fluidsynth fluid-soundfont-gm sox xvfb xdotool imagemagick x11-apps
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libegl1 libgl1 libxkbcommon0 musescore3 poppler-utils
  binutils"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=$(for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    echo "setup: installing system packages: $(echo $missing)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# A pinned torch: a bare "torch" would pull a multi-gigabyte CUDA build on Linux. On this
# project's machines 2.13.0 resolves to a local CPU wheel; set TORCH_SPEC to choose another.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
.venv/bin/python -m pip install -q -e ".${extras}"
echo "setup: done ($(.venv/bin/bytes2beats --version))"
