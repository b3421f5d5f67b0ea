"""LiteLLM as a client (`openai/<model>` with `api_base`), as its users point it at us."""

from __future__ import annotations

import os

# LiteLLM fetches a model price map from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
import pytest  # noqa: E402

PROMPT = [{"role": "user", "content": "Say hi."}]


def ask(server, model: str, **kw):
    return litellm.completion(model=f"openai/{model}", api_base=server.base_url,
                              api_key="unused", messages=kw.pop("messages", PROMPT),
                              max_retries=0, **kw)


def test_litellm_non_stream_and_stream_agree(live_server):
    whole = ask(live_server, live_server.model, max_tokens=12, temperature=0)
    assert whole.choices[0].message.content
    assert whole.usage.completion_tokens > 0
    parts, usage = [], None
    for chunk in ask(live_server, live_server.model, max_tokens=12, temperature=0, stream=True,
                     stream_options={"include_usage": True}):
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    assert "".join(parts) == whole.choices[0].message.content
    assert usage.total_tokens == whole.usage.total_tokens


def test_litellm_maps_our_errors_to_its_exceptions(live_server):
    with pytest.raises(litellm.NotFoundError):
        ask(live_server, "no-such-model", max_tokens=4)
    with pytest.raises(litellm.BadRequestError):
        ask(live_server, live_server.model, max_tokens=4, temperature=5)


def test_litellm_streams_the_pipeline_with_its_progress(live_server):
    # extra_body is how LiteLLM users pass our per-request knobs; kept small for the CPU.
    stream = ask(live_server, "atlas", stream=True, max_tokens=200, temperature=0,
                 extra_body={"atlas": {"k": 1, "repair": False}},
                 messages=[{"role": "user", "content":
                            "Write a Python function double(x) that returns 2*x.\n"
                            ">>> double(3)\n6"}])
    reasoning, content = [], []
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            reasoning.append(delta.reasoning_content)
        if delta.content:
            content.append(delta.content)
    assert reasoning, "pipeline progress reaches LiteLLM as reasoning_content"
    assert "def double" in "".join(content)
