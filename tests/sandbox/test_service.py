"""The HTTP face: Litestar app in process, a real uvicorn on a free port, the CLI, and
remote results equal to local ones."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from sandbox import (
    ExecRequest,
    ExecResult,
    IOCase,
    RemoteSandbox,
    SandboxConfig,
    Status,
    make_sandbox,
)
from sandbox.service import create_app

from .sbx_helpers import PROJECT_ROOT, make_cfg

pytestmark = pytest.mark.asyncio(loop_scope="session")

REQUESTS = [
    ExecRequest(code="print('hi')"),
    ExecRequest(code="def f(x):\n    return x + 1\n", tests=["assert f(1) == 2", "assert f(1) == 3", "assert g(1)"]),
    ExecRequest(code="def f(:"),
    ExecRequest(code="while True: pass", timeout_s=1),
    ExecRequest(code="x = bytearray(10 * 1024 ** 3)"),
    ExecRequest(code="print(input() * 2)", io_cases=[IOCase("ab", "abab"), IOCase("c", "x")]),
    ExecRequest(code="s = 1", language="brainfuck"),
]


def comparable(r: ExecResult) -> ExecResult:
    # Timing and memory differ run to run; without bubblewrap each slot's work dir is a host
    # temp dir of its own, so paths in tracebacks differ by slot. Everything else must match.
    def norm(s: str) -> str:
        return re.sub(r"/[^\s\"']*/atlas-sbx-[^/]+/run", "<workdir>", s)

    return msgspec.structs.replace(r, duration_ms=0.0, peak_memory_kb=None,
                                   stdout=norm(r.stdout), stderr=norm(r.stderr))


BAD_BODIES = [
    (b"{not json", None),
    (b'{"language": "python"}', "code"),
    (b'{"code": "x", "tests": "not a list"}', "tests"),
    (b'{"code": "x", "timeout_s": -1}', "timeout_s"),
    (b'{"code": "x", "limits": {"memory_mb": "lots"}}', "limits.memory_mb"),
    (b"[]", None),
]


async def test_http_app():
    # The test client runs the app on its own loop, so the app owns its own sandbox here.
    app = create_app(make_cfg(workers=1, uid_base=62500))
    async with AsyncTestClient(app=app) as client:
        body = {"code": "def f(): return 1", "tests": ["assert f() == 1", "assert f() == 2"]}
        resp = await client.post("/execute", json=body)
        assert resp.status_code == 200
        res = msgspec.json.decode(resp.content, type=ExecResult)
        assert res.status == Status.FAILED and (res.tests_run, res.tests_passed) == (2, 1)
        assert resp.json()["status"] == "failed"
        resp = await client.post("/execute", json={"code": "while True: pass", "timeout_s": 1})
        assert resp.status_code == 200 and resp.json()["status"] == "timeout"  # not an HTTP error
        resp = await client.get("/languages")
        assert resp.status_code == 200 and "python" in resp.json()["languages"]
        resp = await client.get("/health")
        h = resp.json()
        assert resp.status_code == 200 and h["status"] in ("ok", "degraded") and "layers" in h and "missing" in h

        for body, param in BAD_BODIES:
            resp = await client.post("/execute", content=body, headers={"content-type": "application/json"})
            assert resp.status_code == 400, body
            err = resp.json()["error"]
            assert set(err) == {"message", "type", "param", "code"}
            assert err["type"] == "invalid_request_error" and err["param"] == param, (body, err)
            assert "Traceback" not in resp.text and ".py" not in resp.text
        resp = await client.get("/no/such/route")
        assert resp.status_code == 404 and "error" in resp.json()


async def test_remote_equals_local(sb):
    app = create_app(make_cfg(), sandbox=sb)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")
    remote = RemoteSandbox("http://sandbox", client=client)
    try:
        for req in REQUESTS:
            local_r, remote_r = await sb.run(req), await remote.run(req)
            assert type(remote_r) is ExecResult
            assert comparable(remote_r) == comparable(local_r), req
        assert await remote.languages() == await sb.languages()
    finally:
        await client.aclose()


async def test_remote_unreachable_is_a_classified_result():
    remote = RemoteSandbox("http://127.0.0.1:9", timeout_s=5)
    try:
        r = await remote.run(ExecRequest(code="print(1)"))
        assert r.status == Status.ERROR and r.error_type == "SandboxUnavailable"
    finally:
        await remote.aclose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_real_uvicorn_server(sb):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "serve", "--port", str(port), "--workers", "1",
                             "--isolation", sb.cfg.isolation, "--log-level", "warning"], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    remote = make_sandbox(SandboxConfig(mode="remote", url=f"http://127.0.0.1:{port}"))
    assert isinstance(remote, RemoteSandbox)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                h = await remote.health()
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not come up"
                await asyncio.sleep(0.2)
        assert h["backend"] == (await sb.health())["backend"]
        for req in REQUESTS:
            assert comparable(await remote.run(req)) == comparable(await sb.run(req)), req
    finally:
        await remote.aclose()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0


async def test_cli_run(tmp_path):
    src = tmp_path / "prog.py"
    src.write_text("def sq(x):\n    return x * x\n")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    p = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox.cli", "run", str(src), "--test", "assert sq(3) == 9",
        "--test", "assert sq(2) == 5", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(p.communicate(), 60)
    assert p.returncode == 1, err  # not passed
    res = json.loads(out)
    assert res["status"] == "failed" and res["tests_run"] == 2 and res["tests_passed"] == 1


async def test_config_decodes_from_toml():
    text = b'mode = "remote"\nurl = "http://sbx:8081"\nworkers = 4\nrequire_isolation = true\nmemory_mb = 256\n'
    cfg = msgspec.toml.decode(text, type=SandboxConfig)
    assert cfg.mode == "remote" and cfg.workers == 4 and cfg.require_isolation and cfg.memory_mb == 256
    with pytest.raises(msgspec.ValidationError):
        msgspec.toml.decode(b"wrokers = 2\n", type=SandboxConfig)


async def test_module_level_run_and_make_sandbox_local():
    import sandbox

    r = await sandbox.run(ExecRequest(code="print(6 * 7)"))
    assert r.status == Status.PASSED and r.stdout == "42\n"
    assert sandbox._default is not None
    await sandbox._default.aclose()
    sandbox._default = None
    local = make_sandbox(make_cfg(workers=1, uid_base=62700))
    try:
        assert (await local.run(ExecRequest(code="print(1)"))).status == Status.PASSED
    finally:
        await local.aclose()
