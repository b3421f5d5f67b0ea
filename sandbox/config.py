"""Sandbox settings. The proxy's config.toml embeds this struct under ``[sandbox]``, so it
stays flat and decodable from TOML by msgspec."""

from __future__ import annotations

from typing import Literal

import msgspec


class SandboxConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mode: Literal["local", "remote"] = "local"
    url: str = "http://127.0.0.1:8081"  # remote mode: where ``sandbox serve`` listens
    workers: int = 0  # concurrent runs; 0 = number of cores
    queue_max: int = 1000  # runs waiting beyond this get status=error, error_type="QueueFull"
    require_isolation: bool = False  # True: refuse (status unsupported) when a layer is missing
    default_timeout_s: float = 10.0  # used when a request's timeout_s is <= 0
    memory_mb: int = 512  # ceiling: a request may ask for less, never more
    # --- additions (all defaulted) ---
    # Which isolation backend to use: "auto" picks bubblewrap, then unshare, then none.
    isolation: Literal["auto", "bwrap", "unshare", "none"] = "auto"
    max_timeout_s: float = 60.0  # ceiling on a request's timeout_s
    compile_timeout_s: float = 30.0  # C/C++ compile step
    compile_memory_mb: int = 2048  # cc1plus needs more than a typical run
    uid_base: int = 61000  # when root, worker slot i runs as uid/gid uid_base + i
    scratch_mb: int = 256  # size of the private tmpfs work dir (and /tmp) per slot
    python: str = ""  # interpreter for Python runs; "" = first usable of /usr/bin/python3, ...
    remote_timeout_s: float = 120.0  # RemoteSandbox: HTTP timeout on top of the run's own
