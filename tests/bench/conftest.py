"""Helpers of the bench tests: the real sandbox, and the bundled tasks' reference answers."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

import sandbox
from proxy.bench.datasets import BUNDLED, load_tasks

T = TypeVar("T")


def with_sandbox(fn: Callable[[sandbox.Sandbox], Awaitable[T]]) -> T:
    """Run ``fn(real sandbox)`` in a fresh event loop and close the sandbox after."""

    async def main() -> T:
        sb = sandbox.make_sandbox(sandbox.SandboxConfig())
        try:
            return await fn(sb)
        finally:
            await sb.aclose()

    return asyncio.run(main())


def reference_solutions() -> dict[str, str]:
    """task_id -> the dataset's own solution as a complete program (known good)."""
    out = {}
    with gzip.open(BUNDLED["humaneval"], "rt") as fh:
        for line in fh:
            r = json.loads(line)
            out[r["task_id"]] = r["prompt"] + r["canonical_solution"]
    with open(BUNDLED["mbpp"]) as fh:
        for line in fh:
            r = json.loads(line)
            out[f"MBPP/{r['task_id']}"] = r["code"]
    return out


@pytest.fixture(scope="session")
def references() -> dict[str, str]:
    return reference_solutions()


@pytest.fixture(scope="session")
def answer_for_request(references: dict[str, str]) -> Callable[[dict[str, Any]], str]:
    """Maps a chat request (as the scripted server receives it) to a correct answer: the
    scripted 'model' knows the reference solutions, which is what lets a test know the grade."""
    by_content = {t.messages[0]["content"]: t.task_id
                  for t in load_tasks("humaneval") + load_tasks("mbpp", "all")}

    def answer(body: dict[str, Any]) -> str:
        task_id = by_content[body["messages"][0]["content"]]
        return f"Here you go:\n```python\n{references[task_id]}\n```\n"

    return answer
