#!/usr/bin/env bash
# Puts a built bundle into the user's desktop menu and PATH (no root needed):
#   packaging/install-linux.sh [BUNDLE_DIR]      (default: dist/bytes2beats)
#   packaging/install-linux.sh --uninstall
# Writes ~/.local/bin/bytes2beats (a link to the bundle's program),
# ~/.local/share/applications/bytes2beats.desktop and the icons under
# ~/.local/share/icons/hicolor. The bundle stays where it is: move it, then run this again.
set -euo pipefail
data="${XDG_DATA_HOME:-$HOME/.local/share}"
bin="$HOME/.local/bin"
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$bin/bytes2beats" "$data/applications/bytes2beats.desktop"
  find "$data/icons/hicolor" -name bytes2beats.png -delete 2>/dev/null || true
  echo "install-linux: removed"
  exit 0
fi
bundle=$(cd "${1:-$(dirname "$0")/../dist/bytes2beats}" && pwd)
program="$bundle/bytes2beats"
resources="$bundle/_internal/bytes2beats/resources"
[ -x "$program" ] || { echo "install-linux: no bundle at $bundle (build it with packaging/build.sh)" >&2; exit 1; }
mkdir -p "$bin" "$data/applications"
ln -sfn "$program" "$bin/bytes2beats"
for icon in "$resources"/icons/hicolor/*/apps/bytes2beats.png; do
  size=$(basename "$(dirname "$(dirname "$icon")")")
  mkdir -p "$data/icons/hicolor/$size/apps"
  cp "$icon" "$data/icons/hicolor/$size/apps/bytes2beats.png"
done
# The entry as shipped, pointing at this bundle's program (paths with spaces quoted).
sed "s|^Exec=bytes2beats|Exec=\"$program\"|" "$resources/bytes2beats.desktop" \
  > "$data/applications/bytes2beats.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
echo "install-linux: Bytes to Beats is in your applications menu; the command is $bin/bytes2beats"
