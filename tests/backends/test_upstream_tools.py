"""Tool calls relayed intact through the upstream backend, streamed and whole.

llama_cpp.server on the default GGUF does not emit OpenAI tool calls, so this uses a fake
upstream (``tests/fake_upstream.py``, named as such): a protocol edge case, not a model
test. It also serves garbage and slow answers for the fault tests.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import free_port, start_server, stop_server
from tests.fake_upstream import RECEIVED, TOOLS, FakeUpstreamServer


@pytest.fixture(scope="module")
def fake_upstream():
    server = FakeUpstreamServer(free_port()).start()
    yield server.url
    server.stop()


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
