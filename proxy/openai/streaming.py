"""Events → OpenAI responses: one SSE renderer and one fold, so the two cannot drift apart."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Callable

import msgspec
import structlog

from proxy import events as ev
from proxy.errors import ProxyError
from proxy.openai import protocol as p
from proxy.openai.errors import error_body

log = structlog.get_logger()
_encode = msgspec.json.Encoder().encode

KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"


def _sse(payload: msgspec.Struct) -> bytes:
    return b"data: " + _encode(payload) + b"\n\n"


def _error_event(exc: Exception) -> bytes:
    if isinstance(exc, ProxyError):
        log.warning("stream_error", status=exc.status, error=exc.message)
    else:  # a bug below us must still end the stream cleanly
        log.error("stream_crashed", exc_info=exc)
        exc = ProxyError("internal error")
    return b"data: " + _encode(error_body(exc)) + b"\n\n"


class _Tally:
    """Usage as reported by the producer, summed (the pipeline reports several)."""

    def __init__(self) -> None:
        self.prompt = 0
        self.completion = 0
        self.stages: dict[str, dict[str, int]] | None = None

    def add(self, usage: ev.Usage) -> None:
        self.prompt += usage.prompt_tokens
        self.completion += usage.completion_tokens
        if usage.stages:
            self.stages = {**(self.stages or {}), **usage.stages}

    def wire(self) -> p.Usage:
        return p.Usage(
            prompt_tokens=self.prompt,
            completion_tokens=self.completion,
            total_tokens=self.prompt + self.completion,
            atlas_stages=self.stages,
        )


async def with_keepalive(
    events: AsyncIterator[ev.Event], interval_s: float
) -> AsyncIterator[ev.Event | None]:
    """Yield events, and ``None`` whenever the source has been silent for ``interval_s``.

    The pending ``__anext__`` survives the timeout (``asyncio.wait`` does not cancel it), so a
    slow model is never interrupted just because we pinged the client.
    """
    iterator = aiter(events)
    pending: asyncio.Task | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval_s)
            if not done:
                yield None
                continue
            task, pending = pending, None
            try:
                yield task.result()
            except StopAsyncIteration:
                return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


async def render_chat_sse(
    events: AsyncIterator[ev.Event],
    *,
    completion_id: str,
    model: str,
    include_usage: bool,
    keepalive_s: float,
    on_usage: Callable[[p.Usage], None] | None = None,
) -> AsyncIterator[bytes]:
    created = p.now()
    started: set[int] = set()
    tally = _Tally()

    def chunk(index: int, delta: p.Delta, finish: str | None = None) -> bytes:
        if index not in started:
            started.add(index)
            delta.role = "assistant"
        choice = p.ChunkChoice(index=index, delta=delta, finish_reason=finish)
        return _sse(
            p.ChatCompletionChunk(id=completion_id, model=model, created=created, choices=[choice])
        )

    try:
        async for event in with_keepalive(events, keepalive_s):
            match event:
                case None:
                    yield KEEPALIVE
                case ev.Content(text, index):
                    yield chunk(index, p.Delta(content=text))
                case ev.Reasoning(text, index):
                    yield chunk(index, p.Delta(reasoning_content=text))
                case ev.ToolCallDelta():
                    fn = p.ToolCallFunction(name=event.name, arguments=event.arguments)
                    call = p.DeltaToolCall(
                        index=event.call_index, id=event.id, type=event.type, function=fn
                    )
                    yield chunk(event.index, p.Delta(tool_calls=[call]))
                case ev.Finish(reason, index):
                    yield chunk(index, p.Delta(), finish=reason)
                case ev.Usage():
                    tally.add(event)
                case ev.Trace(data):
                    yield _sse(
                        p.ChatCompletionChunk(
                            id=completion_id, model=model, created=created, choices=[],
                            atlas_trace=data,
                        )
                    )
        usage = tally.wire()
        if on_usage:
            on_usage(usage)
        if include_usage:
            yield _sse(
                p.ChatCompletionChunk(
                    id=completion_id, model=model, created=created, choices=[], usage=usage
                )
            )
    except Exception as exc:  # after the first byte, errors are SSE events
        yield _error_event(exc)
    yield DONE


async def fold_chat(
    events: AsyncIterator[ev.Event], *, completion_id: str, model: str, n: int = 1
) -> p.ChatCompletion:
    content: dict[int, list[str]] = {i: [] for i in range(n)}
    reasoning: dict[int, list[str]] = {i: [] for i in range(n)}
    calls: dict[int, dict[int, p.ToolCall]] = {i: {} for i in range(n)}
    finish: dict[int, str | None] = {i: None for i in range(n)}
    tally = _Tally()
    trace = None
    async for event in events:
        match event:
            case ev.Content(text, index):
                content.setdefault(index, []).append(text)
            case ev.Reasoning(text, index):
                reasoning.setdefault(index, []).append(text)
            case ev.ToolCallDelta():
                slot = calls.setdefault(event.index, {})
                call = slot.setdefault(event.call_index, p.ToolCall(function=p.ToolCallFunction()))
                call.id = event.id or call.id
                call.type = event.type or call.type
                call.function.name = event.name or call.function.name
                call.function.arguments += event.arguments
            case ev.Finish(reason, index):
                finish[index] = reason
            case ev.Usage():
                tally.add(event)
            case ev.Trace(data):
                trace = data
    choices = []
    for i in sorted(set(content) | set(finish)):
        tool_calls = [calls[i][k] for k in sorted(calls.get(i, {}))] or None
        text = "".join(content.get(i, []))
        message = p.ChoiceMessage(
            content=text if text or not tool_calls else None,
            reasoning_content="".join(reasoning.get(i, [])) or None,
            tool_calls=tool_calls,
        )
        choices.append(p.Choice(index=i, message=message, finish_reason=finish.get(i) or "stop"))
    return p.ChatCompletion(
        id=completion_id, model=model, choices=choices, usage=tally.wire(), atlas_trace=trace
    )


async def render_completion_sse(
    events: AsyncIterator[ev.Event],
    *,
    completion_id: str,
    model: str,
    include_usage: bool,
    keepalive_s: float,
) -> AsyncIterator[bytes]:
    created = p.now()
    tally = _Tally()

    def chunk(index: int, text: str, finish: str | None) -> bytes:
        choice = p.CompletionChoice(index=index, text=text, finish_reason=finish)
        return _sse(p.Completion(id=completion_id, model=model, created=created, choices=[choice]))

    try:
        async for event in with_keepalive(events, keepalive_s):
            match event:
                case None:
                    yield KEEPALIVE
                case ev.Content(text, index):
                    yield chunk(index, text, None)
                case ev.Finish(reason, index):
                    yield chunk(index, "", reason)
                case ev.Usage():
                    tally.add(event)
        if include_usage:
            yield _sse(
                p.Completion(
                    id=completion_id, model=model, created=created, choices=[], usage=tally.wire()
                )
            )
    except Exception as exc:  # after the first byte, errors are SSE events
        yield _error_event(exc)
    yield DONE


async def fold_completion(
    events: AsyncIterator[ev.Event], *, completion_id: str, model: str, n: int = 1
) -> p.Completion:
    text: dict[int, list[str]] = {i: [] for i in range(n)}
    finish: dict[int, str | None] = {}
    tally = _Tally()
    async for event in events:
        match event:
            case ev.Content(t, index):
                text.setdefault(index, []).append(t)
            case ev.Finish(reason, index):
                finish[index] = reason
            case ev.Usage():
                tally.add(event)
    choices = [
        p.CompletionChoice(index=i, text="".join(text[i]), finish_reason=finish.get(i, "stop"))
        for i in sorted(text)
    ]
    return p.Completion(id=completion_id, model=model, choices=choices, usage=tally.wire())
