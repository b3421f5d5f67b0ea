"""A fake OpenAI-compatible upstream (named as such), for protocol edge cases and faults.

It answers like a tool-calling OpenAI server: whole and streamed tool calls; the user
message "garbage" gets a non-JSON body and "slow" an answer after 30 s. Not a model test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import uvicorn

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


class FakeUpstreamServer:
    """The fake upstream on a port of our choosing, in a thread; start() and stop()."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self._server = uvicorn.Server(uvicorn.Config(fake_tool_calling_upstream, port=port,
                                                     log_level="error"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> "FakeUpstreamServer":
        self._thread.start()
        while not self._server.started:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
