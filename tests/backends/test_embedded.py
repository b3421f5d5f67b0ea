"""The embedded backend's own knobs, on the real default model."""

from __future__ import annotations

from proxy.backends.embedded import EmbeddedBackend
from proxy.bench.datasets import load_tasks
from proxy.config import EmbeddedConfig, ModelConfig
from proxy.events import Content
from proxy.openai.protocol import ChatCompletionRequest, ChatMessage
from proxy.pipeline.problem import extract
from proxy.pipeline.prompts import code as code_prompt


def _request(messages: list[dict], max_tokens: int) -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model="m", messages=[ChatMessage(**m) for m in messages], temperature=0.0,
        max_tokens=max_tokens, seed=0,
    )


async def _text(backend: EmbeddedBackend, messages: list[dict], max_tokens: int = 160) -> str:
    events = backend.chat(_request(messages, max_tokens))
    return "".join([e.text async for e in events if isinstance(e, Content)])


async def test_without_prefix_reuse_greedy_output_depends_on_the_request_alone():
    # A case measured here (docs/pipeline.md, "Reproducibility"): the pipeline's greedy probe
    # for MBPP/516, run again right after the plain request for the same task. With prefix
    # reuse the second probe is evaluated partly from the KV cache the plain request left
    # and came out different (2 of 4 such tasks); without reuse it must be identical.
    (task,) = [t for t in load_tasks("mbpp", "validation") if t.task_id == "MBPP/516"]
    plain = task.messages
    probe = code_prompt(extract(_request(plain, 1)), True).messages
    backend = EmbeddedBackend(EmbeddedConfig(reuse_prefix=False), ModelConfig())
    try:
        first = await _text(backend, probe)
        await _text(backend, plain, 64)
        again = await _text(backend, probe)
    finally:
        await backend.aclose()
    assert "def radix_sort" in first
    assert again == first
