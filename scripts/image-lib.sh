# Shared steps of the two image build scripts (browser-image/build.sh,
# controlplane-image/build.sh); sourced, not run. Each script sets LOG_NAME before sourcing and
# then: ensure_dockerd, ensure_base, its own preparations, stage_context, context_hash,
# image_current / docker_build.
#
# Environment (both scripts):
#   WP_CACHE_DIR       cache for the debootstrap tarball (default /var/cache/watchparty)
#   WP_DEBIAN_MIRROR   Debian mirror for debootstrap (default: from the host's apt sources)
#   WP_DEBIAN_SECURITY_MIRROR  security mirror written into the base (default: host's / Debian's)
#   EXTRA_CA_CERTS     PEM bundle trusted by pip (and npm) during the build (TLS-intercepting
#                      proxies). Unset: the host's /etc/ssl/certs/ca-certificates.crt when
#                      present. Set to "" or "none": no extra CA. It never ends up in an image.
#   WP_FORCE_BUILD=1   build even if the image is current
#   WP_NO_CACHE=1      docker build --no-cache
#   PIP_EXTRA_ARGS     extra pip arguments for the venv stage (e.g. --index-url ...)

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE_IMAGE="${WP_BASE_IMAGE:-debian:bookworm-slim}"
CACHE_DIR="${WP_CACHE_DIR:-/var/cache/watchparty}"
SUITE=bookworm
HASH_LABEL=org.watchparty.context-hash
START="$(date +%s)"

say() { printf '[%s %3ss] %s\n' "${LOG_NAME:-build}" "$(($(date +%s) - START))" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

# --- dockerd ----------------------------------------------------------------------------------
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
# --- the base image (debian:bookworm-slim, created offline when it cannot be found) --------
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

# --- the build context ------------------------------------------------------------------------
# The CA bundle pip (and npm) trust during the build, from EXTRA_CA_CERTS (see the top); empty
# for none.
extra_ca() {
  if [ "${EXTRA_CA_CERTS+set}" = set ]; then
    case "$EXTRA_CA_CERTS" in
      "" | none) return 0 ;;
      *)
        [ -r "$EXTRA_CA_CERTS" ] || die "EXTRA_CA_CERTS=$EXTRA_CA_CERTS is not readable"
        printf '%s\n' "$EXTRA_CA_CERTS"
        ;;
    esac
  elif [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    printf '%s\n' /etc/ssl/certs/ca-certificates.crt
  fi
}

# stage_context STAGE CA_DIR PATH...: the repository's PATHs copied into STAGE with their
# layout (caches left out, and the tar patterns of the array STAGE_EXCLUDE), the extra CA (if
# any) as CA_DIR/zz-build-extra-ca.crt.
STAGE_EXCLUDE=()
stage_context() {
  local stage="$1" ca_dir="$2" ca pattern excludes=()
  shift 2
  for pattern in "${STAGE_EXCLUDE[@]}"; do
    excludes+=(--exclude="$pattern")
  done
  tar -C "$REPO" -cf - \
    --exclude='__pycache__' --exclude='*.pyc' --exclude='.pytest_cache' --exclude='.mypy_cache' \
    "${excludes[@]}" "$@" | tar -C "$stage" -xf -
  ca="$(extra_ca)"
  if [ -n "$ca" ]; then
    cp "$ca" "$stage/$ca_dir/zz-build-extra-ca.crt"
  fi
}

# context_hash STAGE CA_DIR IMAGE...: paths, modes and contents of the staged context, the ids of
# the images it builds FROM and PIP_EXTRA_ARGS (the extra CA only affects the build stages'
# trust, not the output, and is left out).
context_hash() {
  local stage="$1" ca_dir="$2" image
  shift 2
  (
    for image in "$@"; do
      printf 'from %s %s\n' "$image" "$(docker image inspect -f '{{.Id}}' "$image")"
    done
    printf 'pip-args %s\n' "${PIP_EXTRA_ARGS:-}"
    cd "$stage"
    find . -type f ! -path "./$ca_dir/*" -print0 | LC_ALL=C sort -z |
      while IFS= read -r -d '' f; do
        printf '%s %s %s\n' "$(stat -c '%a' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
      done
  ) | sha256sum | cut -c1-32
}

# --- the build --------------------------------------------------------------------------------
# image_current IMAGE HASH: the image exists with this context hash (and no forced build).
image_current() {
  local current
  current="$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true)"
  [ "$current" = "$2" ] && [ "${WP_FORCE_BUILD:-0}" != 1 ]
}

# docker_build IMAGE HASH DOCKERFILE STAGE [docker build args...]
docker_build() {
  local image="$1" hash="$2" dockerfile="$3" stage="$4" revision args=()
  shift 4
  revision="$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)"
  [ "${WP_NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
  [ -n "${PIP_EXTRA_ARGS:-}" ] && args+=(--build-arg "PIP_EXTRA_ARGS=$PIP_EXTRA_ARGS")
  # The legacy builder is used when BuildKit's buildx plugin is missing (as on this machine);
  # the Dockerfiles work with both.
  if ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
  fi
  docker build "${args[@]}" "$@" \
    -f "$stage/$dockerfile" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "$HASH_LABEL=$hash" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$image" "$stage"
  say "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}
