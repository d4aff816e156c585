#!/usr/bin/env bash
# Sets up, builds and runs the demo on the embedded SQLite store. Extra arguments go to
# `api-broker demo` (see `api-broker demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build -DAPI_BROKER_SANITIZE=OFF >/dev/null
exec build/src/cli/api-broker demo "$@"
