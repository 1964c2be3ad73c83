#!/usr/bin/env bash
# The worker's numbers for BENCHMARKS.md: the emulator's own maximum SQS rate, failwatch's drain rate
# for the same messages, start-up to ready, idle and draining memory. Builds the release binary, starts
# a moto server on loopback, runs tests/load/load.py against it and stops everything on exit.
#
#   scripts/load.sh [N]     # N messages per run (default 500; moto slows down as a queue grows, so larger N measure moto, not failwatch)
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-500}"
scripts/bootstrap.sh
PY="$PWD/.venv/bin/python"
cargo build --quiet --locked --release -p failwatch-worker

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t failwatch-load-moto.XXXXXX)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null || true; wait "$moto" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 200); do
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "## Machine"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores available)"
echo "- $(rustc -V); moto $("$PY" -c 'import moto; print(moto.__version__)'); $(uname -sr)"
# Other work on the machine shares the cores with the emulator; the load average says how much.
echo "- Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Results (scripts/load.sh $n)"
echo
"$PY" tests/load/load.py "http://127.0.0.1:$port" "$PWD/target/release/failwatch" "$n"
echo "- Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
