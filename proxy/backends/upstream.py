"""The upstream backend: any OpenAI-compatible server (llama-server, vLLM, Ollama, a cloud API).

Requests are relayed with ``openai.AsyncOpenAI``; stream chunks are turned into events as
they arrive (tool-call deltas included, untouched), and the SDK's exceptions are translated
here, once, into the proxy's own errors.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import structlog

from proxy.backends.base import Embeddings, ModelInfo
from proxy.config import ModelConfig, UpstreamConfig
from proxy.errors import (
    BackendUnavailable,
    InvalidRequest,
    ModelNotFound,
    ProxyError,
    Unsupported,
    UpstreamError,
    UpstreamTimeout,
)
from proxy.events import Content, EventStream, Finish, Reasoning, ToolCallDelta, Usage
from proxy.openai.protocol import ChatCompletionRequest, CompletionRequest

log = structlog.get_logger()

# Fields we pass on; anything else in our request type is ours (e.g. `atlas`).
_CHAT_FIELDS = (
    "messages temperature top_p max_tokens max_completion_tokens stop seed n presence_penalty "
    "frequency_penalty logit_bias response_format tools tool_choice parallel_tool_calls user"
).split()
_COMPLETION_FIELDS = (
    "prompt suffix max_tokens temperature top_p stop seed n echo presence_penalty "
    "frequency_penalty logit_bias user"
).split()


def translate(exc: Exception) -> ProxyError:
    """Map an openai SDK exception to the proxy's error hierarchy."""
    if isinstance(exc, ProxyError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeout("The upstream model server timed out.")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(f"The upstream model server is unreachable: {exc.__cause__ or exc}")
    if isinstance(exc, openai.APIStatusError):
        message = _upstream_message(exc)
        if exc.status_code in (400, 422):
            return InvalidRequest(f"Upstream rejected the request: {message}")
        if exc.status_code == 404:
            return ModelNotFound(f"Upstream: {message}")
        if exc.status_code in (429, 503):
            err = BackendUnavailable(f"Upstream is overloaded: {message}")
            return err
        return UpstreamError(f"Upstream error {exc.status_code}: {message}")
    if isinstance(exc, (httpx.HTTPError, openai.APIError, ValueError)):
        return UpstreamError(f"Bad response from the upstream model server: {exc}")
    return UpstreamError(f"Upstream failure: {type(exc).__name__}")


def _upstream_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
    return str(exc.message)[:500]


class UpstreamBackend:
    def __init__(self, cfg: UpstreamConfig, model_cfg: ModelConfig, *, model: str,
                 context_length: int = 0) -> None:
        self._cfg = cfg
        self._client = openai.AsyncOpenAI(
            base_url=cfg.base_url,
            api_key=cfg.api_key or "none",
            timeout=httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s),
            max_retries=cfg.max_retries,
        )
        self.upstream_model = model
        thinking = None
        if model_cfg.thinking not in ("auto", "none"):
            open_, _, close = model_cfg.thinking.partition(",")
            thinking = (open_.strip(), close.strip())
        self._info = ModelInfo(
            id=model_cfg.id or model,
            context_length=context_length,
            owned_by="upstream",
            has_chat_template=True,
            thinking=thinking,
            fingerprint=f"upstream:{model}",
            description=f"{model} at {cfg.base_url}",
            concurrency=4,
        )

    @classmethod
    async def connect(cls, cfg: UpstreamConfig, model_cfg: ModelConfig) -> "UpstreamBackend":
        """Find the upstream model; an unreachable upstream at start is not fatal (it may come
        up later), as long as the model id is configured."""
        model, context = cfg.model, 0
        client = openai.AsyncOpenAI(base_url=cfg.base_url, api_key=cfg.api_key or "none",
                                    timeout=cfg.connect_timeout_s, max_retries=0)
        try:
            models = await client.models.list()
            entries = [m for m in models.data]
            if not model and entries:
                model = entries[0].id
            for m in entries:
                if m.id == model:
                    extra = m.model_extra or {}
                    meta = extra.get("meta") or {}
                    context = int(extra.get("context_length") or extra.get("max_model_len")
                                  or meta.get("n_ctx_train") or 0)
        except Exception as exc:
            log.warning("upstream_unreachable_at_start", base_url=cfg.base_url,
                        error=str(translate(exc)))
        finally:
            await client.close()
        if not model:
            raise ValueError(
                f"upstream.model is empty and {cfg.base_url} could not list its models"
            )
        return cls(cfg, model_cfg, model=model, context_length=context)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def chat(self, request: ChatCompletionRequest) -> EventStream:
        body = _pick(request, _CHAT_FIELDS)
        # A whole response carries exact usage; many servers send none in streams.
        return self._relay_chat(body) if request.stream else self._whole_chat(body)

    async def _whole_chat(self, body: dict[str, Any]) -> EventStream:
        try:
            result = await self._client.chat.completions.create(
                model=self.upstream_model, stream=False, **body
            )
        except Exception as exc:
            raise translate(exc) from None
        for choice in result.choices:
            message = choice.message
            extra = message.model_extra or {}
            reasoning = extra.get("reasoning_content") or extra.get("reasoning")
            if reasoning:
                yield Reasoning(reasoning, choice.index)
            if message.content:
                yield Content(message.content, choice.index)
            for i, call in enumerate(message.tool_calls or []):
                fn = getattr(call, "function", None)
                yield ToolCallDelta(index=choice.index, call_index=i, id=call.id, type=call.type,
                                    name=fn.name if fn else None,
                                    arguments=fn.arguments if fn else "")
            yield Finish(choice.finish_reason or "stop", choice.index)
        if result.usage is not None:
            yield Usage(prompt_tokens=result.usage.prompt_tokens or 0,
                        completion_tokens=result.usage.completion_tokens or 0)

    def complete(self, request: CompletionRequest) -> EventStream:
        return self._relay_completion(_pick(request, _COMPLETION_FIELDS))

    async def _relay_chat(self, body: dict[str, Any]) -> EventStream:
        try:
            stream = await self._client.chat.completions.create(
                model=self.upstream_model, stream=True,
                stream_options={"include_usage": True}, **body,
            )
            got_usage = False
            content_chunks = 0
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        got_usage = True
                        yield Usage(prompt_tokens=chunk.usage.prompt_tokens or 0,
                                    completion_tokens=chunk.usage.completion_tokens or 0)
                    for choice in chunk.choices:
                        for event in _choice_events(choice):
                            content_chunks += isinstance(event, (Content, Reasoning))
                            yield event
            if not got_usage:
                # Servers like llama_cpp.server send no usage in streams. Estimate: one token
                # per content chunk (they stream token by token), ~4 characters per prompt
                # token. Documented as an estimate; whole responses carry exact usage.
                prompt_chars = sum(len(str(m.get("content") or "")) for m in body["messages"])
                yield Usage(prompt_tokens=max(1, prompt_chars // 4),
                            completion_tokens=content_chunks)
        except Exception as exc:
            raise translate(exc) from None

    async def _relay_completion(self, body: dict[str, Any]) -> EventStream:
        try:
            stream = await self._client.completions.create(
                model=self.upstream_model, stream=True,
                stream_options={"include_usage": True}, **body,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        yield Usage(prompt_tokens=chunk.usage.prompt_tokens or 0,
                                    completion_tokens=chunk.usage.completion_tokens or 0)
                    for choice in chunk.choices:
                        if choice.text:
                            yield Content(choice.text, choice.index)
                        if choice.finish_reason:
                            yield Finish(choice.finish_reason, choice.index)
        except Exception as exc:
            raise translate(exc) from None

    async def embed(self, texts: list[str]) -> Embeddings:
        try:
            result = await self._client.embeddings.create(model=self.upstream_model, input=texts)
        except Exception as exc:
            raise translate(exc) from None
        vectors = [d.embedding for d in sorted(result.data, key=lambda d: d.index)]
        return Embeddings(vectors=vectors, prompt_tokens=result.usage.prompt_tokens)

    async def embed_in_context(
        self, messages: list[dict[str, Any]], lead: str, answers: list[str]
    ) -> Embeddings:
        # OpenAI-compatible /v1/embeddings pools a whole input; pooling over the answer's
        # tokens alone needs per-token states, which no portable endpoint returns.
        raise Unsupported("in-context embeddings need the embedded backend; this upstream "
                          "server's /v1/embeddings pools whole inputs")

    async def count_tokens(self, text: str) -> int:
        # No portable tokenize endpoint across servers: a documented estimate (~4 chars/token).
        return max(1, len(text) // 4)

    async def health(self) -> bool:
        try:
            await self._client.models.list(timeout=5.0)
            return True
        except Exception:
            return False

    async def aclose(self) -> None:
        await self._client.close()


def _pick(request: Any, fields: list[str]) -> dict[str, Any]:
    import msgspec

    out = {}
    for name in fields:
        value = getattr(request, name, None)
        if value is not None:
            out[name] = msgspec.to_builtins(value)
    return out


def _choice_events(choice: Any) -> list[Any]:
    events: list[Any] = []
    delta = choice.delta
    if delta is not None:
        extra = delta.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        if reasoning:
            events.append(Reasoning(reasoning, choice.index))
        if delta.content:
            events.append(Content(delta.content, choice.index))
        for call in delta.tool_calls or []:
            fn = call.function
            events.append(ToolCallDelta(
                index=choice.index, call_index=call.index, id=call.id, type=call.type,
                name=fn.name if fn else None, arguments=(fn.arguments or "") if fn else "",
            ))
    if choice.finish_reason:
        events.append(Finish(choice.finish_reason, choice.index))
    return events
