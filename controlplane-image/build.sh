#!/usr/bin/env bash
# Build the Watch Party control-plane image (../Dockerfile) on a machine with or without a
# container registry.
#
#   bash controlplane-image/build.sh        # builds watchparty/controlplane:dev if not current
#
# Elsewhere a plain `docker build -t watchparty/controlplane:dev .` at the repository root does
# the same; this script only supplies what cannot be pulled here. Steps (the shared ones in
# scripts/image-lib.sh, which browser-image/build.sh uses too):
#   1. dockerd and the base image debian:bookworm-slim (debootstrap + `docker import`);
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
#   WP_CACHE_DIR, WP_DEBIAN_MIRROR, WP_DEBIAN_SECURITY_MIRROR, EXTRA_CA_CERTS (trusted by pip and
#   npm), WP_FORCE_BUILD, WP_NO_CACHE, PIP_EXTRA_ARGS: see scripts/image-lib.sh
set -euo pipefail

LOG_NAME="controlplane build"
# shellcheck source=../scripts/image-lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../scripts/image-lib.sh"
IMAGE="${WP_CONTROLPLANE_IMAGE:-watchparty/controlplane:dev}"
BASE_IMAGE=debian:bookworm-slim
NODE_IMAGE="${WP_NODE_IMAGE:-node:20-bookworm-slim}"
NODE_MIN=20.19
# The Dockerfile's inputs (frontend/ is added when it exists).
CONTEXT=(Dockerfile .dockerignore pyproject.toml scripts/requirements.py alembic.ini migrations
  wire/watchparty_wire controlplane controlplane-image)
STAGE_EXCLUDE=(frontend/node_modules frontend/dist 'controlplane-image/extra-ca/*.crt'
  'controlplane-image/extra-ca/*.pem')
stage=""
node_stage=""

cleanup() { rm -rf "$stage" "$node_stage"; }
trap cleanup EXIT

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# --- the web stage's Node image ---------------------------------------------------------------
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

main() {
  ensure_dockerd
  ensure_base
  ensure_node_image
  local paths=("${CONTEXT[@]}") hash
  [ -d "$REPO/frontend" ] && paths+=(frontend)
  stage="$(mktemp -d "${TMPDIR:-/tmp}/wp-controlplane-context.XXXXXX")"
  stage_context "$stage" controlplane-image/extra-ca "${paths[@]}"
  hash="$(context_hash "$stage" controlplane-image/extra-ca "$BASE_IMAGE" "$NODE_IMAGE")"
  if image_current "$IMAGE" "$hash"; then
    say "$IMAGE is current (context $hash); nothing to do"
    return 0
  fi
  say "building $IMAGE (context $hash; web app: $([ -f "$stage/frontend/package.json" ] && echo yes || echo no))"
  docker_build "$IMAGE" "$hash" Dockerfile "$stage" --build-arg "NODE_IMAGE=$NODE_IMAGE"
}

main "$@"
