#!/usr/bin/env bash
# /metrics with the real Prometheus tools from Debian (CTest test `metrics_prometheus`):
#   scripts/prometheus-test.sh BUILD_DIR/src/cli/api-broker
# Runs the brittle API and `api-broker serve --process` on loopback, submits requests, checks a
# live scrape with `promtool check metrics`, then runs `prometheus` (its own temp dir, scraping
# serve every second with the read-only token) and asks its HTTP API that the scrape succeeded
# (up == 1) and that one of our series arrived. Every wait is bounded. Exits 77 (CTest:
# skipped), with the reason, when promtool or prometheus is missing.
set -euo pipefail
bin="$(realpath "${1:?usage: scripts/prometheus-test.sh PATH/TO/api-broker}")"
for tool in promtool prometheus curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: no $tool (Debian packages prometheus, curl): /metrics is not checked"
    exit 77
  fi
done
dir="$(mktemp -d "${TMPDIR:-/tmp}/api-broker-prometheus.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAILED: $*" >&2
  for f in "$dir"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2 || true; done
  exit 1
}
# The port a child says it listens on ("listening on 127.0.0.1:PORT" or "listening on URL"; serve's
# log may name the API's URL before it), within 20 s.
port_of() {
  for _ in $(seq 200); do
    if port=$(grep -oE 'listening on (https?://)?127\.0\.0\.1:[0-9]+' "$1" | head -n1 | grep -oE '[0-9]+$'); then
      echo "$port"
      return 0
    fi
    sleep 0.1
  done
  fail "no port in $1"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

store=(--eventstore-db-path "$dir/events.db")
token=metrics-test-token
read_token=metrics-read-token
"$bin" brittle-api serve 127.0.0.1:0 --api-failure-rate 0.3 --seed 7 >"$dir/api.log" 2>&1 &
pids+=($!)
api_port=$(port_of "$dir/api.log")
"$bin" "${store[@]}" configure --retries 1 --backoff-initial 0.05 >/dev/null
"$bin" "${store[@]}" serve --listen 127.0.0.1:0 --process --api-url "http://127.0.0.1:$api_port" \
  --api-token "$token" --api-read-token "$read_token" >"$dir/serve.log" 2>&1 &
pids+=($!)
port=$(port_of "$dir/serve.log")
base="http://127.0.0.1:$port"

for i in $(seq 20); do
  curl -fsS --max-time 10 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"body\":\"order $i\"}" "$base/v1/requests" >/dev/null || fail "POST /v1/requests"
done

# /metrics answers the read-only token, not an anonymous caller.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$base/metrics")
[[ "$code" == 401 ]] || fail "/metrics without a token answered $code, not 401"
# Wait (bounded) until every request is finished, then check the live scrape.
for _ in $(seq 100); do
  curl -fsS --max-time 10 -H "Authorization: Bearer $read_token" "$base/metrics" >"$dir/metrics.txt" ||
    fail "GET /metrics"
  finished=$(awk '/^api_broker_requests_finished_total/ {s += $2} END {print s + 0}' "$dir/metrics.txt")
  [[ "$finished" == 20 ]] && break
  sleep 0.1
done
[[ "$finished" == 20 ]] || fail "api_broker_requests_finished_total is $finished, not 20"
promtool check metrics <"$dir/metrics.txt" || fail "promtool check metrics"
echo "promtool check metrics: ok ($(grep -c '^api_broker_' "$dir/metrics.txt") samples)"

# A short real Prometheus run scraping serve every second.
printf '%s' "$read_token" >"$dir/token"
prom_port=$(free_port)
cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: api-broker
    authorization:
      type: Bearer
      credentials_file: $dir/token
    static_configs:
      - targets: ["127.0.0.1:$port"]
YAML
promtool check config "$dir/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file "$dir/prometheus.yml" --storage.tsdb.path "$dir/tsdb" \
  --web.listen-address "127.0.0.1:$prom_port" >"$dir/prometheus.log" 2>&1 &
pids+=($!)
query() {
  curl -fsS --max-time 5 --get --data-urlencode "query=$1" "http://127.0.0.1:$prom_port/api/v1/query" 2>/dev/null
}
up="" submitted=""
for _ in $(seq 300); do  # 30 s at most
  up=$(query 'up{job="api-broker"}' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)
  submitted=$(query 'api_broker_requests_submitted_total' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)
  [[ "$up" == 1 && "$submitted" == 20 ]] && break
  sleep 0.1
done
[[ "$up" == 1 ]] || fail "prometheus: up is '$up', not 1"
[[ "$submitted" == 20 ]] || fail "prometheus: api_broker_requests_submitted_total is '$submitted', not 20"
echo "prometheus scraped serve: up 1, api_broker_requests_submitted_total 20"
