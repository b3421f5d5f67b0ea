"""Property-based fuzzing of every route from our own OpenAPI schema (schemathesis), plus
hand-picked nasty inputs. Zero 5xx; every error an OpenAI error object.

The server runs on the scripted fake backend (named as such): the fuzzer sends thousands of
requests, and what is under test here is the HTTP surface, not the model.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from proxy.app import create_app
from proxy.backends.fake import ScriptedFakeBackend
from proxy.config import load_config
from tests.conftest import free_port

MODEL = "scripted-fake"


class _NoSandbox:
    async def health(self):
        return {"ok": True}

    async def aclose(self):
        return None


def _serve():
    port = free_port()
    config = load_config(overrides={"server": {"max_body_mb": 1.0}})
    app = create_app(config, backend=ScriptedFakeBackend(lambda r: "ok fine"),
                     sandbox=_NoSandbox())
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


SERVER, THREAD, ROOT = _serve()
schema = schemathesis.openapi.from_url(f"{ROOT}/openapi/openapi.json")


def assert_openai_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"message", "type", "param", "code"} <= set(body["error"])


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_schema_fuzz_no_5xx_and_openai_errors(case):
    response = case.call(timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"message", "type", "param", "code"} <= set(body["error"])


@pytest.mark.parametrize("content, ctype", [
    (b"x" * (10 << 20), "application/json"),  # 10 MB body
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),  # deeply nested JSON
    (b'{"model": "\xff\xfe", "messages": []}', "application/json"),  # invalid UTF-8
    (b"model=x", "application/x-www-form-urlencoded"),  # wrong content type
    (b"", "application/json"),  # empty body
    (b"null", "application/json"),
    (b'{"model": "scripted-fake", "messages": [{"role": "user", "content": "hi"}], '
     b'"unknown_field": {"deep": [1, 2, 3]}}', "application/json"),
])
def test_nasty_bodies(content, ctype):
    r = httpx.post(f"{ROOT}/v1/chat/completions", content=content,
                   headers={"content-type": ctype}, timeout=30)
    assert_openai_error(r)


@pytest.mark.parametrize("patch, param", [
    ({"n": 1000}, "n"),
    ({"max_tokens": -5}, "max_tokens"),
    ({"max_tokens": 10**12}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user"}], "temperature": -1}, "temperature"),
    ({"stop": ["a"] * 100}, "stop"),
])
def test_out_of_range_values_are_400_naming_the_field(patch, param):
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **patch}
    r = httpx.post(f"{ROOT}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_unknown_fields_are_ignored_like_openai_clients_expect():
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "foo": 1}
    r = httpx.post(f"{ROOT}/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 200
