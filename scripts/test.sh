#!/usr/bin/env bash
# Set up and run the whole test suite against the real embedded model and sandbox.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ATLAS_SETUP_EXTRAS=test . scripts/setup.sh
exec python -m pytest "$@"
