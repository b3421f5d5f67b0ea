"""Tool calls relayed intact through the upstream backend, streamed and whole.

llama_cpp.server on the default GGUF does not emit OpenAI tool calls, so this uses a fake
upstream (named as such) that answers like a tool-calling OpenAI server: a protocol edge
case, not a model test. It also serves garbage and slow answers for the fault tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import openai
import pytest
import uvicorn

from tests.conftest import free_port, start_server, stop_server

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
ARGS = ['{"ci', 'ty": "Par', 'is"}']
RECEIVED: list[dict] = []


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "fake-tools",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def fake_tool_calling_upstream(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"].endswith("/models"):
        payload = {"object": "list", "data": [{"id": "fake-tools", "object": "model",
                                              "created": 1, "owned_by": "me"}]}
        await _send(send, 200, json.dumps(payload).encode(), "application/json")
        return
    request = json.loads(body)
    RECEIVED.append(request)
    content = request["messages"][-1]["content"]
    if content == "garbage":
        await _send(send, 200, b"<html>not json</html>", "application/json")
        return
    if content == "slow":
        await asyncio.sleep(30)
    if not request.get("stream"):
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "".join(ARGS)}}]}
        payload = {"id": "x", "object": "chat.completion", "created": 1, "model": "fake-tools",
                   "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}
        await _send(send, 200, json.dumps(payload).encode(), "application/json")
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    parts = [_chunk({"role": "assistant", "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]})]
    parts += [_chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in ARGS]
    parts += [_chunk({}, "tool_calls"), b"data: [DONE]\n\n"]
    for part in parts:
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _send(send, status, body, ctype):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def fake_upstream():
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake_tool_calling_upstream, port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def proxy(fake_upstream, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("tools"), "--upstream", fake_upstream,
                          env={"ATLAS_UPSTREAM_TIMEOUT_S": "3", "ATLAS_UPSTREAM_MAX_RETRIES": "0"},
                          name="tools")
    yield server
    stop_server(server.process)


def test_tools_and_tool_choice_reach_upstream_intact(proxy):
    client = openai.OpenAI(base_url=proxy.base_url, api_key="x", max_retries=0)
    choice = {"type": "function", "function": {"name": "get_weather"}}
    r = client.chat.completions.create(model="fake-tools", tools=TOOLS, tool_choice=choice,
                                       messages=[{"role": "user", "content": "Paris?"}])
    assert RECEIVED[-1]["tools"] == TOOLS
    assert RECEIVED[-1]["tool_choice"] == choice
    call = r.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1", "get_weather", '{"city": "Paris"}')
    assert r.choices[0].finish_reason == "tool_calls"
    assert r.usage.total_tokens == 12


def test_streamed_tool_call_deltas_are_relayed(proxy):
    client = openai.OpenAI(base_url=proxy.base_url, api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="fake-tools", tools=TOOLS, stream=True,
        messages=[{"role": "user", "content": "Paris?"}]))
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert deltas[0][0].id == "call_1" and deltas[0][0].function.name == "get_weather"
    assert "".join(d[0].function.arguments or "" for d in deltas) == '{"city": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_upstream_garbage_is_a_clean_502(proxy):
    r = httpx.post(f"{proxy.base_url}/chat/completions", timeout=30, json={
        "model": "fake-tools", "messages": [{"role": "user", "content": "garbage"}]})
    assert r.status_code == 502
    assert r.json()["error"]["type"] == "upstream_error"


def test_upstream_slower_than_timeout_is_a_clean_504(proxy):
    r = httpx.post(f"{proxy.base_url}/chat/completions", timeout=30, json={
        "model": "fake-tools", "messages": [{"role": "user", "content": "slow"}]})
    assert r.status_code == 504
    assert r.json()["error"]["code"] == "gateway_timeout"
