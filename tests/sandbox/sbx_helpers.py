"""Helpers for the sandbox suite (fixtures live in conftest.py).

The canary is put into this process's environment at import, before any sandbox starts, so a
leak through the zygote's own environment would be caught too.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sandbox import ExecRequest, LocalSandbox, SandboxConfig

CANARY = "atlas-canary-7f3e9b1c-do-not-leak"
os.environ["SANDBOX_TEST_CANARY"] = CANARY
os.environ["OPENAI_API_KEY"] = "sk-" + CANARY

# A uid range of its own: a sandbox running elsewhere on this host (the proxy, a benchmark)
# must not be mistaken for our leftovers, nor we for theirs.
TEST_UID_BASE = 62000
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def make_cfg(**kw) -> SandboxConfig:
    # SANDBOX_TEST_ISOLATION=unshare|none runs the suite as a host without bubblewrap
    kw.setdefault("isolation", os.environ.get("SANDBOX_TEST_ISOLATION", "auto"))
    kw.setdefault("workers", 2)
    kw.setdefault("uid_base", TEST_UID_BASE)
    return SandboxConfig(**kw)


def layer(box: LocalSandbox, name: str) -> bool:
    assert box.plan is not None
    return bool(box.plan.layers.get(name))


def _proc_table() -> list[tuple[int, int, int, str]]:
    rows = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        rest = stat[stat.rindex(")") + 2 :].split()
        rows.append((int(p), int(rest[1]), uid, rest[0]))
    return rows


def _foreign_processes(box: LocalSandbox, closed_uids: set[int] | None = None) -> list[tuple[int, int, int, str]]:
    """Processes of the workers' uids that are neither a worker's monitor (bwrap/unshare)
    nor its zygote: anything else is a leftover of a run. After close: any process at all
    of the uids the workers had."""
    after_close = closed_uids is not None
    uids = closed_uids if after_close else {w.uid for w in box.workers if w.uid is not None}
    keep: set[int] = set()
    table = _proc_table()
    for w in box.workers:
        if w.proc is not None and not after_close:
            keep.add(w.proc.pid)
            if box.plan and box.plan.backend != "none":
                keep |= {pid for pid, ppid, _, _ in table if ppid == w.proc.pid}
    return [row for row in table if row[2] in uids and row[0] not in keep and row[3] != "Z"]


async def assert_clean(box: LocalSandbox) -> None:
    """No process of a run survives it, and its files are gone (host dirs, or the private
    tmpfs inside the sandbox)."""
    deadline = time.monotonic() + 5
    while (left := _foreign_processes(box)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # a SIGKILLed zygote (no pid ns) takes a moment to go
    assert not left, f"leftover sandbox processes: {left}"
    for w in box.workers:
        if w.host_dir is not None:
            assert os.listdir(w.host_dir) == [], f"leftover files in {w.host_dir}"
    if box.plan is not None and box.plan.backend == "bwrap":
        for w in box.workers:
            if w.proc is None:
                continue
            r = await w.execute(_listing_req(w), b"", 20, 100_000)
            seen = r.stdout.decode().strip()
            assert seen == "['run', 'tmp'] ['main.py'] []", f"work dir / tmp not wiped: {seen}"


def _listing_req(w) -> dict:
    from sandbox.isolation import clean_env

    code = "import os\nprint(sorted(os.listdir('/sandbox')), os.listdir('/sandbox/run'), os.listdir('/tmp'))"
    return {"kind": "python", "code": code, "files": {"main.py": code}, "env": clean_env(w.workdir),
            "limits": {}, "fresh": True, "wipe": True, "tests": [], "test_file": None}


def py(code: str, **kw) -> ExecRequest:
    return ExecRequest(code=code, **kw)
