#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs, then runs every Rust test (unit,
# snapshot, property and system tests against the AWS emulator and local chat receivers) and every
# infrastructure check. Exit status is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh "$@"
# Tests find the emulators, Node.js and linters here; each test starts the emulator it needs
# (moto, or local-aws-sqs for StartMessageMoveTask) and stops it; nothing depends on a server started by hand.
export PATH="$PWD/.venv/bin:$PATH"
# A snapshot that differs or is missing fails the run; it is never written as a side effect.
export INSTA_UPDATE=no

cargo test --workspace --locked --all-targets
if [[ -x tests/infra/run.sh ]]; then
  tests/infra/run.sh
fi

# The README's other command, end to end: every sample failure through EventBridge and SQS to five local
# chat receivers, then a check of what they got (regions match the ARNs, every chat got every alert, no
# webhook token in the worker's log).
echo "test: running scripts/demo.sh (output in .demo/)" >&2
scripts/demo.sh >/dev/null
.venv/bin/python tests/support/check_demo.py .demo
