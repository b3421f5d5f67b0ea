"""Pipeline test helpers: the real sandbox, and a scripted backend that answers by stage.

Stage tests use ``ScriptedFakeBackend`` (a fake, named so) for control flow, and the real
sandbox, which is cheap here, for execution.
"""

from __future__ import annotations

from typing import Callable

import pytest

from proxy.backends.base import ModelInfo
from proxy.backends.fake import ScriptedFakeBackend
from proxy.openai.protocol import ChatCompletionRequest, ChatMessage, CompletionRequest
from sandbox import LocalSandbox

ADD_STUB = '''def add(a, b):
    """Return the sum of a and b.
    >>> add(1, 2)
    3
    >>> add(-1, 1)
    0
    """
'''

GOOD = "```python\ndef add(a, b):\n    return a + b\n```\nAdds the two numbers."
BAD = "```python\ndef add(a, b):\n    return a - b\n```\nSubtracts."
TESTS = "```python\nassert add(2, 2) == 4\nassert add(0, 5) == 5\nassert add(1, 2) == 4\n```"


def stage_of(request: ChatCompletionRequest | CompletionRequest) -> str:
    """Which pipeline stage sent this request, read from the prompt's wording."""
    if isinstance(request, CompletionRequest):
        text = request.prompt if isinstance(request.prompt, str) else ""
    else:
        text = request.messages[-1].text()
    if "test cases for" in text or "# Tests\nassert" in text:
        return "selftests"
    if "Analyse the failure" in text or "Why it fails" in text:
        return "critique"
    if "gave these wrong results" in text or "# Corrected version" in text:
        return "repair"
    if "different approaches" in text:
        return "plans"
    if "key observations" in text:
        return "observations"
    if "Implement this approach" in text or "single ```" in text or "# Approach" in text:
        return "candidate"
    return "probe"


def by_stage(
    replies: dict[str, str | list[str] | BaseException], default: str = BAD
) -> Callable[[ChatCompletionRequest | CompletionRequest], str]:
    """A script answering per stage; a list is consumed in order (then its last item repeats)."""
    queues = {k: (list(v) if isinstance(v, list) else v) for k, v in replies.items()}

    def reply(request):
        value = queues.get(stage_of(request), default)
        if isinstance(value, list):
            return value.pop(0) if len(value) > 1 else value[0]
        return value

    return reply


def user(text: str, model: str = "atlas", **kw) -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model=model, messages=[ChatMessage(role="user", content=text)], **kw
    )


def fake(script, **kw) -> ScriptedFakeBackend:
    info = kw.pop("info", None) or ModelInfo(id="scripted-fake", context_length=4096)
    return ScriptedFakeBackend(script, info=info, **kw)


@pytest.fixture(scope="session")
async def sandbox():
    sb = LocalSandbox()
    yield sb
    await sb.aclose()
