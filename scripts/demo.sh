#!/usr/bin/env bash
# Installs realtime_admin with its demo into .venv and serves the demo admin on
# http://127.0.0.1:8000/admin/ (log in as demo / demo). Set REDIS_URL to use Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || $PYTHON -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[redis]"
exec .venv/bin/python example_project/manage.py demo "$@"
