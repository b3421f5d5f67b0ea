"""The sandbox: the only door through which the proxy runs model-written code.

``await sandbox.run(ExecRequest(...))`` runs in process on a lazily created LocalSandbox;
``make_sandbox(cfg)`` picks the in-process or the HTTP implementation from config. Both
return the same ExecResult.
"""

from __future__ import annotations

from .config import SandboxConfig
from .remote import RemoteSandbox
from .runner import LocalSandbox
from .types import ExecRequest, ExecResult, IOCase, Limits, Sandbox, Status, TestOutcome

__all__ = [
    "ExecRequest",
    "ExecResult",
    "IOCase",
    "Limits",
    "LocalSandbox",
    "RemoteSandbox",
    "Sandbox",
    "SandboxConfig",
    "Status",
    "TestOutcome",
    "make_sandbox",
    "run",
]

_default: LocalSandbox | None = None


def make_sandbox(cfg: SandboxConfig | None = None) -> Sandbox:
    cfg = cfg or SandboxConfig()
    if cfg.mode == "remote":
        return RemoteSandbox(cfg.url, timeout_s=cfg.remote_timeout_s)
    return LocalSandbox(cfg)


async def run(request: ExecRequest) -> ExecResult:
    """Run on a process-wide default LocalSandbox, created on first use with default config."""
    global _default
    if _default is None:
        _default = LocalSandbox()
    return await _default.run(request)
