#!/bin/bash
# Container entrypoint for the Watch Party room browser (runs under tini as PID 1).
#
# Prepares a writable environment on the /tmp tmpfs (the root filesystem is expected to be
# read-only), then execs the command, by default `python -m roomagent`. The agent's launcher
# starts and supervises Xvfb, PulseAudio and Chromium itself and exits non-zero if any dies;
# tini forwards signals to it and reaps orphans.
set -euo pipefail

log() { printf 'entrypoint: %s\n' "$*" >&2; }

uid="$(id -u)"
if [ "$uid" = 0 ] && [ "${WP_ALLOW_ROOT:-0}" != 1 ]; then
  log "refusing to run as root (run as uid 1000, or set WP_ALLOW_ROOT=1 for debugging)"
  exit 64
fi

export TMPDIR="${TMPDIR:-/tmp}"
if ! probe="$(mktemp -p "$TMPDIR" .wp-probe.XXXXXX 2>/dev/null)"; then
  log "$TMPDIR is not writable: run with a tmpfs there (docker run --tmpfs /tmp ...)"
  exit 65
fi
rm -f "$probe"

umask 077
export HOME="$TMPDIR/home"
export XDG_RUNTIME_DIR="$TMPDIR/runtime-$uid"
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_CACHE_HOME="$HOME/.cache"
export XDG_DATA_HOME="$HOME/.local/share"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DATA_HOME"
chmod 0700 "$HOME" "$XDG_RUNTIME_DIR"

# Xvfb running as non-root will not create the X socket directory itself.
mkdir -p "$TMPDIR/.X11-unix"
chmod 1777 "$TMPDIR/.X11-unix"

# Chromium needs a large /dev/shm (docker run --shm-size=1g); warn early if it is the 64 MB default.
if shm_kb="$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }')" \
  && [ -n "$shm_kb" ] && [ "$shm_kb" -lt 524288 ]; then
  log "warning: /dev/shm is only $((shm_kb / 1024)) MB; use --shm-size=1g or more"
fi

umask 022
if [ "$#" -eq 0 ]; then
  set -- python -m roomagent
fi
exec "$@"
