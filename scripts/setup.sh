#!/usr/bin/env bash
# Installs everything EdgePort and its tests need on a fresh Debian machine:
# Debian packages (sipp, nats-server) and a virtualenv at .venv with the pinned
# Python packages. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# Kamailio with its TLS module: the third-party TLS peer of tests/e2e/test_tls_ws.py (sipp has no TLS)
command -v kamailio >/dev/null 2>&1 || need_apt+=(kamailio)
dpkg -s kamailio-tls-modules >/dev/null 2>&1 || need_apt+=(kamailio-tls-modules)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

# The Node.js processor of the compatibility suite (tests/compat) on Routr's published
# @routr/processor, pinned by tests/compat/package-lock.json.
if [ ! -d tests/compat/node_modules ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd tests/compat && npm ci --ignore-scripts --no-audit --no-fund)
  else
    echo "setup.sh: npm not found; tests/compat needs Node.js 20 and npm" >&2
  fi
fi
