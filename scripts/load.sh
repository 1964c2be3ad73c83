#!/usr/bin/env bash
# The worker's numbers for BENCHMARKS.md, side by side in one run: the fast SQS emulator's ceiling (a
# plain client), failwatch's drain rate and its ratio to that ceiling, CPU per message, idle and peak RSS,
# start-up to ready, and the same job done by a Python worker in the style of the Google Chat seed's
# Lambda. Builds the release binary; tests/load/load.py starts fauxqs (npm, installed by
# scripts/bootstrap.sh) on 127.0.0.1 and stops it on exit.
#
#   scripts/load.sh [N]     # N distinct failure events per drain (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-5000}"
scripts/bootstrap.sh
PY="$PWD/.venv/bin/python"
echo "load: building the release binary" >&2
cargo build --quiet --locked --release -p failwatch-worker

echo "## Machine"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores available)"
echo "- $(rustc -V); fauxqs 2.4.1 on Node.js $(.venv/bin/node --version); $("$PY" -V); $(uname -sr)"
# Other work on the machine shares the cores with the emulator; the load average says how much.
echo "- Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Results (scripts/load.sh $n)"
echo
"$PY" tests/load/load.py "$PWD/target/release/failwatch" "$n"
echo "- Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
