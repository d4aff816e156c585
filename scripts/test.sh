#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: once plain, once under AddressSanitizer +
# UndefinedBehaviorSanitizer, then every fuzz target for a bounded time ($FUZZ_SECONDS each,
# default 10; that clang build also checks the annotated locking with -Wthread-safety), and
# the store and broker tests under ThreadSanitizer; checks the formatting, the header rule
# and the target picture first, and runs clang-tidy on the layers changed since
# .ci/tidy-base after the first build. Exit 0 only when all pass. The PostgreSQL tests use a throwaway cluster, the MongoDB
# tests a wire-protocol stand-in (or API_BROKER_MONGODB_URL's server).
set -euo pipefail
cd "$(dirname "$0")/.."
# The MongoDB driver's /dev/shm counters file, per process, left behind by killed ones: off.
export MONGOC_DISABLE_SHM=1
# Each step's line says how long the run has taken so far, so a slow step shows in CI's log.
step() { echo "== [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }
scripts/setup.sh

step "format check"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src include tests bench -name '*.[ch]pp')
clang-format --dry-run --Werror "${sources[@]}"

step "the header rule and the target picture (docs/ARCHITECTURE.md)"
# Tests, benches and fuzz targets reach a layer's internals through its *_internal target,
# never through a path into src/.
if grep -rn 'PROJECT_SOURCE_DIR}/src' tests bench fuzz --include=CMakeLists.txt |
  grep -v 'add_subdirectory' || grep -rn '#include "\.\./' src include tests bench fuzz; then
  echo "test.sh: a path into src/ above: link the layer's *_internal target instead" >&2
  exit 1
fi
picture=$(mktemp "${TMPDIR:-/tmp}/api-broker-targets.XXXXXX.svg")
scripts/target-graph.sh "$picture" >/dev/null
if ! cmp -s "$picture" docs/targets.svg; then
  echo "test.sh: docs/targets.svg is not the build's picture: run scripts/target-graph.sh" >&2
  exit 1
fi
rm -f "$picture"

step "build (RelWithDebInfo, -Werror)"
scripts/build.sh build -DAPI_BROKER_TESTS=ON -DAPI_BROKER_BENCH=ON -DAPI_BROKER_SANITIZE=OFF
step "clang-tidy on the layers changed since .ci/tidy-base (the last commit checked whole)"
scripts/tidy.sh
step "PostgreSQL test cluster and MongoDB stand-in (stopped on exit, even when tests fail)"
API_BROKER_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-pg.XXXXXX")
API_BROKER_MONGO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-mongo.XXXXXX")
export API_BROKER_PG_DIR API_BROKER_MONGO_DIR
trap "'$PWD/scripts/pg.sh' stop; '$PWD/scripts/mongo-standin.sh' stop" EXIT
trap 'exit 1' INT TERM  # so that the EXIT trap runs on Ctrl-C and kill too
API_BROKER_PG_URL=$(scripts/pg.sh start)
export API_BROKER_PG_URL
# No MongoDB server here (Debian ships none): the MongoDB tests run against the wire-protocol
# stand-in in tests/mongo_standin, unless API_BROKER_MONGODB_URL already names a server.
if [[ -z "${API_BROKER_MONGODB_URL:-}" ]]; then
  API_BROKER_MONGODB_URL=$(scripts/mongo-standin.sh start)
  echo "MongoDB tests: against the wire-protocol STAND-IN at $API_BROKER_MONGODB_URL (not MongoDB)"
else
  echo "MongoDB tests: against the server at API_BROKER_MONGODB_URL"
fi
export API_BROKER_MONGODB_URL
step "tests"
# tests/install/package_test.sh installs the .deb with dpkg -i (and removes it) when run as root.
export API_BROKER_PACKAGE_TEST=1
ctest --test-dir build --output-on-failure -j2 --timeout 600

step "build (ASan + UBSan)"
scripts/build.sh build-asan -DAPI_BROKER_SANITIZE=ON -DAPI_BROKER_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
step "tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2 --timeout 900
step "fuzzing: every libFuzzer target of fuzz/ for ${FUZZ_SECONDS:-10} s (clang, ASan + UBSan)"
scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
step "build (ThreadSanitizer: the store, the store worker, the processor and the end-to-end tests)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPI_BROKER_TSAN=ON \
  -DAPI_BROKER_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)" --target api-broker store_conformance_test broker_e2e_test \
  broker_test
step "store and broker tests under ThreadSanitizer"
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j2 --timeout 900 \
  -R 'StoreConformance|Broker|StoreWorker'
step "all tests passed"
