#!/usr/bin/env bash
# The local demo, on a fresh machine: installs the emulator (scripts/bootstrap.sh), builds failwatch,
# starts an emulated AWS (moto) with the queue, its DLQ and the EventBridge rule, starts a local chat
# receiver standing in for Google Chat, Slack, Teams, Discord and a generic webhook, runs
# `failwatch run`, pushes the sample failure events through EventBridge, waits until the queue is
# drained and prints what each chat received. Everything listens on 127.0.0.1 only, every wait is
# bounded, and everything it started is stopped on exit, success or not.
#
#   scripts/demo.sh
#
# Logs and every payload posted are left in .demo/ for a closer look.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
PY="$PWD/.venv/bin/python"
HELPER="$PWD/tests/support/demo.py"

echo "demo: building failwatch" >&2
cargo build --quiet --locked -p failwatch-worker
FAILWATCH="$PWD/target/debug/failwatch"

WORK="$PWD/.demo"
rm -rf "$WORK"
mkdir -p "$WORK"

pids=()
cleanup() {
  local status=$?
  # The worker first (SIGTERM: it hands unfinished messages back), then the receiver and the emulator.
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS: until URL answers 2xx.
wait_http() {
  local deadline=$((SECONDS + $2))
  until "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" \
      >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "demo: $1 did not answer within $2 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

MOTO_PORT=$(free_port)
RECEIVER_PORT=$(free_port)
ADMIN_PORT=$(free_port)
ENDPOINT="http://127.0.0.1:$MOTO_PORT"

echo "demo: starting the AWS emulator on $ENDPOINT" >&2
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
pids=("$!" "${pids[@]}")
wait_http "$ENDPOINT/moto-api/" 30

QUEUE_URL=$("$PY" "$HELPER" setup "$ENDPOINT" failwatch-demo)
echo "demo: created queue $QUEUE_URL, its DLQ and EventBridge rule failwatch-demo-failures" >&2

"$PY" "$HELPER" receiver "$RECEIVER_PORT" "$WORK/received.jsonl" >"$WORK/receiver.log" 2>&1 &
pids=("$!" "${pids[@]}")

# One destination per chat service, all on the local receiver; the URL's path names the service and
# the rest plays the secret part a real webhook URL has (it never appears in failwatch's logs).
cat >"$WORK/failwatch.toml" <<EOF
[sqs]
queue_url = "$QUEUE_URL"
wait_time = "2s"

[admin]
listen = "127.0.0.1:$ADMIN_PORT"

[logging]
format = "text"

# Alerts of one group (same service and failure class) that follow its first alert within 5 s are
# folded into one digest, so the demo shows digests without waiting the default 5 minutes.
[grouping]
group_interval = "5s"
EOF
for service in google-chat slack teams discord webhook; do
  var="DEMO_$(echo "$service" | tr 'a-z-' 'A-Z_')_URL"
  export "$var=http://127.0.0.1:$RECEIVER_PORT/$service/demo-secret-token"
  cat >>"$WORK/failwatch.toml" <<EOF

[[destinations]]
name = "$service"
type = "$service"
url_env = "$var"
rate_per_second = 20.0
burst = 20
EOF
done
wait_http "http://127.0.0.1:$RECEIVER_PORT/" 10

echo "demo: starting failwatch run (admin on 127.0.0.1:$ADMIN_PORT)" >&2
AWS_ENDPOINT_URL_SQS="$ENDPOINT" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  AWS_REGION=eu-central-1 AWS_EC2_METADATA_DISABLED=true \
  "$FAILWATCH" run --config "$WORK/failwatch.toml" >"$WORK/failwatch.log" 2>&1 &
pids=("$!" "${pids[@]}")
wait_http "http://127.0.0.1:$ADMIN_PORT/readyz" 30

"$PY" "$HELPER" publish "$ENDPOINT" "$QUEUE_URL" tests/fixtures/events >&2
"$PY" "$HELPER" drained "$ENDPOINT" "$QUEUE_URL" 90
echo "demo: queue drained" >&2

"$PY" "$HELPER" show "$WORK/received.jsonl"

echo
echo "failwatch's own count (from /metrics):"
"$PY" - "http://127.0.0.1:$ADMIN_PORT/metrics" <<'EOF'
import sys, urllib.request
for line in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines():
    if line.startswith(("failwatch_events_total", "failwatch_deliveries_total")):
        print("  " + line)
EOF
echo
echo "Logs: .demo/failwatch.log (worker), .demo/moto.log (emulator)."
