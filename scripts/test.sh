#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs, then runs every Rust test (unit,
# snapshot, property and system tests against the AWS emulator and local chat receivers) and every
# infrastructure check. Exit status is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# LocalStack is part of the suite: the native DLQ redrive test (StartMessageMoveTask) needs it.
scripts/bootstrap.sh --localstack "$@"
# Tests find the emulator and linters here; nothing depends on a server started by hand.
export PATH="$PWD/.venv/bin:$PATH"
# A snapshot that differs or is missing fails the run; it is never written as a side effect.
export INSTA_UPDATE=no

cargo test --workspace --locked --all-targets
if [[ -x tests/infra/run.sh ]]; then
  tests/infra/run.sh
fi
