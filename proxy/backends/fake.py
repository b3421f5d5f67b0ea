"""``ScriptedFakeBackend``: a backend that answers from a script, for tests of protocol edge
cases and pipeline control flow only. It is a fake and says so in its name; everything
that can run the real embedded model in reasonable time is tested on the real model.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Sequence

from proxy.backends.base import Embeddings, ModelInfo
from proxy.events import Content, EventStream, Finish, Usage
from proxy.openai.protocol import ChatCompletionRequest, CompletionRequest

Reply = str | BaseException
Script = Sequence[Reply] | Callable[[ChatCompletionRequest | CompletionRequest], Reply]


class ScriptedFakeBackend:
    """Replies come from a list (consumed in order) or a function of the request.

    A reply that is an exception is raised after the first chunk, to simulate a backend
    failing mid-stream. ``delay_s`` sleeps between chunks so tests can disconnect mid-way.
    """

    def __init__(
        self,
        script: Script,
        *,
        info: ModelInfo | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self._script = script
        self._next = 0
        self.delay_s = delay_s
        self.calls: list[ChatCompletionRequest | CompletionRequest] = []
        self.cancelled = 0
        self._info = info or ModelInfo(id="scripted-fake", context_length=4096)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def _reply(self, request: ChatCompletionRequest | CompletionRequest) -> Reply:
        self.calls.append(request)
        if callable(self._script):
            return self._script(request)
        if self._next >= len(self._script):
            raise AssertionError(f"script exhausted after {self._next} replies")
        reply = self._script[self._next]
        self._next += 1
        return reply

    def chat(self, request: ChatCompletionRequest) -> EventStream:
        return self._stream(self._reply(request), request.n)

    def complete(self, request: CompletionRequest) -> EventStream:
        return self._stream(self._reply(request), request.n)

    async def _stream(self, reply: Reply, n: int) -> EventStream:
        try:
            for index in range(n):
                if isinstance(reply, BaseException):
                    yield Content("partial", index=index)
                    raise reply
                words = reply.split(" ")
                for i, word in enumerate(words):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    yield Content(word if i == 0 else " " + word, index=index)
                yield Finish("stop", index=index)
            tokens = 0 if isinstance(reply, BaseException) else len(reply.split()) * n
            yield Usage(prompt_tokens=10, completion_tokens=tokens)
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise

    async def embed(self, texts: list[str]) -> Embeddings:
        # Deterministic toy vectors: enough for protocol tests, never for Lens numbers.
        vectors = [[float(len(t)), float(sum(map(ord, t)) % 97), 1.0] for t in texts]
        return Embeddings(vectors=vectors, prompt_tokens=sum(len(t.split()) for t in texts))

    async def embed_in_context(self, messages, lead: str, answers: list[str]) -> Embeddings:
        # Toy vectors that depend on the request too: for protocol tests only.
        context = sum(len(m.get("content") or "") for m in messages) + len(lead)
        vectors = [[float(len(a)), float(sum(map(ord, a)) % 97), float(context)] for a in answers]
        return Embeddings(vectors=vectors, prompt_tokens=sum(len(a.split()) for a in answers))

    async def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def health(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
