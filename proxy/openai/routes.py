"""HTTP routes: thin. Each decodes its wire type, asks the services for events, and renders.

Streaming responses prime the event iterator briefly before answering, so an error that
happens at once (upstream down, bad parameter found by the backend) still gets its proper
HTTP status; after the first byte, errors become SSE error events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
from typing import Any, AsyncIterator, Awaitable, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from proxy.errors import InvalidRequest, ModelNotFound
from proxy.events import Event
from proxy.openai import protocol as p
from proxy.openai.streaming import (
    fold_chat,
    fold_completion,
    render_chat_sse,
    render_completion_sse,
)
from proxy.services import Services

T = TypeVar("T")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# How long a stream may wait for its first event before headers must go out: long enough for
# an unreachable upstream (connect error, one client retry) to get its HTTP status. It delays
# only the headers of a slow first event, never content.
_PRIME_S = 1.0


def _json(obj: Any, status: int = 200) -> Response:
    return Response(content=msgspec.json.encode(obj), status_code=status,
                    media_type="application/json")


async def _until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run ``work`` but cancel it if the client goes away (non-streaming requests)."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise asyncio.CancelledError("client disconnected")
        return task.result()
    finally:
        watcher.cancel()


async def _primed(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """Fetch the first event now if it comes quickly; raise its error before any byte."""
    iterator = aiter(events)
    first = asyncio.ensure_future(anext(iterator))
    done, _ = await asyncio.wait({first}, timeout=_PRIME_S)
    if done and isinstance(first.exception(), StopAsyncIteration):
        async def empty() -> AsyncIterator[Event]:
            return
            yield
        return empty()
    if done and first.exception() is not None:
        raise first.exception()  # type: ignore[misc]

    async def rest() -> AsyncIterator[Event]:
        try:
            try:
                yield await first
            except StopAsyncIteration:
                return
            async for event in iterator:
                yield event
        finally:
            first.cancel()
            aclose = getattr(iterator, "aclose", None)
            if aclose:
                await aclose()

    return rest()


class OpenAIController(Controller):
    path = "/v1"

    @post("/chat/completions", status_code=200)
    async def chat_completions(
        self, request: Request, data: JSONBody[p.ChatCompletionRequest], services: NamedDependency[Services]
    ) -> Response:
        events, model = services.chat(data)
        cid = p.new_id("chatcmpl")
        log_usage = lambda usage: request.scope["state"].setdefault(  # noqa: E731
            "log_extra", {}).update(prompt_tokens=usage.prompt_tokens,
                                    completion_tokens=usage.completion_tokens)
        if data.stream:
            include = bool(data.stream_options and data.stream_options.include_usage)
            body = render_chat_sse(
                await _primed(events), completion_id=cid, model=model, include_usage=include,
                keepalive_s=services.config.server.keepalive_s, on_usage=log_usage,
            )
            return Stream(body, media_type="text/event-stream", headers=_SSE_HEADERS)
        result = await _until_disconnect(
            request, fold_chat(events, completion_id=cid, model=model, n=data.n)
        )
        log_usage(result.usage)
        return _json(result)

    @post("/completions", status_code=200)
    async def completions(
        self, request: Request, data: JSONBody[p.CompletionRequest], services: NamedDependency[Services]
    ) -> Response:
        backend = services.backend_for(data.model)
        events = backend.complete(data)
        cid = p.new_id("cmpl")
        model = data.model
        if data.stream:
            include = bool(data.stream_options and data.stream_options.include_usage)
            body = render_completion_sse(
                await _primed(events), completion_id=cid, model=model, include_usage=include,
                keepalive_s=services.config.server.keepalive_s,
            )
            return Stream(body, media_type="text/event-stream", headers=_SSE_HEADERS)
        result = await _until_disconnect(
            request, fold_completion(events, completion_id=cid, model=model, n=data.n)
        )
        return _json(result)

    @post("/embeddings", status_code=200)
    async def embeddings(self, data: JSONBody[p.EmbeddingRequest], services: NamedDependency[Services]) -> Response:
        backend = services.backend_for(data.model)
        texts = _embedding_inputs(data.input)
        result = await backend.embed(texts)
        items = []
        for i, vector in enumerate(result.vectors):
            vector = _normalise(vector)
            if data.dimensions:
                vector = _normalise(vector[: data.dimensions])
            value: list[float] | str = vector
            if data.encoding_format == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            items.append(p.EmbeddingData(index=i, embedding=value))
        usage = p.Usage(prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens)
        return _json(p.EmbeddingResponse(data=items, model=data.model, usage=usage))

    @get("/models")
    async def list_models(self, services: NamedDependency[Services]) -> Response:
        return _json(p.ModelList(data=services.models()))

    @get("/models/{model_id:path}")
    async def get_model(self, model_id: FromPath[str], services: NamedDependency[Services]) -> Response:
        model_id = model_id.lstrip("/")
        for model in services.models():
            if model.id == model_id:
                return _json(model)
        raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")


def _embedding_inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidRequest("Token-id inputs are not supported; send text.", param="input")


def _normalise(vector: list[float]) -> list[float]:
    # OpenAI embeddings are unit length; clients compute cosine similarity as a dot product.
    norm = sum(v * v for v in vector) ** 0.5
    return [v / norm for v in vector] if norm else vector


@get("/health", opt={"public": True})
async def health(services: NamedDependency[Services]) -> Response:
    # 503 when the model cannot answer (load balancers read the status), with the same
    # document, so an operator sees why.
    status = await services.health()
    return _json(status, status=200 if status["ok"] else 503)
