"""The typed event stream that passthrough and pipeline both produce.

One renderer turns events into SSE chunks, one fold turns them into a single response
(``proxy/openai/streaming.py``), so streaming and non-streaming answers cannot drift apart
and tests can assert on events without HTTP. Errors are raised as ``ProxyError`` from the
iterator, not sent as events; the renderer turns them into an SSE error event when the
stream has already started.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Union

import msgspec


class Content(msgspec.Struct, frozen=True):
    text: str
    index: int = 0


class Reasoning(msgspec.Struct, frozen=True):
    """Thinking or pipeline progress, rendered as ``delta.reasoning_content``."""

    text: str
    index: int = 0


class ToolCallDelta(msgspec.Struct, frozen=True, kw_only=True):
    index: int = 0  # choice index
    call_index: int  # position of the call within the message
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: str = ""


class Finish(msgspec.Struct, frozen=True):
    reason: str  # "stop" | "length" | "tool_calls" | ...
    index: int = 0


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stages: dict[str, dict[str, int]] | None = None


class Trace(msgspec.Struct, frozen=True):
    """The pipeline's trace, attached to the response when the request asked for it."""

    data: dict[str, Any]


Event = Union[Content, Reasoning, ToolCallDelta, Finish, Usage, Trace]
EventStream = AsyncIterator[Event]
