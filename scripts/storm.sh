#!/usr/bin/env bash
# The storm run of BENCHMARKS.md: 10,000 failed-task events over 20 services and 3 failure classes on the
# queue at once, through `failwatch run` into 60 rooms that each take one message per second and answer
# 429 above that; prints a JSON summary (posts per group per interval, 429s, time to each group's first
# post, drain time, every event accounted for) and a verdict against issue 13's goals, and exits 1 when
# one is missed. Builds the release binary; tests/storm/storm.py starts fauxqs and the receiver on
# 127.0.0.1 (and ministack for --backend dynamodb) and stops them on exit. Not part of scripts/test.sh:
# a run takes minutes.
#
#   scripts/storm.sh [--backend memory|dynamodb] [--replicas N] [--events 10000] [--group-interval 20s]
#   scripts/storm.sh --group-interval 0s       # the baseline: grouping off, every alert posted
#   scripts/storm.sh --smoke                   # 600 events, 6 services, a 10 s interval
set -euo pipefail
cd "$(dirname "$0")/.."

args=("$@")
if [[ "${1:-}" == "--smoke" ]]; then
  args=(--events 600 --services 6 --group-interval 10s --duration-cap 120 "${@:2}")
fi
scripts/bootstrap.sh >&2
echo "storm: building the release binary" >&2
cargo build --quiet --locked --release -p failwatch-worker
echo "storm: $(nproc) cores, load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
status=0
.venv/bin/python tests/storm/storm.py "$PWD/target/release/failwatch" "${args[@]}" || status=$?
echo "storm: load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$status"
