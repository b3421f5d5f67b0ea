#!/usr/bin/env bash
# System packages the project needs beyond Python wheels. Idempotent; safe to run in CI.
#
# bubblewrap: the sandbox's strongest isolation backend (user/net/pid namespaces, read-only
# view of /usr and /etc, private tmpfs work dir). Without it the sandbox still runs, on
# `unshare` (util-linux) or rlimits + a dedicated uid only, and reports the missing layers
# in its log and GET /health (SandboxConfig.require_isolation=true makes it refuse instead).
# Toolchains for the sandbox's languages (python3, node, gcc/g++, perl) are used when
# present; only bubblewrap is installed here.
set -euo pipefail

need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-system: missing ${need[*]}; run as root to install" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${need[@]}"
fi
