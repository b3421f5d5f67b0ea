#!/usr/bin/env bash
# Set up (first run: ~15 min, mostly compiling llama.cpp) and serve on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh
exec atlas-proxy serve "$@"
