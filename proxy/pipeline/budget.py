"""Budgets: the request's wall time and tokens, and the thinking budget of models that think.

When the wall or token budget runs out the orchestrator stops starting work and answers with
the best candidate so far; a budget is never an error. Tokens counted are prompt plus
completion of every call, as ``usage`` reports them.
"""

from __future__ import annotations

import time
from typing import Callable

from proxy.pipeline.problem import Problem

# Thinking tokens per difficulty level (the ATLAS levels).
THINKING_BUDGETS: dict[str, int] = {
    "none": 0,
    "light": 1024,
    "standard": 2048,
    "hard": 4096,
    "extreme": 8192,
}


class Budget:
    """Wall-clock deadline and token allowance of one request."""

    def __init__(self, seconds: float, tokens: int, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.start = clock()
        self.deadline = self.start + seconds
        self.tokens = tokens
        self.spent = 0

    def elapsed(self) -> float:
        return self._clock() - self.start

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - self._clock())

    def remaining_tokens(self) -> int:
        return max(0, self.tokens - self.spent)

    def charge(self, tokens: int) -> None:
        self.spent += max(0, tokens)

    def exhausted(self) -> str | None:
        """Why no further work should start, or None."""
        if self.remaining_s() <= 0:
            return "wall-time budget exhausted"
        if self.remaining_tokens() <= 0:
            return "token budget exhausted"
        return None

    def cap(self, max_tokens: int) -> int:
        """A call's completion limit, so one call cannot overrun the token budget by much."""
        return max(1, min(max_tokens, self.remaining_tokens()))


def thinking_budget(level: str, problem: Problem) -> int:
    """Thinking tokens for this task. "auto" guesses difficulty from the statement's length
    and how many constraints it spells out: a cheap proxy, documented as such."""
    if level != "auto":
        return THINKING_BUDGETS[level]
    words = len(problem.text.split())
    if words < 60:
        return THINKING_BUDGETS["light"]
    if words < 200:
        return THINKING_BUDGETS["standard"]
    if words < 500:
        return THINKING_BUDGETS["hard"]
    return THINKING_BUDGETS["extreme"]
