"""Faults a deployment meets: the sandbox service or the upstream down, a full disk, secrets
in logs."""

from __future__ import annotations

import httpx

from tests.conftest import free_port, start_server, stop_server
from tests.fake_upstream import FakeUpstreamServer


DOUBLE = ("Write a Python function double(x) that returns 2*x.\n"
          ">>> double(3)\n6")


def ask_atlas_double(server, headers=None, **atlas) -> httpx.Response:
    """One small pipeline request (one candidate, no repair: cheap on the CPU)."""
    body = {"model": "atlas", "max_tokens": 200, "temperature": 0,
            "atlas": {"k": 1, "repair": False, "selftests": False, **atlas},
            "messages": [{"role": "user", "content": DOUBLE}]}
    r = httpx.post(f"{server.base_url}/chat/completions", json=body, headers=headers,
                   timeout=900)
    assert r.status_code == 200, r.text
    assert "def double" in r.json()["choices"][0]["message"]["content"]
    return r


def test_sandbox_service_down_degrades_to_an_answer(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    server = start_server(tmp_path, env={"ATLAS_SANDBOX_MODE": "remote",
                                         "ATLAS_SANDBOX_URL": dead}, name="nosandbox")
    try:
        health = httpx.get(f"{server.root}/health", timeout=30).json()
        assert health["sandbox"]["status"] == "unavailable"
        r = ask_atlas_double(server, trace=True)
        assert "SandboxUnavailable" in r.text  # the reason is in the trace
    finally:
        stop_server(server.process)


def test_api_keys_never_appear_in_logs_or_traces(tmp_path):
    key = "sk-canary-0123456789abcdef"
    traces = tmp_path / "traces.jsonl"
    server = start_server(tmp_path, env={"ATLAS_SERVER_API_KEYS": f'["{key}"]',
                                         "ATLAS_PIPELINE_TRACE_FILE": str(traces)}, name="keys")
    try:
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server.root}/health", timeout=30).status_code == 200
        assert httpx.get(f"{server.base_url}/models", timeout=30).status_code == 401
        assert httpx.get(f"{server.base_url}/models", headers=auth, timeout=30).status_code == 200
        r = httpx.post(f"{server.base_url}/chat/completions", headers=auth, timeout=300, json={
            "model": server.model, "max_tokens": 4,
            "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200
        ask_atlas_double(server, headers=auth)
        httpx.get(f"{server.base_url}/models", headers={"Authorization": "Bearer sk-wrong"},
                  timeout=30)
    finally:
        stop_server(server.process)
    log = server.log_text()
    assert "request" in log and "pipeline_done" in log
    assert key not in log and "sk-wrong" not in log
    trace = traces.read_text()
    assert "double" in trace and key not in trace


def test_upstream_down_at_start_then_up(tmp_path):
    # The proxy starts without its upstream, says so, refuses cleanly, and serves as soon as
    # the upstream comes up: no restart. (Fake upstream, named as such: no model needed.)
    port = free_port()
    server = start_server(tmp_path, "--upstream", f"http://127.0.0.1:{port}/v1",
                          env={"ATLAS_UPSTREAM_MODEL": "fake-tools",
                               "ATLAS_UPSTREAM_MAX_RETRIES": "0"}, name="noupstream",
                          healthy=False)
    body = {"model": "fake-tools", "messages": [{"role": "user", "content": "Paris?"}]}
    try:
        health = httpx.get(f"{server.root}/health", timeout=30)
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert f"127.0.0.1:{port}" in health.json()["reason"]
        r = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=60)
        assert r.status_code in (502, 503), r.text
        assert r.json()["error"]["type"] in ("upstream_error", "server_error")
        stream = httpx.post(f"{server.base_url}/chat/completions", timeout=60,
                            json={**body, "stream": True})
        assert stream.status_code in (502, 503)
        assert "upstream_unreachable_at_start" in server.log_text()

        upstream = FakeUpstreamServer(port).start()
        try:
            r = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=60)
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["finish_reason"] == "tool_calls"
            assert httpx.get(f"{server.root}/health", timeout=30).json()["status"] == "ok"
        finally:
            upstream.stop()
    finally:
        stop_server(server.process)


def test_trace_file_on_a_full_disk_still_answers(tmp_path):
    # /dev/full fails every write with ENOSPC, like a full disk.
    server = start_server(tmp_path, env={"ATLAS_PIPELINE_TRACE_FILE": "/dev/full"},
                          name="diskfull")
    try:
        ask_atlas_double(server)
    finally:
        stop_server(server.process)
    log = server.log_text()
    assert "trace_write_failed" in log and "No space left on device" in log
