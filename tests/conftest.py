"""Shared fixtures: a real server on the real embedded model, started once per session.

The server runs as a separate process on a free port, exactly as a user starts it
(``python -m proxy.cli serve``), so tests see what clients see.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy.bench.processes import stop_group, wait_for_health

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    root: str  # http://127.0.0.1:PORT
    base_url: str  # .../v1, what an openai client wants
    model: str
    process: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(tmp: Path, *args: str, env: dict[str, str] | None = None,
                 wait_s: float = 300.0, name: str = "server",
                 healthy: bool = True) -> LiveServer:
    """Start and wait for /health: a 200, or with ``healthy=False`` any answer (a server
    whose backend is down on purpose still answers 503 with its status)."""
    port = free_port()
    log_path = tmp / f"{name}-{port}.log"
    full_env = {**os.environ, "ATLAS_SERVER_LOG_FORMAT": "json", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy.cli", "serve", "--port", str(port), *args],
        cwd=ROOT, env=full_env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    root = f"http://127.0.0.1:{port}"
    ok = frozenset({200} if healthy else {200, 503})
    try:
        r = wait_for_health(process, root, timeout_s=wait_s, ok=ok)
    except RuntimeError as exc:
        stop_server(process)
        raise RuntimeError(f"{exc}:\n{log_path.read_text()}") from None
    return LiveServer(root, f"{root}/v1", r.json()["model"], process, log_path)


def stop_server(process: subprocess.Popen) -> None:
    stop_group(process)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory):
    """The real server on the embedded default model (shared by the whole session)."""
    server = start_server(tmp_path_factory.mktemp("live"), name="live")
    yield server
    stop_server(server.process)
