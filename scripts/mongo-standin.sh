#!/usr/bin/env bash
# A throwaway MongoDB wire-protocol STAND-IN for the tests and benchmarks: the small server in
# tests/mongo_standin/standin.py (Debian's mongomock and bson behind the wire protocol), NOT
# MongoDB. 127.0.0.1 only, a free port, every byte in memory (gone when it stops).
# Installs nothing: scripts/setup.sh does.
#
#   scripts/mongo-standin.sh start   starts it; prints the URL to use on stdout
#   scripts/mongo-standin.sh stop    stops it and removes its directory; succeeds whatever the state
#
# It lives in $API_BROKER_MONGO_DIR (default ${TMPDIR:-/tmp}/api-broker-mongo-$UID): its pid,
# port and log. Debian's Python is /usr/bin/python3 (another python3 may come first on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${API_BROKER_MONGO_DIR:-${TMPDIR:-/tmp}/api-broker-mongo-$(id -u)}
python=/usr/bin/python3

die() {
  echo "mongo-standin.sh: $*" >&2
  exit 1
}

running() {
  [[ -f "$dir/pid" && -f "$dir/port" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null
}

start() {
  if running; then
    echo "mongodb://127.0.0.1:$(cat "$dir/port")"
    return
  fi
  [[ -x $python ]] || die "$python not found (run scripts/setup.sh)"
  rm -rf "$dir"
  mkdir -p "$dir"
  "$python" tests/mongo_standin/standin.py --port 0 --port-file "$dir/port" \
    >"$dir/standin.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  for _ in $(seq 100); do
    [[ -f "$dir/port" ]] && break
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || {
      cat "$dir/standin.log" >&2
      die "the stand-in did not start (log above)"
    }
    sleep 0.1
  done
  [[ -f "$dir/port" ]] || die "the stand-in did not listen within 10 s"
  echo "mongo-standin.sh: MongoDB wire-protocol stand-in (not MongoDB) on" \
    "127.0.0.1:$(cat "$dir/port"), log in $dir/standin.log" >&2
  echo "mongodb://127.0.0.1:$(cat "$dir/port")"
}

stop() {
  if [[ -f "$dir/pid" ]]; then
    local pid
    pid=$(cat "$dir/pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: scripts/mongo-standin.sh start|stop" >&2
    exit 2
    ;;
esac
