#!/usr/bin/env bash
# Installs the Debian packages the product and its test suite need. Idempotent: skips what is present.
set -euo pipefail
PKGS=(
  postgresql redis-server                      
  xvfb chromium pulseaudio xdotool x11-utils   
  fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
  coturn                                       
  docker.io docker-compose debootstrap iptables               
  procps psmisc curl ca-certificates
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The room agent's ad-block filter lists (local rooms; the browser image fetches its own).
bash "$(dirname "$0")/../browser-image/adblock-lists.sh"
