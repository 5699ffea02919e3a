#!/usr/bin/env bash
# Build the Watch Party room browser image on a machine with or without a container registry.
#
#   bash browser-image/build.sh            # builds watchparty/browser:dev if it is not current
#
# Steps (the shared ones in scripts/image-lib.sh, which controlplane-image/build.sh uses too):
#   1. make sure dockerd answers (starts it when we are root and it is not running);
#   2. make sure the base image debian:bookworm-slim exists: if it cannot be found locally it is
#      created with debootstrap (minbase) from the host's Debian mirror and `docker import`ed; the
#      root filesystem tarball is cached so a later import needs no network;
#   3. stage the build context (the repository's layout: browser-image/, the wire package, and
#      pyproject.toml with scripts/requirements.py, which names the agent's pinned dependencies),
#      hash it (plus the base image id) and compare with the label on the existing image:
#      equal -> nothing to do; otherwise `docker build -f browser-image/Dockerfile`.
#
# Environment:
#   WP_BROWSER_IMAGE   image tag to build (default watchparty/browser:dev)
#   WP_BASE_IMAGE      base image (default debian:bookworm-slim)
#   WP_BASE_ONLY=1     only make sure dockerd and the base image exist
#   WP_CACHE_DIR, WP_DEBIAN_MIRROR, WP_DEBIAN_SECURITY_MIRROR, EXTRA_CA_CERTS, WP_FORCE_BUILD,
#   WP_NO_CACHE, PIP_EXTRA_ARGS: see scripts/image-lib.sh
set -euo pipefail

LOG_NAME=build.sh
# shellcheck source=../scripts/image-lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../scripts/image-lib.sh"
IMAGE="${WP_BROWSER_IMAGE:-watchparty/browser:dev}"
# What the image is built from (Dockerfile.dockerignore allows the same set).
CONTEXT=(browser-image wire/watchparty_wire pyproject.toml scripts/requirements.py)
STAGE_EXCLUDE=(browser-image/build.sh browser-image/README.md browser-image/DEVELOPERS.md
  browser-image/.gitignore browser-image/Dockerfile.dockerignore)
stage=""

main() {
  ensure_dockerd
  ensure_base
  if [ "${WP_BASE_ONLY:-0}" = 1 ]; then
    return 0
  fi
  local path hash
  for path in "${CONTEXT[@]}"; do
    [ -e "$REPO/$path" ] || die "$REPO/$path is missing"
  done
  stage="$(mktemp -d "${TMPDIR:-/tmp}/wp-browser-context.XXXXXX")"
  trap 'rm -rf "$stage"' EXIT
  stage_context "$stage" browser-image/extra-ca "${CONTEXT[@]}"
  hash="$(context_hash "$stage" browser-image/extra-ca "$BASE_IMAGE")"
  if image_current "$IMAGE" "$hash"; then
    say "$IMAGE is current (context $hash); nothing to do"
    return 0
  fi
  say "building $IMAGE (context $hash)"
  docker_build "$IMAGE" "$hash" browser-image/Dockerfile "$stage"
}

main "$@"
