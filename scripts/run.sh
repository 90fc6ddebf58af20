#!/usr/bin/env bash
# Quick start: set up (see setup.sh), then run the reference processor and an EdgePort with
# config.example.yaml (SIP on UDP and TCP port 5060). Ctrl-C stops both.
# A static route sends calls for "service" to a sipp uas on 127.0.0.1:5090.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python -m edgeport_lib.reference_processor --bind 127.0.0.1:51904 \
  --routes scripts/quickstart-routes.yaml &
processor=$!
trap 'kill $processor 2>/dev/null || true' EXIT
exec_status=0
.venv/bin/python edgeport.py "${1:-config.example.yaml}" || exec_status=$?
exit $exec_status
