#!/usr/bin/env bash
# The chaos run of BENCHMARKS.md: failure events through `failwatch run` processes SIGKILLed and
# restarted every few seconds, into a receiver that fails a good share of its posts; prints a JSON
# summary (delivered, duplicates and why, lost, dead-lettered) and a verdict against issue 11's targets.
# Builds the release binary; tests/chaos/chaos.py starts fauxqs and the receiver on 127.0.0.1 (and
# ministack for --state dynamodb) and stops them on exit. Not part of scripts/test.sh: a full run takes
# minutes.
#
#   scripts/chaos.sh [--events 600] [--replicas 2] [--state memory|dynamodb] ...   # see chaos.py --help
#   scripts/chaos.sh --smoke      # 60 events, 1 replica, kills for 20 s, everything capped at 55 s
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
if [[ "${1:-}" == "--smoke" ]]; then
  args=(--events 60 --chaos-cap 20 --duration-cap 55 "${@:2}")
fi
scripts/bootstrap.sh >&2
echo "chaos: building the release binary" >&2
cargo build --quiet --locked --release -p failwatch-worker
echo "chaos: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
status=0
.venv/bin/python tests/chaos/chaos.py "$PWD/target/release/failwatch" "${args[@]}" || status=$?
echo "chaos: load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$status"
