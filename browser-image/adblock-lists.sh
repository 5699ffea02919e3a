#!/usr/bin/env bash
# The room agent's ad-block filter lists (EasyList and EasyPrivacy, as the package ships them), taken from
# Debian's uBlock Origin package without installing it: this Chromium refuses its Manifest V2
# extension, and installed it would go into every Chromium of the machine. `apt-get download`
# fetches the .deb, `dpkg-deb -x` unpacks it into a temporary directory, and only the list files
# are kept, in DEST (default /usr/share/watchparty/adblock, where the agent looks:
# WP_ADBLOCK_LISTS). The agent compiles them when it starts (roomagent/adblock/filters.py).
#
#   bash browser-image/adblock-lists.sh [DEST]
#
# Used by scripts/install-system-deps.sh (`make run`, `make test`, .ci/run: local rooms) and by
# browser-image/Dockerfile (Docker and Kubernetes rooms). Idempotent: nothing to do when DEST
# already holds the lists of the package version apt offers. Needs root (or sudo) for apt.
set -euo pipefail
DEST="${1:-/usr/share/watchparty/adblock}"
PKG=webext-ublock-origin-chromium
LISTS=(easylist.txt easyprivacy.txt)

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

version() { apt-cache policy "$PKG" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }
have="$(cat "$DEST/VERSION" 2>/dev/null || true)"
want="$(version)"
if [ -z "$want" ] || [ "$want" = "(none)" ]; then
  $SUDO apt-get update -qq
  want="$(version)"
fi
if [ -n "$have" ] && [ "$have" = "$want" ] && [ -s "$DEST/easylist.txt" ]; then
  exit 0
fi
[ -n "$want" ] && [ "$want" != "(none)" ] || { echo "adblock-lists: apt knows no $PKG" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/wp-adblock.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt's sandbox user writes the download here
(cd "$work" && apt-get download -qq "$PKG" >/dev/null 2>&1) ||
  { $SUDO apt-get update -qq && (cd "$work" && apt-get download -qq "$PKG"); }
dpkg-deb -x "$work"/*.deb "$work/root"
mkdir -p "$work/lists"
for name in "${LISTS[@]}"; do
  # Any depth: the package's layout changes between versions, the lists' names do not. A list
  # Debian ships as a symlink to another package is taken when that target is in the .deb.
  found="$(find "$work/root" -name "$name" \( -type f -o -type l \) | head -n 1)"
  if [ -n "$found" ] && [ -s "$(readlink -f "$found")" ]; then
    cp -L "$found" "$work/lists/$name"
  fi
done
[ -s "$work/lists/easylist.txt" ] || { echo "adblock-lists: no easylist.txt in $PKG $want" >&2; exit 1; }
printf '%s\n' "$want" >"$work/lists/VERSION"
$SUDO mkdir -p "$(dirname "$DEST")"
$SUDO rm -rf "$DEST.new"
$SUDO cp -r "$work/lists" "$DEST.new"
$SUDO chmod -R a+rX,go-w "$DEST.new"
$SUDO rm -rf "$DEST"
$SUDO mv "$DEST.new" "$DEST"
echo "adblock-lists: $PKG $want -> $DEST ($(ls "$DEST" | tr '\n' ' '))" >&2
