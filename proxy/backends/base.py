"""The ``Backend`` protocol: the only door to a model.

A handful of methods, so that a scripted fake (``tests/fakes.py``) can stand in for protocol
edge cases. Real implementations: ``embedded`` (llama-cpp-python in process) and
``upstream`` (any OpenAI-compatible server).

``chat`` and ``complete`` are plain methods returning an event iterator, not coroutines: they
validate and admit the request *before* the first event (context length, queue capacity),
raising ``ProxyError`` at once so the HTTP layer can still answer with a proper status.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import msgspec

from proxy.events import EventStream
from proxy.openai.protocol import ChatCompletionRequest, CompletionRequest


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    context_length: int
    owned_by: str = "atlas-proxy"
    # False for base models: the pipeline then uses completion-style prompts.
    has_chat_template: bool = True
    # Markers around the model's thinking, read from its template or config; None if none.
    thinking: tuple[str, str] | None = None
    # Identifies the weights (GGUF sha256 or upstream model id) so the Lens loads the right card.
    fingerprint: str = ""
    description: str = ""
    # How many generations the backend runs well at once: 1 for the embedded model (two
    # llama.cpp generations on one CPU are several times slower than one after the other),
    # more for an upstream server that batches.
    concurrency: int = 1
    # Whether ``embed_in_context`` works here (the embedded backend): in-context Lens weights
    # need it, and stay off where it is missing.
    in_context_embeddings: bool = False


class Embeddings(msgspec.Struct, frozen=True):
    vectors: list[list[float]]
    prompt_tokens: int


@runtime_checkable
class Backend(Protocol):
    @property
    def info(self) -> ModelInfo: ...

    def chat(self, request: ChatCompletionRequest) -> EventStream: ...

    def complete(self, request: CompletionRequest) -> EventStream: ...

    async def embed(self, texts: list[str]) -> Embeddings: ...

    async def embed_in_context(
        self, messages: list[dict[str, Any]], lead: str, answers: list[str]
    ) -> Embeddings:
        """For each answer, the mean over its own tokens of the last hidden state, with the
        rendered request and ``lead`` read before it (``proxy/backends/in_context.py``).
        Raises ``Unsupported`` where the backend cannot (the Lens is then unavailable)."""
        ...

    async def count_tokens(self, text: str) -> int: ...

    async def health(self) -> bool: ...

    async def aclose(self) -> None: ...
