#!/usr/bin/env bash
# Build the Watch Party room browser image on a machine with or without a container registry.
#
#   bash browser-image/build.sh            # builds watchparty/browser:dev if it is not current
#
# Steps:
#   1. make sure dockerd answers (starts it when we are root and it is not running);
#   2. make sure the base image debian:bookworm-slim exists: if it cannot be found locally it is
#      created with debootstrap (minbase) from the host's Debian mirror and `docker import`ed; the
#      root filesystem tarball is cached so a later import needs no network;
#   3. stage the build context, hash it (plus the base image id) and compare with the label on the
#      existing image: equal -> nothing to do; otherwise `docker build`.
#
# Environment:
#   WP_BROWSER_IMAGE   image tag to build (default watchparty/browser:dev)
#   WP_BASE_IMAGE      base image (default debian:bookworm-slim)
#   WP_CACHE_DIR       cache for the debootstrap tarball (default /var/cache/watchparty)
#   WP_DEBIAN_MIRROR   Debian mirror for debootstrap (default: from the host's apt sources)
#   WP_DEBIAN_SECURITY_MIRROR  security mirror written into the base (default: host's / Debian's)
#   EXTRA_CA_CERTS     PEM bundle trusted by pip during the build (TLS-intercepting proxies).
#                      Unset: the host's /etc/ssl/certs/ca-certificates.crt when present.
#                      Set to "" or "none": no extra CA. It never ends up in the final image.
#   WP_FORCE_BUILD=1   build even if the image is current
#   WP_BASE_ONLY=1     only make sure dockerd and the base image exist (other images' build
#                      scripts, e.g. controlplane-image/build.sh, use this)
#   WP_NO_CACHE=1      docker build --no-cache
#   PIP_EXTRA_ARGS     extra pip arguments for the venv stage (e.g. --index-url ...)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
IMAGE="${WP_BROWSER_IMAGE:-watchparty/browser:dev}"
BASE_IMAGE="${WP_BASE_IMAGE:-debian:bookworm-slim}"
CACHE_DIR="${WP_CACHE_DIR:-/var/cache/watchparty}"
SUITE=bookworm
HASH_LABEL=org.watchparty.context-hash
stage=""
START="$(date +%s)"

say() { printf '[build.sh %3ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

# --- 1. dockerd -------------------------------------------------------------------------------
ensure_dockerd() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null; then
    die "docker daemon not reachable and cannot start it (need root and dockerd)"
  fi
  say "starting dockerd (log: /var/log/dockerd.log)"
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      say "dockerd is up"
      return
    fi
    sleep 1
  done
  die "dockerd did not come up within 60 s; see /var/log/dockerd.log"
}

# --- 2. base image ----------------------------------------------------------------------------
# First URI of a host apt source that carries the given suite (deb822 or one-line format).
host_mirror() {
  local suite="$1" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
          if ($i ~ /^Suites:/ && (" " $i " ") ~ (" " suite " ")) ok = 1
        }
        if (ok && uri != "") { print uri; exit }
      }' "$f"
  done | head -n 1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == suite { print $2; exit }' "$f"
  done | head -n 1
}

build_rootfs_tarball() {
  local tarball="$1" mirror security rootfs
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  mirror="${WP_DEBIAN_MIRROR:-$(host_mirror "$SUITE" | head -n 1)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  security="${WP_DEBIAN_SECURITY_MIRROR:-$(host_mirror "$SUITE-security" | head -n 1)}"
  security="${security:-http://deb.debian.org/debian-security}"
  rootfs="$CACHE_DIR/rootfs.$$"
  rm -rf "$rootfs"
  say "debootstrap --variant=minbase $SUITE from $mirror (a few minutes)"
  if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
    rm -rf "$rootfs"
    die "debootstrap failed (full log: $CACHE_DIR/debootstrap.log)"
  fi
  # Make it look like the official slim image: deb822 sources incl. updates and security,
  # no docs/man/locales from later installs, apt caches cleaned, no host leftovers.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log \
    "$rootfs"/tmp/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"
  [ -f "$rootfs/etc/machine-id" ] && : >"$rootfs/etc/machine-id"
  tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  say "cached base rootfs: $tarball ($(du -h "$tarball" | cut -f1))"
}

ensure_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image $BASE_IMAGE present"
    return
  fi
  if [ "$BASE_IMAGE" != "debian:bookworm-slim" ]; then
    die "base image $BASE_IMAGE not found (only debian:bookworm-slim can be created here)"
  fi
  local tarball="$CACHE_DIR/debian-$SUITE-minbase.tar"
  mkdir -p "$CACHE_DIR"
  if [ ! -s "$tarball" ]; then
    build_rootfs_tarball "$tarball"
  else
    say "using cached base rootfs $tarball"
  fi
  say "docker import -> $BASE_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.opencontainers.image.description=debootstrap-$SUITE-minbase" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

# --- 3. context, hash, build ------------------------------------------------------------------
# The context keeps the repository's layout (the Dockerfile's COPY paths are relative to the
# root): the image's own directory and the wire package the agent imports.
stage_context() {
  local stage="$1" ca="$2"
  # Same exclusions as Dockerfile.dockerignore.
  tar -C "$repo" -cf - \
    --exclude='__pycache__' --exclude='*.pyc' --exclude='.pytest_cache' --exclude='.mypy_cache' \
    --exclude='browser-image/build.sh' --exclude='browser-image/README.md' \
    --exclude='browser-image/DEVELOPERS.md' --exclude='browser-image/.gitignore' \
    --exclude='browser-image/Dockerfile.dockerignore' \
    browser-image wire/watchparty_wire | tar -C "$stage" -xf -
  if [ -n "$ca" ]; then
    cp "$ca" "$stage/browser-image/extra-ca/zz-build-extra-ca.crt"
  fi
}

context_hash() {
  local stage="$1" base_id="$2"
  (
    cd "$stage"
    printf 'base %s\npip-args %s\n' "$base_id" "${PIP_EXTRA_ARGS:-}"
    # Paths, modes and contents; the extra CA only affects the build stage's trust, not output.
    find . -type f ! -path './browser-image/extra-ca/*' -print0 | LC_ALL=C sort -z |
      while IFS= read -r -d '' f; do
        printf '%s %s %s\n' "$(stat -c '%a' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
      done
  ) | sha256sum | cut -c1-32
}

main() {
  ensure_dockerd
  ensure_base
  if [ "${WP_BASE_ONLY:-0}" = 1 ]; then
    return 0
  fi

  local ca=""
  if [ "${EXTRA_CA_CERTS+set}" = set ]; then
    case "$EXTRA_CA_CERTS" in
      "" | none) ca="" ;;
      *)
        [ -r "$EXTRA_CA_CERTS" ] || die "EXTRA_CA_CERTS=$EXTRA_CA_CERTS is not readable"
        ca="$EXTRA_CA_CERTS"
        ;;
    esac
  elif [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    ca=/etc/ssl/certs/ca-certificates.crt
  fi

  [ -f "$here/requirements.txt" ] || die "$here/requirements.txt is missing"
  [ -d "$here/roomagent" ] || die "$here/roomagent/ is missing"
  [ -d "$repo/wire/watchparty_wire" ] || die "$repo/wire/watchparty_wire/ is missing"

  local base_id hash current
  stage="$(mktemp -d "${TMPDIR:-/tmp}/wp-browser-context.XXXXXX")"
  trap 'rm -rf "$stage"' EXIT
  stage_context "$stage" "$ca"
  base_id="$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"
  hash="$(context_hash "$stage" "$base_id")"
  current="$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$IMAGE" 2>/dev/null || true)"
  if [ "$current" = "$hash" ] && [ "${WP_FORCE_BUILD:-0}" != 1 ]; then
    say "$IMAGE is current (context $hash); nothing to do"
    return 0
  fi
  say "building $IMAGE (context $hash, was ${current:-absent}; extra CA: ${ca:-none})"

  local revision args=()
  revision="$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)"
  [ "${WP_NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
  [ -n "${PIP_EXTRA_ARGS:-}" ] && args+=(--build-arg "PIP_EXTRA_ARGS=$PIP_EXTRA_ARGS")
  # The legacy builder is used when BuildKit's buildx plugin is missing (as on this machine);
  # the Dockerfile works with both.
  if ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
  fi
  docker build "${args[@]}" \
    -f "$stage/browser-image/Dockerfile" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "$HASH_LABEL=$hash" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$IMAGE" "$stage"
  say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

main "$@"
