"""OpenAI wire types (requests, responses, stream chunks, errors) as msgspec structs.

Requests ignore unknown fields, as lenient clients expect; bounds that OpenAI enforces are
declared here so a bad value is a 400 naming the field, not an error deep in a backend.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

# --- shared -----------------------------------------------------------------------------


def always(value: Any) -> Any:
    """A default that ``omit_defaults`` still writes out (it only omits plain defaults)."""
    return msgspec.field(default_factory=lambda: value)



Temperature = Annotated[float, Meta(ge=0.0, le=2.0)]
TopP = Annotated[float, Meta(ge=0.0, le=1.0)]
Penalty = Annotated[float, Meta(ge=-2.0, le=2.0)]
MaxTokens = Annotated[int, Meta(ge=1, le=1_000_000)]
# OpenAI caps n at 128; on one CPU model anything near that is a mistake, but the cap is theirs.
N = Annotated[int, Meta(ge=1, le=128)]
Stop = str | Annotated[list[str], Meta(max_length=16)] | None


class StreamOptions(Struct, kw_only=True):
    include_usage: bool = False


class ResponseFormat(Struct, kw_only=True):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None


class Usage(Struct, kw_only=True, omit_defaults=True):
    prompt_tokens: int = always(0)
    completion_tokens: int = always(0)
    total_tokens: int = always(0)
    # Extension: the pipeline's tokens by stage ({"probe": {...}, "repair": {...}}).
    atlas_stages: dict[str, dict[str, int]] | None = None


def stop_list(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


# --- chat -------------------------------------------------------------------------------


class ContentPart(Struct, kw_only=True):
    type: str
    text: str | None = None
    image_url: Any = None
    input_audio: Any = None


class ToolCallFunction(Struct, kw_only=True, omit_defaults=True):
    name: str | None = None
    arguments: str = always("")


class ToolCall(Struct, kw_only=True, omit_defaults=True):
    id: str | None = None
    type: str = always("function")
    function: ToolCallFunction = msgspec.field(default_factory=ToolCallFunction)


class ChatMessage(Struct, kw_only=True, omit_defaults=True):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning_content: str | None = None

    def text(self) -> str:
        """The message's text; image or audio parts are not text and are refused upstream."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class ChatCompletionRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    messages: Annotated[list[ChatMessage], Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    stop: Stop = None
    seed: int | None = None
    n: N = 1
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, Meta(ge=-100, le=100)]] | None = None
    response_format: ResponseFormat | None = None
    # Relayed to upstream backends exactly as sent.
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    # Per-request pipeline overrides (the openai SDK's extra_body={"atlas": {...}}).
    atlas: dict[str, Any] | None = None

    @property
    def max_new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def stop_list(self) -> list[str]:
        return stop_list(self.stop)


class ChoiceMessage(Struct, kw_only=True, omit_defaults=True):
    role: str = always("assistant")
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(Struct, kw_only=True):
    index: int
    message: ChoiceMessage
    finish_reason: str | None
    logprobs: None = None


class ChatCompletion(Struct, kw_only=True, omit_defaults=True):
    id: str
    model: str
    choices: list[Choice]
    usage: Usage
    created: int = msgspec.field(default_factory=now)
    object: str = always("chat.completion")
    system_fingerprint: str | None = None
    # Extension: the pipeline trace, only when the request asked for it.
    atlas_trace: dict[str, Any] | None = None


class DeltaToolCall(Struct, kw_only=True, omit_defaults=True):
    index: int
    id: str | None = None
    type: str | None = None
    function: ToolCallFunction | None = None


class Delta(Struct, kw_only=True, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None


class ChunkChoice(Struct, kw_only=True):
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(Struct, kw_only=True, omit_defaults=True):
    id: str
    model: str
    created: int
    choices: list[ChunkChoice]
    object: str = always("chat.completion.chunk")
    usage: Usage | None = None
    atlas_trace: dict[str, Any] | None = None


# --- legacy completions -----------------------------------------------------------------


class CompletionRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    prompt: str | list[Any] = ""  # a string, [string], or token ids
    suffix: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Meta(ge=0, le=1_000_000)] | None = 16
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stop: Stop = None
    seed: int | None = None
    n: N = 1
    echo: bool = False
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, Meta(ge=-100, le=100)]] | None = None
    user: str | None = None

    @property
    def stop_list(self) -> list[str]:
        return stop_list(self.stop)


class CompletionChoice(Struct, kw_only=True):
    index: int
    text: str
    finish_reason: str | None
    logprobs: None = None


class Completion(Struct, kw_only=True, omit_defaults=True):
    id: str
    model: str
    choices: list[CompletionChoice]
    created: int = msgspec.field(default_factory=now)
    object: str = always("text_completion")
    usage: Usage | None = None


# --- embeddings, models, errors ---------------------------------------------------------


class EmbeddingRequest(Struct, kw_only=True):
    model: str
    # Strings, or token ids (list[int] / list[list[int]]), checked by the route.
    input: str | Annotated[list[Any], Meta(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


class EmbeddingData(Struct, kw_only=True):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingResponse(Struct, kw_only=True):
    data: list[EmbeddingData]
    model: str
    usage: Usage
    object: str = "list"


class Model(Struct, kw_only=True, omit_defaults=True):
    id: str
    created: int
    owned_by: str = always("atlas-proxy")
    object: str = always("model")
    # Extension fields some clients read (llama.cpp and vLLM report these too).
    context_length: int | None = None
    description: str | None = None


class ModelList(Struct, kw_only=True):
    data: list[Model]
    object: str = "list"


class ErrorBody(Struct, kw_only=True):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(Struct, kw_only=True):
    error: ErrorBody
