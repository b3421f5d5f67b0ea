#!/usr/bin/env bash
# Installs everything into .venv (idempotent; reuses pip's cache, so llama-cpp-python compiles
# once per machine) and assembles the default model. Sourced by serve.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip wheel 2>&1 | grep -v "^WARNING: Location" || true
extras=${ATLAS_SETUP_EXTRAS:-}
python -m pip install -q -e ".${extras:+[$extras]}" 2>&1 | grep -v "^WARNING: Location" || true
python -m pip install -q --require-hashes -r requirements/model.txt 2>&1 \
  | grep -v "^WARNING: Location" || true
# System tools the sandbox uses for isolation (optional: it reports what is missing).
[ -f scripts/setup-system.sh ] && bash scripts/setup-system.sh
python -c "from proxy.model_store import ensure_default_model as e; print('model:', e())"
