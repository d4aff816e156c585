#!/usr/bin/env bash
# Sets up, builds and runs the demo on the embedded SQLite store. Extra arguments go to
# `api-broker demo` (see `api-broker demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPI_BROKER_SANITIZE=OFF >/dev/null
cmake --build build --target api-broker -j"$(nproc)" >/dev/null
exec build/src/cli/api-broker demo "$@"
