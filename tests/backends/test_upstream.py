"""The upstream backend against a real llama.cpp OpenAI server on the same GGUF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import openai
import pytest

from proxy.model_store import ensure_default_model
from tests.conftest import free_port, start_server, stop_server

MSG = [{"role": "user", "content": "Write a Python function that reverses a string."}]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "llama.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(ensure_default_model()),
         "--port", str(port), "--n_ctx", "4096", "--model_alias", "upstream-qwen"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield proc, url
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def proxy_on_upstream(llama_server, tmp_path_factory):
    _, url = llama_server
    server = start_server(tmp_path_factory.mktemp("up"), "--upstream", url, name="upstream")
    yield server
    stop_server(server.process)


def test_upstream_non_stream_and_stream(proxy_on_upstream):
    client = openai.OpenAI(base_url=proxy_on_upstream.base_url, api_key="x", max_retries=0)
    assert proxy_on_upstream.model == "upstream-qwen"
    # llama.cpp reuses the cached prompt prefix: the first request evaluates the whole prompt,
    # later ones only its tail, and greedy output can differ between the two paths (it did,
    # from the third token). A warm-up puts both compared requests on the same path, so the
    # equality below tests the stream's reassembly, not llama.cpp's float noise.
    client.chat.completions.create(model="upstream-qwen", messages=MSG, max_tokens=24,
                                   temperature=0)
    r = client.chat.completions.create(model="upstream-qwen", messages=MSG, max_tokens=24,
                                       temperature=0)
    assert r.choices[0].message.content
    assert r.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(
        model="upstream-qwen", messages=MSG, max_tokens=24, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == r.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_upstream_killed_mid_stream_ends_stream_cleanly_then_502(llama_server,
                                                                  proxy_on_upstream):
    proc, _ = llama_server
    body = {"model": "upstream-qwen", "messages": [{"role": "user", "content":
            "Count from 1 to 500, one number per line."}], "max_tokens": 1500,
            "temperature": 0, "stream": True}
    events = []
    with httpx.stream("POST", f"{proxy_on_upstream.base_url}/chat/completions", json=body,
                      timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:])
            if len(events) == 5:
                os.killpg(proc.pid, signal.SIGKILL)
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["type"] == "upstream_error"
    r = httpx.post(f"{proxy_on_upstream.base_url}/chat/completions", timeout=60,
                   json={**body, "stream": False, "max_tokens": 4})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "bad_gateway"
    # The proxy itself is still healthy enough to answer its own routes.
    assert httpx.get(f"{proxy_on_upstream.base_url}/models", timeout=10).status_code == 200
