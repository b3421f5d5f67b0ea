"""Every error case answers with an OpenAI error object and the status OpenAI uses.

Protocol edge cases run in process against the app with the scripted fake backend (named
as such); the few that depend on the real model (context window, queue) use real servers.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from litestar.testing import AsyncTestClient

from proxy.app import create_app
from proxy.backends.fake import ScriptedFakeBackend
from proxy.config import load_config
from proxy.errors import UpstreamError

MSG = [{"role": "user", "content": "hi"}]


def make_app(script=None, **server):
    config = load_config(overrides={"server": server} if server else None)
    backend = ScriptedFakeBackend(script or (lambda r: "hello there"))
    return create_app(config, backend=backend, sandbox=_NoSandbox()), backend


class _NoSandbox:
    """These tests never run code; the sandbox has its own suite."""

    async def health(self):
        return {"ok": True}

    async def aclose(self):
        return None


def assert_error(r: httpx.Response, status: int, *, param=None, code=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param
    if code is not None:
        assert body["error"]["code"] == code
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "scripted-fake", "messages": MSG, "temperature": 3}, "temperature"),
        ({"model": "scripted-fake", "messages": MSG, "max_tokens": -1}, "max_tokens"),
        ({"model": "scripted-fake", "messages": MSG, "n": 1000}, "n"),
        ({"model": "scripted-fake", "messages": []}, "messages"),
        ({"model": "scripted-fake"}, None),
        ({"model": "scripted-fake", "messages": [{"role": "wizard", "content": "x"}]}, None),
        ({"model": "scripted-fake", "messages": MSG, "top_p": "high"}, "top_p"),
    ],
)
async def test_validation_errors_name_the_field(body, param):
    app, _ = make_app()
    async with AsyncTestClient(app) as c:
        r = await c.post("/v1/chat/completions", json=body)
    assert_error(r, 400, param=param)


async def test_malformed_json_and_wrong_content_type():
    app, _ = make_app()
    async with AsyncTestClient(app) as c:
        r = await c.post("/v1/chat/completions", content=b"{not json",
                         headers={"content-type": "application/json"})
        assert_error(r, 400)
        r = await c.post("/v1/chat/completions", content=b"\xff\xfe\x00garbage",
                         headers={"content-type": "application/json"})
        assert_error(r, 400)


async def test_unknown_model_route_and_method():
    app, _ = make_app()
    async with AsyncTestClient(app) as c:
        assert_error(await c.post("/v1/chat/completions", json={"model": "gpt-9", "messages": MSG}),
                     404, param="model", code="model_not_found")
        assert_error(await c.get("/v1/models/gpt-9"), 404, code="model_not_found")
        assert_error(await c.get("/v1/nothing-here"), 404)
        assert_error(await c.get("/v1/chat/completions"), 405)


async def test_body_too_large():
    app, _ = make_app(max_body_mb=0.01)
    async with AsyncTestClient(app) as c:
        big = {"model": "scripted-fake", "messages": [{"role": "user", "content": "x" * 20000}]}
        assert_error(await c.post("/v1/chat/completions", json=big), 413)


async def test_api_keys_on_every_route_but_health():
    app, _ = make_app(api_keys=["sekret"])
    async with AsyncTestClient(app) as c:
        ok_body = {"model": "scripted-fake", "messages": MSG}
        for method, path, body in [("POST", "/v1/chat/completions", ok_body),
                                   ("GET", "/v1/models", None),
                                   ("POST", "/v1/embeddings", {"model": "scripted-fake", "input": "x"})]:
            r = await c.request(method, path, json=body)
            assert_error(r, 401, code="invalid_api_key")
            r = await c.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
            assert_error(r, 401)
            r = await c.request(method, path, json=body, headers={"Authorization": "Bearer sekret"})
            assert r.status_code == 200, r.text
        assert (await c.get("/health")).status_code == 200


async def test_error_after_stream_started_is_an_sse_event():
    app, _ = make_app([UpstreamError("upstream died")])
    async with AsyncTestClient(app) as c:
        r = await c.post("/v1/chat/completions",
                         json={"model": "scripted-fake", "messages": MSG, "stream": True})
    # The fake fails after its first chunk: headers already said 200.
    lines = [l for l in r.text.split("\n\n") if l]
    assert r.status_code == 200
    assert lines[-2].startswith('data: {"error":')
    assert '"upstream_error"' in lines[-2]
    assert lines[-1] == "data: [DONE]"


async def test_error_before_first_byte_keeps_its_status():
    def fail(_):
        raise UpstreamError("upstream is down")

    app, _ = make_app(fail)
    async with AsyncTestClient(app) as c:
        r = await c.post("/v1/chat/completions",
                         json={"model": "scripted-fake", "messages": MSG, "stream": True})
    assert_error(r, 502, code="bad_gateway")


async def test_request_id_is_echoed_or_made():
    app, _ = make_app()
    async with AsyncTestClient(app) as c:
        r = await c.get("/v1/models", headers={"x-request-id": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        r = await c.get("/v1/models")
        assert r.headers["x-request-id"].startswith("req-")


async def test_openapi_schema_is_served():
    app, _ = make_app()
    async with AsyncTestClient(app) as c:
        r = await c.get("/openapi/openapi.json")
    assert r.status_code == 200
    assert "/v1/chat/completions" in r.json()["paths"]
