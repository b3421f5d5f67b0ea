"""End to end: the real server on the real embedded model, the real sandbox, the openai SDK.

Each pipeline run on the 0.5B model on 2 CPU cores takes tens of seconds: one easy task,
streamed and not streamed, plus the cheap routing checks.
"""

from __future__ import annotations

import openai
import pytest

from proxy.bench.grading import extract_code
from sandbox import ExecRequest

TASK = (
    "Complete the following Python function. Return the whole function in one ```python "
    "code block.\n\n```python\ndef add(a: int, b: int) -> int:\n"
    '    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    >>> add(-1, 1)\n    0\n'
    '    """\n```'
)
HIDDEN = ["assert add(10, 20) == 30", "assert add(-5, -5) == -10", "assert add(0, 0) == 0"]


@pytest.fixture(scope="module")
def client(live_server):
    return openai.OpenAI(base_url=live_server.base_url, api_key="unused", timeout=600)


async def passes_hidden(sandbox, answer: str) -> bool:
    code, _ = extract_code(answer, "python")
    result = await sandbox.run(ExecRequest(code=code, tests=HIDDEN, timeout_s=10))
    return result.tests_passed == len(HIDDEN)


def test_models_list_the_pipeline_variants(client, live_server):
    ids = {m.id for m in client.models.list()}
    assert {live_server.model, "atlas", "atlas-fast"} <= ids


async def test_pipeline_non_streaming(client, sandbox):
    response = client.chat.completions.create(
        model="atlas",
        messages=[{"role": "user", "content": TASK}],
        extra_body={"atlas": {"trace": True}},
    )
    answer = response.choices[0].message.content
    assert "```python" in answer and await passes_hidden(sandbox, answer)
    assert response.choices[0].finish_reason == "stop"
    trace = response.model_extra["atlas_trace"]
    assert trace["problem"]["entry_point"] == "add" and trace["candidates"]
    usage = response.usage
    stages = usage.model_extra["atlas_stages"]
    assert usage.prompt_tokens == sum(s["prompt_tokens"] for s in stages.values()) > 0
    assert usage.completion_tokens == sum(s["completion_tokens"] for s in stages.values()) > 0


async def test_pipeline_streaming(client, sandbox):
    stream = client.chat.completions.create(
        model="atlas",
        messages=[{"role": "user", "content": TASK}],
        stream=True,
        stream_options={"include_usage": True},
    )
    order, content, usage = [], "", None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            reasoning = (choice.delta.model_extra or {}).get("reasoning_content")
            if reasoning:
                order.append("reasoning")
            if choice.delta.content:
                order.append("content")
                content += choice.delta.content
    assert order and order[0] == "reasoning"  # life at once: progress before the answer
    assert "content" in order and order.index("content") > order.index("reasoning")
    assert await passes_hidden(sandbox, content)
    assert usage is not None and usage.completion_tokens > 0


def test_chat_passes_through_on_a_pipeline_id(client):
    response = client.chat.completions.create(
        model="atlas",
        messages=[{"role": "user", "content": "Say hello in one word."}],
        max_tokens=8,
        extra_body={"atlas": {"trace": True}},
    )
    assert response.choices[0].message.content
    assert (response.model_extra or {}).get("atlas_trace") is None


def test_bad_override_is_a_400_naming_the_key(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="atlas",
            messages=[{"role": "user", "content": TASK}],
            extra_body={"atlas": {"k": "many"}},
        )
    assert "atlas.k" in str(err.value)
