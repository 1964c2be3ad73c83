#!/usr/bin/env bash
# Every offline check of failwatch's deployment artefacts (infra/, Dockerfile), one line per check.
# Exit status is non-zero if any check failed. scripts/test.sh runs it with .venv/bin on PATH; it also
# works standalone from any directory.
#
# Tools installed by scripts/bootstrap.sh (promtool, cfn-lint, hadolint, kubernetes-validate, moto) are
# required. terraform, kubectl, shellcheck and the AWS CLI are used when present; a missing one is
# reported as SKIP (kubectl has a fallback that validates the base files individually).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
root="$PWD"
export PATH="$root/.venv/bin:$PATH"
py="$root/.venv/bin/python"
[[ -x $py ]] || py=python3

logdir="$(mktemp -d)"
trap 'rm -rf "$logdir"' EXIT
failed=0
n=0

# check <name> <command...>: runs the command, prints PASS/FAIL with its duration; on failure, its output.
check() {
  local name=$1
  shift
  n=$((n + 1))
  local log="$logdir/$n.log" start=$SECONDS
  if "$@" >"$log" 2>&1; then
    printf 'PASS  %-44s %3ds\n' "$name" $((SECONDS - start))
  else
    printf 'FAIL  %-44s %3ds\n' "$name" $((SECONDS - start))
    sed 's/^/      /' "$log"
    failed=1
  fi
}

skip() {
  printf 'SKIP  %-44s %s\n' "$1" "$2"
}

# cfn-lint's exit status is a bitmask: 2 errors, 4 warnings, 8 informational. Errors and warnings fail.
cfn_lint() {
  cfn-lint --regions ap-northeast-2 us-east-1 eu-west-1 -- infra/cloudformation/failwatch.yaml
  local rc=$?
  ((rc & 6)) && return 1
  return 0
}

# `terraform init` cannot reach the registry here, but a local provider mirror (a directory laid out as
# registry.terraform.io/hashicorp/aws/<version>/<os_arch>/) makes `validate` and `test` (against a
# mocked provider) possible. Works on a copy, so no .terraform or lock file lands in the repository.
tf_mirror="${FAILWATCH_TF_PLUGIN_MIRROR:-/opt/tf-plugins}"
terraform_validate_and_test() {
  local work="$logdir/terraform" dir
  cp -r infra/terraform "$work" || return 1
  printf 'provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n' \
    "$tf_mirror" >"$logdir/terraformrc"
  export TF_CLI_CONFIG_FILE="$logdir/terraformrc" TF_IN_AUTOMATION=1
  for dir in "$work" "$work"/examples/*/; do
    (cd "$dir" && terraform init -backend=false -input=false -no-color >/dev/null && terraform validate -no-color) || return 1
  done
  (cd "$work" && terraform test -no-color)
}

if command -v terraform >/dev/null 2>&1; then
  check "terraform fmt -check -recursive" env TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff infra/terraform
  if [[ -d $tf_mirror/registry.terraform.io/hashicorp/aws ]]; then
    check "terraform validate + test (mocked AWS)" terraform_validate_and_test
  else
    skip "terraform validate + test (mocked AWS)" "(no provider mirror at $tf_mirror)"
  fi
else
  skip "terraform fmt -check -recursive" "(terraform not installed)"
fi
check "terraform module conventions" "$py" tests/infra/check_terraform.py
check "cfn-lint failwatch.yaml" cfn_lint
if command -v shellcheck >/dev/null 2>&1; then
  check "shellcheck (deploy, scripts, CI)" shellcheck infra/cloudformation/deploy.sh tests/infra/run.sh scripts/*.sh .ci/run
else
  skip "shellcheck (deploy, scripts, CI)" "(shellcheck not installed)"
fi
check "CloudFormation stack in moto (events flow)" "$py" -m unittest tests/infra/test_cloudformation.py
check "hadolint Dockerfile" hadolint --failure-threshold warning Dockerfile
check "Dockerfile invariants" "$py" tests/infra/check_dockerfile.py
check "kubernetes-validate + manifest invariants" "$py" tests/infra/check_kubernetes.py
check "promtool check rules" promtool check rules infra/prometheus/failwatch-alerts.yaml
check "promtool test rules" promtool test rules infra/prometheus/failwatch-alerts.test.yaml
check "alert rules use exported metrics" "$py" tests/infra/check_alert_metrics.py
check "grafana dashboard (promtool + metrics)" "$py" tests/infra/check_grafana.py

if ((failed)); then
  echo "infra checks: FAILED" >&2
  exit 1
fi
echo "infra checks: all passed" >&2
