"""Child servers for benchmarks and tests: wait until one answers /health, stop its group.

Used for optillm (``peers.py``) and, by the test suite, for our own server; both start the
server in its own session so that stopping it takes its children too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx


def wait_for_health(proc: subprocess.Popen, root: str, *, timeout_s: float,
                    ok: frozenset[int] = frozenset({200}), poll_s: float = 0.2,
                    what: str = "server") -> httpx.Response:
    """Poll ``root``/health until its status is in ``ok``; RuntimeError if the process exits
    or the time runs out (the caller adds its log)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            response = httpx.get(f"{root}/health", timeout=2)
            if response.status_code in ok:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    raise RuntimeError(f"{what} did not answer {root}/health within {timeout_s:g} s")


def stop_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace_s``."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
