#!/usr/bin/env bash
# What the suite needs beyond Python packages and services: npm packages for browser-driven tests,
# the room browser image and the control-plane image. Each step is a no-op when already current.
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in tests/agent/interop frontend; do
  if [ -f "$dir/package.json" ]; then
    echo "npm: $dir"
    (cd "$dir" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi)
  fi
done
if [ -f browser-image/build.sh ]; then
  bash browser-image/build.sh
fi
if [ -f controlplane-image/build.sh ]; then
  bash controlplane-image/build.sh
fi
