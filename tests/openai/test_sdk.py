"""The official openai SDK, unchanged, against the real server on the real embedded model."""

from __future__ import annotations

import openai
import pytest

PROMPT = [{"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}]


def client(server, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, **kw)


def test_models_lists_the_served_model(live_server):
    ids = [m.id for m in client(live_server).models.list().data]
    assert live_server.model in ids
    assert client(live_server).models.retrieve(live_server.model).id == live_server.model


def test_sync_non_stream(live_server):
    r = client(live_server).chat.completions.create(
        model=live_server.model, messages=PROMPT, max_tokens=48, temperature=0
    )
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert "def add" in r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert 0 < r.usage.completion_tokens <= 48
    assert r.usage.prompt_tokens > 10
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_sync_stream_with_usage(live_server):
    stream = client(live_server).chat.completions.create(
        model=live_server.model, messages=PROMPT, max_tokens=24, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"] or finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert text.strip()


async def test_async_stream_and_non_stream_agree(live_server):
    aclient = openai.AsyncOpenAI(base_url=live_server.base_url, api_key="unused", max_retries=0)
    whole = await aclient.chat.completions.create(
        model=live_server.model, messages=PROMPT, max_tokens=20, temperature=0
    )
    stream = await aclient.chat.completions.create(
        model=live_server.model, messages=PROMPT, max_tokens=20, temperature=0, stream=True
    )
    pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert "".join(pieces) == whole.choices[0].message.content
    await aclient.close()


def test_legacy_completions(live_server):
    r = client(live_server).completions.create(
        model=live_server.model, prompt="def fibonacci(n):", max_tokens=16, temperature=0
    )
    assert r.object == "text_completion"
    assert r.choices[0].text
    assert r.usage.completion_tokens > 0


def test_embeddings(live_server):
    r = client(live_server).embeddings.create(model=live_server.model, input=["def f(): pass", "hello"])
    assert len(r.data) == 2
    v = r.data[0].embedding
    assert len(v) > 100
    assert abs(sum(x * x for x in v) - 1.0) < 1e-3


def test_json_response_format(live_server):
    import json

    r = client(live_server).chat.completions.create(
        model=live_server.model, max_tokens=60, temperature=0,
        messages=[{"role": "user", "content": "Give a JSON object with a key name set to Ada."}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_n_choices(live_server):
    # Seeds are best effort, as with OpenAI: llama.cpp's prompt-cache reuse changes logits in
    # the last bits, so identical seeds need not give identical text across requests.
    r = client(live_server).chat.completions.create(
        model=live_server.model, messages=PROMPT, max_tokens=8, n=2, temperature=0.9, seed=7
    )
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content for c in r.choices)
    assert 2 <= r.usage.completion_tokens <= 16


def test_sdk_surfaces_errors_as_exceptions(live_server):
    with pytest.raises(openai.NotFoundError) as info:
        client(live_server).chat.completions.create(model="no-such-model", messages=PROMPT)
    assert info.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        client(live_server).chat.completions.create(
            model=live_server.model, messages=PROMPT, temperature=5
        )
    assert info.value.body["param"] == "temperature"


def test_sdk_timeout_is_raised_and_the_server_moves_on(live_server):
    # A client timeout is a disconnect for the server: the generation stops and the next
    # request is served at once.
    with pytest.raises(openai.APITimeoutError):
        client(live_server, timeout=0.5).chat.completions.create(
            model=live_server.model, messages=PROMPT, max_tokens=400, temperature=0)
    r = client(live_server, timeout=120).chat.completions.create(
        model=live_server.model, messages=PROMPT, max_tokens=8, temperature=0)
    assert r.choices[0].message.content
