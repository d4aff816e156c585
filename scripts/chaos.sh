#!/usr/bin/env bash
# A chaos run on real processes, as big as asked (tests/chaos; CTest runs a small one):
# requests inserted by concurrent CLI clients while the processor is killed with SIGKILL at
# random moments and, on PostgreSQL, the database server is stopped and started; then
# `verify --all-finished` over the log and the cross-check of the log with the brittle API's
# own record of the calls it received. Prints the figures as a table and as one JSON line;
# exits 0 only if no request was lost and no finished request was sent again.
#
#   scripts/chaos.sh --backend sqlite --requests 10000 --kills 30
#   scripts/chaos.sh --backend postgresql --requests 10000 --kills 30 --db-restarts 6
#   scripts/chaos.sh --backend sqlite --seed 123456     # the same seed again
#   scripts/chaos.sh --help                             # every option
#
# PostgreSQL runs on a cluster of the run's own (scripts/pg.sh in a temp directory), stopped
# and removed at the end, on Ctrl-C too. A failed run keeps its files and names them.
# Environment: API_BROKER_BUILD_DIR (default build), API_BROKER_BUILD_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

build=${API_BROKER_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" ]] ||
  grep -q '^API_BROKER_TESTS:BOOL=OFF' "$build/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPI_BROKER_TESTS=ON \
    >/dev/null
fi
cmake --build "$build" --target api-broker api-broker-chaos \
  -j"${API_BROKER_BUILD_JOBS:-$(nproc)}" >&2
exec "$build/tests/chaos/api-broker-chaos" --api-broker "$build/src/cli/api-broker" "$@"
