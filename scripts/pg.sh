#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and benchmarks: a temp directory, 127.0.0.1
# only, a non-default port, trust authentication for local TCP (except one role kept for the
# wrong-password test). Installs nothing: scripts/setup.sh does.
#
#   scripts/pg.sh start   creates and starts the cluster; prints the URL to use on stdout
#   scripts/pg.sh env     prints `export API_BROKER_PG_URL=...` for a running cluster
#   scripts/pg.sh stop    stops it and removes its directory; succeeds whatever the state
#   scripts/pg.sh pause [fast|immediate]
#                         stops the server but keeps the cluster: `fast` (the default) as an
#                         orderly restart does (sessions ended, a shutdown checkpoint),
#                         `immediate` as a crash does (no checkpoint: the next start replays
#                         the WAL)
#   scripts/pg.sh resume  starts a paused cluster again on its port
#
# The cluster lives in $API_BROKER_PG_DIR (default ${TMPDIR:-/tmp}/api-broker-pg-$UID); the
# port is $API_BROKER_PG_PORT (default 55432) or the next free one. Durability settings are
# PostgreSQL's defaults (fsync, synchronous_commit on), so that benchmarks mean something.
set -euo pipefail

dir=${API_BROKER_PG_DIR:-${TMPDIR:-/tmp}/api-broker-pg-$(id -u)}
first_port=${API_BROKER_PG_PORT:-55432}
# The role the tests use to check that a wrong password is refused (pg_hba below).
password_role=api_broker_password_test

die() {
  echo "pg.sh: $*" >&2
  exit 1
}

bin_dir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$found" && -x "$found/initdb" ]] ||
    die "no PostgreSQL server found under /usr/lib/postgresql (run scripts/setup.sh)"
  echo "$found"
}

# Runs a server program as the cluster owner: PostgreSQL refuses to run as root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url() {
  echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
}

running() {
  [[ -f "$dir/port" && -d "$dir/data" ]] || return 1
  as_owner "$(bin_dir)/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

start() {
  if running; then
    url
    return
  fi
  local bin
  bin=$(bin_dir)
  if [[ $(id -u) -eq 0 ]]; then
    getent passwd postgres >/dev/null || die "no 'postgres' user to run the server as"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
    --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    die "initdb failed"
  }
  as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
# scripts/pg.sh: a throwaway test cluster on 127.0.0.1 only.
local all all                      trust
host  all $password_role 127.0.0.1/32 scram-sha-256
host  all all            127.0.0.1/32 trust
EOF
  local port=$first_port tries=0
  while ((tries < 50)); do
    if port_is_free "$port"; then
      rm -f "$dir/server.log"
      if as_owner "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" \
        >/dev/null 2>&1; then
        echo "$port" | as_owner tee "$dir/port" >/dev/null
        echo "pg.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port," \
          "data in $dir" >&2
        url
        return
      fi
      grep -q "could not bind\|already in use" "$dir/server.log" 2>/dev/null || {
        tail -n 20 "$dir/server.log" >&2 || true
        die "the server did not start (log above)"
      }
    fi
    port=$((port + 1))
    tries=$((tries + 1))
  done
  die "no free port from $first_port to $port"
}

stop() {
  if [[ -d "$dir/data" ]]; then
    local bin
    bin=$(bin_dir)
    as_owner "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 30 >/dev/null 2>&1 ||
      as_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

pause() {
  local mode=${1:-fast}
  [[ $mode == fast || $mode == immediate ]] || die "pause takes fast or immediate, not '$mode'"
  running || die "no cluster running in $dir"
  as_owner "$(bin_dir)/pg_ctl" stop -D "$dir/data" -m "$mode" -w -t 30 >/dev/null
}

resume() {
  [[ -f "$dir/port" && -d "$dir/data" ]] || die "no cluster in $dir"
  running && return
  as_owner "$(bin_dir)/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -c port=$(cat "$dir/port") -c unix_socket_directories=$dir" \
    >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  pause) pause "${2:-fast}" ;;
  resume) resume ;;
  env)
    running || die "no cluster running in $dir (scripts/pg.sh start)"
    echo "export API_BROKER_PG_URL=$(url)"
    ;;
  *)
    echo "usage: scripts/pg.sh start|stop|pause [fast|immediate]|resume|env" >&2
    exit 2
    ;;
esac
