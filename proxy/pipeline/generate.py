"""One backend call: prompt in, text and token usage out, with budget forcing for models that
think.

Every pipeline call goes through ``Generator``: it builds an ordinary ``ChatCompletionRequest``
(or a ``CompletionRequest`` for base models), respects the backend's concurrency (one at a
time for the embedded model: two llama.cpp generations on one CPU are several times slower
than one after the other), charges the request's token budget, books usage by stage, and
turns backend errors into a ``Generation`` with ``error`` set, so a failed call degrades the
pipeline instead of failing the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec

from proxy.backends.base import Backend
from proxy.errors import ProxyError
from proxy.events import Content, Finish, Reasoning, Usage
from proxy.openai.protocol import ChatCompletionRequest, ChatMessage, CompletionRequest
from proxy.pipeline.budget import Budget
from proxy.pipeline.prompts import Prompt

# A rough chars-per-token ratio to count thinking while it streams (no tokenizer call per
# chunk); budgets are approximate by nature.
CHARS_PER_TOKEN = 4
FORCE_ANSWER = "Stop thinking now and give your final answer."


class Generation(msgspec.Struct, kw_only=True):
    text: str = ""  # the answer, thinking removed (for base models: prefix + continuation)
    thinking: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish: str = "stop"  # "stop" | "length" | "error" | "budget"
    error: str | None = None
    seconds: float = 0.0
    forced: str | None = None  # "cut" (thinking hit its budget) | "wait" (extended)
    # What has streamed so far: when the budget stops a call, its partial output is kept.
    partial: list[str] = msgspec.field(default_factory=list)


class Ledger:
    """Tokens by stage, for ``usage`` and its per-stage breakdown."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, int]] = {}

    def add(self, stage: str, prompt: int, completion: int) -> None:
        entry = self.stages.setdefault(stage, {"prompt_tokens": 0, "completion_tokens": 0})
        entry["prompt_tokens"] += prompt
        entry["completion_tokens"] += completion

    def totals(self) -> tuple[int, int]:
        return (
            sum(s["prompt_tokens"] for s in self.stages.values()),
            sum(s["completion_tokens"] for s in self.stages.values()),
        )


def looping(text: str, window: int = 16, repeats: int = 8) -> bool:
    """True when the output's last lines are one short line over and over."""
    lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 3][-window:]
    if len(lines) < window:
        return False
    return max(lines.count(line) for line in set(lines)) >= repeats


def split_thinking(text: str, markers: tuple[str, str] | None) -> tuple[str, str, bool]:
    """(answer, thinking, thinking_closed) from raw content that may carry thinking inline."""
    if not markers:
        return text, "", True
    open_, close = markers
    stripped = text.lstrip()
    if not stripped.startswith(open_) and close not in text:
        return text, "", True
    body = stripped[len(open_) :] if stripped.startswith(open_) else stripped
    if close not in body:
        return "", body, False
    thinking, _, answer = body.partition(close)
    return answer.lstrip("\n"), thinking, True


class Generator:
    def __init__(
        self,
        backend: Backend,
        budget: Budget,
        *,
        thinking_tokens: int = 0,
        budget_forcing: bool = True,
    ) -> None:
        self.backend = backend
        self.info = backend.info
        self.chat = backend.info.has_chat_template
        self.budget = budget
        self.ledger = Ledger()
        self.calls = 0
        self._gate = asyncio.Semaphore(max(1, backend.info.concurrency))
        # Budget forcing applies only to models whose thinking markers we know.
        self.thinking_tokens = thinking_tokens if (budget_forcing and backend.info.thinking) else 0

    def _request(
        self,
        prompt: Prompt,
        temperature: float,
        max_tokens: int,
        extra: list[dict[str, str]] | None = None,
        suffix: str = "",
    ):
        if self.chat and prompt.messages is not None:
            messages = [
                ChatMessage(role=m["role"], content=m["content"])  # type: ignore[arg-type]
                for m in prompt.messages + (extra or [])
            ]
            return ChatCompletionRequest(
                model=self.info.id,
                messages=messages,
                temperature=temperature,
                max_tokens=max_tokens,
                stop=prompt.stop or None,
                seed=prompt.seed,
            )
        return CompletionRequest(
            model=self.info.id,
            prompt=(prompt.text or "") + suffix,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=prompt.stop or None,
            seed=prompt.seed,
        )

    async def _stream(self, request, gen: Generation, think_cap: int) -> tuple[str, str, bool]:
        """Run one call; returns (content, reasoning, cut) where ``cut`` means the thinking
        budget was hit and the stream was closed early."""
        content: list[str] = []
        reasoning: list[str] = []
        usage_seen = False
        stream = (
            self.backend.chat(request)
            if isinstance(request, ChatCompletionRequest)
            else self.backend.complete(request)
        )
        cut = False
        try:
            async with contextlib.aclosing(stream):
                async for event in stream:
                    if isinstance(event, Content) and event.index == 0:
                        content.append(event.text)
                        gen.partial.append(event.text)
                        if len(content) % 32 == 0 and looping("".join(content[-400:])):
                            # A degenerate loop would run to max_tokens: seconds of CPU for
                            # nothing. Cut it; the code extractor trims the repeated tail.
                            gen.finish = "repetition"
                            break
                    elif isinstance(event, Reasoning) and event.index == 0:
                        reasoning.append(event.text)
                    elif isinstance(event, Finish) and event.index == 0:
                        gen.finish = event.reason
                    elif isinstance(event, Usage):
                        usage_seen = True
                        self._book(gen, event.prompt_tokens, event.completion_tokens)
                    if (
                        think_cap
                        and self._thinking_chars(content, reasoning) > think_cap * CHARS_PER_TOKEN
                    ):
                        cut = True
                        break
        finally:
            if not usage_seen:
                # A cut stream (budget, thinking cap, a backend without usage) still spent
                # tokens: estimate them, also when the call is cancelled mid-way.
                est = (sum(map(len, content)) + sum(map(len, reasoning))) // CHARS_PER_TOKEN
                self._book(gen, 0, est)
        return "".join(content), "".join(reasoning), cut

    def _thinking_chars(self, content: list[str], reasoning: list[str]) -> int:
        if reasoning:
            return sum(map(len, reasoning))
        _, thinking, closed = split_thinking("".join(content), self.info.thinking)
        return 0 if closed else len(thinking)

    def _book(self, gen: Generation, prompt: int, completion: int) -> None:
        gen.prompt_tokens += prompt
        gen.completion_tokens += completion
        self.budget.charge(prompt + completion)

    async def __call__(
        self, prompt: Prompt, *, stage: str, temperature: float, max_tokens: int
    ) -> Generation:
        gen = Generation()
        started = time.monotonic()
        async with self._gate:
            self.calls += 1
            before = (gen.prompt_tokens, gen.completion_tokens)
            try:
                timeout = self.budget.remaining_s()
                if timeout <= 0 or self.budget.remaining_tokens() <= 0:
                    gen.finish, gen.error = "budget", self.budget.exhausted()
                    return gen
                async with asyncio.timeout(timeout):
                    await self._run(prompt, gen, temperature, max_tokens)
            except TimeoutError:
                gen.finish, gen.error = "budget", "wall-time budget exhausted during the call"
                if not gen.text and gen.partial:
                    answer, _, _ = split_thinking("".join(gen.partial), self.info.thinking)
                    gen.text = (prompt.prefix if not self.chat else "") + answer
            except ProxyError as exc:
                gen.finish, gen.error = "error", f"{type(exc).__name__}: {exc.message}"
            finally:
                gen.seconds = time.monotonic() - started
                self.ledger.add(
                    stage, gen.prompt_tokens - before[0], gen.completion_tokens - before[1]
                )
        return gen

    async def _run(
        self, prompt: Prompt, gen: Generation, temperature: float, max_tokens: int
    ) -> None:
        think = self.thinking_tokens
        cap = self.budget.cap(max_tokens + think)
        request = self._request(prompt, temperature, cap)
        content, reasoning, cut = await self._stream(request, gen, think)
        answer, inline_thinking, closed = split_thinking(content, self.info.thinking)
        thinking = reasoning or inline_thinking
        if think and (cut or not closed or (not answer.strip() and gen.finish == "length")):
            # Budget hit: force the answer. Chat models get a new turn asking for it (any
            # template can do that); base models get the close marker and continue.
            gen.forced = "cut"
            open_, close = self.info.thinking  # type: ignore[misc]
            if self.chat and prompt.messages is not None:
                extra = [
                    {"role": "assistant", "content": f"{open_}{thinking}{close}"},
                    {"role": "user", "content": FORCE_ANSWER},
                ]
                request = self._request(prompt, temperature, self.budget.cap(max_tokens), extra)
            else:
                request = self._request(
                    prompt,
                    temperature,
                    self.budget.cap(max_tokens),
                    suffix=f"{open_}{thinking}\n{close}\n",
                )
            content, _, _ = await self._stream(request, gen, 0)
            answer, _, _ = split_thinking(content, self.info.thinking)
        elif (
            think
            and not self.chat
            and closed
            and thinking
            and len(thinking) < think * CHARS_PER_TOKEN // 8
        ):
            # Stopped thinking too early (under 1/8 of its budget): "Wait" and go on, once.
            # Base models only: a chat turn cannot be resumed mid-message portably.
            gen.forced = "wait"
            open_, close = self.info.thinking  # type: ignore[misc]
            request = self._request(
                prompt,
                temperature,
                self.budget.cap(max_tokens + think // 2),
                suffix=f"{open_}{thinking}\nWait,",
            )
            content, _, _ = await self._stream(request, gen, think // 2)
            answer, extra_thinking, _ = split_thinking(f"{open_}{content}", self.info.thinking)
            thinking += "\nWait," + extra_thinking
        gen.text = prompt.prefix + answer if not self.chat or prompt.messages is None else answer
        gen.thinking = thinking
