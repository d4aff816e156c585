#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy: STYLE.md's checks) on the layers a change touched: every .cpp
# of each src/<layer>/ (and the layer's headers, through them) with a file changed since BASE.
# BASE is $1, or the commit in .ci/tidy-base (the last one whose layers were all checked
# clean); `--all` checks every layer. Uses build/compile_commands.json (scripts/build.sh).
# Exit 0 when clean.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TIDY_BUILD:-build}
[[ -f "$build/compile_commands.json" ]] || { echo "tidy.sh: no $build/compile_commands.json: run scripts/build.sh first" >&2; exit 2; }
layers=()
if [[ "${1:-}" == "--all" ]]; then
  mapfile -t layers < <(find src -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
else
  base=${1:-$(cat .ci/tidy-base)}
  # A change to a public header (include/api_broker/<layer>/...) or to the base headers
  # counts for its layer; one to a top-level header, for every layer.
  changed=$(git diff --name-only "$base" -- src include)
  if grep -q '^include/api_broker/[^/]*\.hpp$' <<<"$changed"; then
    mapfile -t layers < <(find src -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)
  else
    mapfile -t layers < <(sed -n 's#^\(src\|include/api_broker\)/\([^/]*\)/.*#\2#p' <<<"$changed" | sort -u)
  fi
fi
files=()
for layer in "${layers[@]}"; do
  # Left out: clang 14 with libstdc++ 12 cannot parse Boost 1.74's Asio coroutines (Asio
  # enables co_await for clang only with the coroutines TS), used by the two servers' sessions.
  # What they share (src/http/accept_loop.cpp: accepting, spawning) uses none, and is checked.
  [[ -d "src/$layer" ]] && mapfile -t -O "${#files[@]}" files < <(find "src/$layer" -name '*.cpp' \
    ! -path src/brittle_api/brittle_api.cpp ! -path src/service/server.cpp | sort)
done
if ((${#files[@]} == 0)); then
  echo "tidy: no layer changed since ${base:-?}"
  exit 0
fi
echo "tidy: ${layers[*]} (${#files[@]} files)"
# The build's flags are GCC's: clang-tidy is told to skip the options only GCC knows.
run-clang-tidy-14 -quiet -p "$build" -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
  "${files[@]/#/$PWD/}" >"$build/tidy.log" 2>&1 || {
  grep -E 'error:|warning:' "$build/tidy.log" | sort -u | head -100
  echo "tidy: failed (whole output: $build/tidy.log)" >&2
  exit 1
}
echo "tidy: clean"
