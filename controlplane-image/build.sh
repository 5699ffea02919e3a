#!/usr/bin/env bash
# Build the Watch Party control-plane image (../Dockerfile) on a machine with or without a
# container registry.
#
#   bash controlplane-image/build.sh        # builds watchparty/controlplane:dev if not current
#
# Elsewhere a plain `docker build -t watchparty/controlplane:dev .` at the repository root does
# the same; this script only supplies what cannot be pulled here:
#   1. dockerd and the base image debian:bookworm-slim (debootstrap + `docker import`, shared
#      with the browser image: browser-image/build.sh with WP_BASE_ONLY=1);
#   2. the Node image of the web stage (NODE_IMAGE, default node:20-bookworm-slim): when it is
#      absent, a local stand-in of that tag is built FROM debian:bookworm-slim with the host's
#      Node (/usr/bin/node >= 20.19 and its npm), which is all the web stage uses;
#   3. a staged context (the Dockerfile's inputs, frontend/ without node_modules and dist when it
#      exists, the extra CA), hashed with the base images' ids: equal to the label on the
#      existing image -> nothing to do; otherwise `docker build`.
#
# Environment:
#   WP_CONTROLPLANE_IMAGE  tag to build (default watchparty/controlplane:dev)
#   WP_NODE_IMAGE          image of the web stage (default node:20-bookworm-slim)
#   EXTRA_CA_CERTS         PEM bundle trusted by pip and npm during the build; unset: the host's
#                          /etc/ssl/certs/ca-certificates.crt when present; "" or "none": none.
#                          It never ends up in the final image.
#   WP_FORCE_BUILD=1       build even if the image is current
#   WP_NO_CACHE=1          docker build --no-cache
#   PIP_EXTRA_ARGS         extra pip arguments (e.g. --index-url ...)
#   WP_CACHE_DIR, WP_DEBIAN_MIRROR, WP_DEBIAN_SECURITY_MIRROR: as for browser-image/build.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
IMAGE="${WP_CONTROLPLANE_IMAGE:-watchparty/controlplane:dev}"
BASE_IMAGE=debian:bookworm-slim
NODE_IMAGE="${WP_NODE_IMAGE:-node:20-bookworm-slim}"
NODE_MIN=20.19
HASH_LABEL=org.watchparty.context-hash
START="$(date +%s)"
stage=""
node_stage=""

say() { printf '[controlplane build %3ss] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
cleanup() { rm -rf "$stage" "$node_stage"; }
trap cleanup EXIT

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# --- 2. the web stage's Node image ------------------------------------------------------------
ensure_node_image() {
  if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
    say "node image $NODE_IMAGE present"
    return
  fi
  local node version npm_dir
  node="$(command -v node || true)"
  [ -n "$node" ] || die "$NODE_IMAGE cannot be pulled here and there is no host node to stand in"
  version="$("$node" --version | sed 's/^v//')"
  version_ge "$version" "$NODE_MIN" || die "host node $version < $NODE_MIN (Vite's minimum)"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$node")")")/lib/node_modules/npm"
  [ -d "$npm_dir" ] || npm_dir=/usr/lib/node_modules/npm
  [ -f "$npm_dir/bin/npm-cli.js" ] || die "npm not found next to $node"
  say "building a local stand-in for $NODE_IMAGE from host node $version"
  node_stage="$(mktemp -d "${TMPDIR:-/tmp}/wp-node-standin.XXXXXX")"
  cp "$(readlink -f "$node")" "$node_stage/node"
  cp -a "$npm_dir" "$node_stage/npm"
  cat >"$node_stage/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
LABEL org.opencontainers.image.description="local stand-in for $NODE_IMAGE: host node $version on $BASE_IMAGE"
DOCKERFILE
  docker build -q -t "$NODE_IMAGE" "$node_stage" >/dev/null
}

# --- 3. context, hash, build ------------------------------------------------------------------
stage_context() {
  local ca="$1" paths=(Dockerfile .dockerignore pyproject.toml alembic.ini migrations wire/watchparty_wire controlplane controlplane-image)
  [ -d "$repo/frontend" ] && paths+=(frontend)
  tar -C "$repo" -cf - \
    --exclude='__pycache__' --exclude='*.pyc' --exclude='frontend/node_modules' \
    --exclude='frontend/dist' --exclude='controlplane-image/extra-ca/*.crt' \
    --exclude='controlplane-image/extra-ca/*.pem' "${paths[@]}" | tar -C "$stage" -xf -
  if [ -n "$ca" ]; then
    cp "$ca" "$stage/controlplane-image/extra-ca/zz-build-extra-ca.crt"
  fi
}

context_hash() {
  (
    cd "$stage"
    printf 'base %s\nnode %s\npip-args %s\n' "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")" \
      "$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE")" "${PIP_EXTRA_ARGS:-}"
    # Paths, modes and contents; the extra CA only affects the build stages' trust.
    find . -type f ! -path './controlplane-image/extra-ca/*' -print0 | LC_ALL=C sort -z |
      while IFS= read -r -d '' f; do
        printf '%s %s %s\n' "$(stat -c '%a' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
      done
  ) | sha256sum | cut -c1-32
}

main() {
  WP_BASE_ONLY=1 bash "$repo/browser-image/build.sh"
  ensure_node_image

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

  stage="$(mktemp -d "${TMPDIR:-/tmp}/wp-controlplane-context.XXXXXX")"
  stage_context "$ca"
  local hash current
  hash="$(context_hash)"
  current="$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$IMAGE" 2>/dev/null || true)"
  if [ "$current" = "$hash" ] && [ "${WP_FORCE_BUILD:-0}" != 1 ]; then
    say "$IMAGE is current (context $hash); nothing to do"
    return 0
  fi
  say "building $IMAGE (context $hash, was ${current:-absent}; web app: $([ -f "$stage/frontend/package.json" ] && echo yes || echo no); extra CA: ${ca:-none})"
  local revision args=()
  revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
  [ "${WP_NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
  [ -n "${PIP_EXTRA_ARGS:-}" ] && args+=(--build-arg "PIP_EXTRA_ARGS=$PIP_EXTRA_ARGS")
  # The legacy builder when BuildKit's buildx plugin is missing; the Dockerfile works with both.
  if ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
  fi
  docker build "${args[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "NODE_IMAGE=$NODE_IMAGE" \
    --label "$HASH_LABEL=$hash" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$IMAGE" "$stage"
  say "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

main "$@"
