#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (into build-fuzz/) and runs each for a
# bounded time on its seed corpus (fuzz/corpus/<target>/; new inputs go to
# build-fuzz/corpus/<target>/, outside the repository), then prints the executions per target.
# Exit 0 only when no target found a crash, a leak, a hang or a failed property; a failing
# input is saved as build-fuzz/artifacts/<target>-crash-... and the target's log is printed.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]    (default: $FUZZ_SECONDS, else 10)
#   scripts/fuzz.sh 600 event_decode                     # a longer run of one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${FUZZ_SECONDS:-10}}
shift || true
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: seconds must be a positive whole number" >&2; exit 2; }
build=build-fuzz

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DAPI_BROKER_FUZZ=ON >/dev/null
cmake --build "$build" -j2

targets=("$@")
if ((${#targets[@]} == 0)); then mapfile -t targets <"$build/fuzz_targets.txt"; fi
mkdir -p "$build/artifacts" "$build/logs"

failed=()
rows=()
for target in "${targets[@]}"; do
  [[ -x "$build/fuzz/$target" ]] || { echo "fuzz.sh: no target '$target'" >&2; exit 2; }
  mkdir -p "$build/corpus/$target" "fuzz/corpus/$target"
  log="$build/logs/$target.log"
  echo "== fuzz $target (${seconds} s)"
  status=0
  "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
    "$build/corpus/$target" "fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  [[ -n "$runs" ]] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
  corpus=$(find "$build/corpus/$target" "fuzz/corpus/$target" -type f | wc -l)
  if ((status != 0)); then
    failed+=("$target")
    rows+=("$(printf '%-16s %14s %8s  %s' "$target" "${runs:-?}" "$corpus" "FAILED (exit $status)")")
    tail -n 60 "$log"
  else
    rows+=("$(printf '%-16s %14s %8s  %s' "$target" "${runs:-?}" "$corpus" ok)")
  fi
done

echo
printf '%-16s %14s %8s  %s\n' target executions inputs result
for row in "${rows[@]}"; do echo "$row"; done
if ((${#failed[@]} > 0)); then
  echo "fuzz.sh: failed: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
