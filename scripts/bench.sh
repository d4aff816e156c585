#!/usr/bin/env bash
# Builds and runs every benchmark, printing the figures (docs/BENCHMARKS.md records a run):
#   store_bench      the SQLite store beside raw SQLite
#   postgresql_store_bench   the PostgreSQL store beside raw libpq, and LISTEN/NOTIFY wake-up
#   broker_bench     end-to-end on SQLite, then on PostgreSQL (--eventstore-url)
#   mongo_store_bench  the MongoDB store beside raw libmongoc, and the tailed-cursor wake-up,
#                    against $API_BROKER_MONGODB_URL, else the wire-protocol stand-in of the
#                    tests (whose figures say nothing about MongoDB's speed, as it prints)
#   view_bench       the read model on a SQLite log of 1,000,000 requests (100,000 with
#                    --quick): rebuild time, bytes per request, list/detail latency (~2.5 min)
# PostgreSQL runs on a throwaway cluster (scripts/pg.sh) in a temp directory, removed on exit.
# Extra arguments (e.g. --quick) go to both broker_bench runs.
# Environment: API_BROKER_BUILD_DIR (default build), API_BROKER_BUILD_JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

build=${API_BROKER_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" ]] ||
  grep -q '^API_BROKER_BENCH:BOOL=OFF' "$build/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPI_BROKER_BENCH=ON \
    >/dev/null
fi
echo "== build ($build, $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"))"
cmake --build "$build" --target store_bench postgresql_store_bench mongo_store_bench broker_bench view_bench api-broker \
  -j"${API_BROKER_BUILD_JOBS:-$(nproc)}"

echo "== machine"
echo "nproc: $(nproc)"
lscpu | head -n 15
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
df -hT . "${TMPDIR:-/tmp}" | sed 1d

echo "== PostgreSQL cluster (stopped and removed on exit)"
API_BROKER_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-bench-pg.XXXXXX")
API_BROKER_MONGO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/api-broker-bench-mongo.XXXXXX")
export API_BROKER_PG_DIR API_BROKER_MONGO_DIR
trap "'$PWD/scripts/pg.sh' stop; '$PWD/scripts/mongo-standin.sh' stop" EXIT
trap 'exit 1' INT TERM # so that the EXIT trap runs on Ctrl-C and kill too
url=$(scripts/pg.sh start)

started=$SECONDS
echo
echo "== store_bench (SQLite)"
"$build/bench/store_bench"
echo
echo "== postgresql_store_bench (PostgreSQL)"
"$build/bench/postgresql_store_bench" --url "$url"
echo
echo "== broker_bench (SQLite)"
"$build/bench/broker_bench" --api-broker "$build/src/cli/api-broker" "$@"
echo
echo "== broker_bench (PostgreSQL)"
"$build/bench/broker_bench" --api-broker "$build/src/cli/api-broker" --eventstore-url "$url" "$@"
echo
if [[ -n "${API_BROKER_MONGODB_URL:-}" ]]; then
  echo "== mongo_store_bench (MongoDB at API_BROKER_MONGODB_URL)"
  "$build/bench/mongo_store_bench" --url "$API_BROKER_MONGODB_URL"
else
  echo "== mongo_store_bench (the wire-protocol STAND-IN, not MongoDB: no MongoDB server here)"
  "$build/bench/mongo_store_bench" --url "$(scripts/mongo-standin.sh start)"
fi
echo
view_requests=1000000
for arg in "$@"; do [[ $arg == --quick ]] && view_requests=100000; done
echo "== view_bench (the read model, SQLite, $view_requests requests)"
"$build/bench/view_bench" --requests "$view_requests"
echo
echo "== done in $((SECONDS - started)) s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
