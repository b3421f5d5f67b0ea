"""Run arms x tasks x samples through HTTP, like any client, with checkpoint and resume.

Each finished (arm, task, sample) is appended to samples.jsonl and flushed before the next
request, so a killed run loses at most the requests in flight; rerunning the same command
skips every key already on disk. Arms are interleaved per task and sample (baseline, then
the others) so that drift in machine load hits every arm alike, and sample ``i`` of every
arm gets the same ``seed + i``.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import msgspec

from sandbox.types import Sandbox

from .datasets import Task
from .grading import grade
from .records import SAMPLES_FILE, Arm, RunConfig, SampleRecord, Usage, read_samples

# Statuses worth another try (the openai SDK retries the same set); any other 4xx is the
# request's fault and would fail again.
RETRY_STATUS = {408, 409, 429}


class AttemptError(Exception):
    def __init__(self, message: str, *, retriable: bool, http_status: int | None = None):
        super().__init__(message)
        self.retriable = retriable
        self.http_status = http_status


def request_body(arm: Arm, task: Task, config: RunConfig, sample: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": arm.model,
        "messages": task.messages,
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "seed": config.seed + sample,
        "stream": False,
    }
    body.update(arm.extra)
    return body


def _headers(key_env: str | None) -> dict[str, str]:
    key = os.environ.get(key_env, "") if key_env else ""
    return {"Authorization": f"Bearer {key}"} if key else {}


async def _attempt(client: httpx.AsyncClient, arm: Arm, body: dict[str, Any]) -> dict[str, Any]:
    try:
        resp = await client.post(f"{arm.base_url}/chat/completions", json=body, headers=_headers(arm.key_env))
    except httpx.TransportError as exc:  # connect, read timeout, dropped connection, ...
        raise AttemptError(f"{type(exc).__name__}: {exc}", retriable=True) from exc
    if resp.status_code != 200:
        retriable = resp.status_code in RETRY_STATUS or resp.status_code >= 500
        raise AttemptError(
            f"HTTP {resp.status_code}: {resp.text[:300]}", retriable=retriable,
            http_status=resp.status_code,
        )
    try:
        data = resp.json()
        if not isinstance(data["choices"][0]["message"], dict):
            raise TypeError("message is not an object")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise AttemptError(f"malformed response: {resp.text[:300]}", retriable=True,
                           http_status=200) from exc
    return data


def _text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


class Outcome(NamedTuple):
    data: dict[str, Any] | None  # the response, or None when every try failed
    error: AttemptError | None  # the last try's error
    attempts: int
    started_at: float  # of the final try
    latency_s: float  # of the final try


async def call_with_retries(
    client: httpx.AsyncClient, arm: Arm, body: dict[str, Any], *, retries: int, backoff_s: float
) -> Outcome:
    for attempt in range(1, retries + 1):
        started, t0 = time.time(), time.perf_counter()
        try:
            data = await _attempt(client, arm, body)
            return Outcome(data, None, attempt, started, time.perf_counter() - t0)
        except AttemptError as exc:
            if not exc.retriable or attempt == retries:
                return Outcome(None, exc, attempt, started, time.perf_counter() - t0)
        # Exponential backoff with jitter: 1x, 2x, 4x ... so a restarting server can come back.
        await asyncio.sleep(backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
    raise AssertionError("unreachable")


async def run_one(
    client: httpx.AsyncClient, sandbox: Sandbox, arm: Arm, task: Task, sample: int,
    config: RunConfig, *, session: int, backoff_s: float,
) -> SampleRecord:
    body = request_body(arm, task, config, sample)
    out = await call_with_retries(client, arm, body, retries=config.retries, backoff_s=backoff_s)
    common: dict[str, Any] = {
        "arm": arm.name, "task_id": task.task_id, "sample": sample, "attempts": out.attempts,
        "started_at": out.started_at, "latency_s": out.latency_s, "request": body,
        "session": session,
    }
    data = out.data
    if data is None:
        assert out.error is not None
        return SampleRecord(status="crash", passed=False, error=str(out.error)[:1000],
                            http_status=out.error.http_status, **common)
    choice = data["choices"][0]
    answer = _text(choice["message"].get("content"))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    code, result = await grade(sandbox, task.grading, answer)
    return SampleRecord(
        status="ok",
        passed=result.passed,
        http_status=200,
        response_model=data.get("model"),
        finish_reason=choice.get("finish_reason"),
        usage=Usage(prompt_tokens=usage.get("prompt_tokens"),
                    completion_tokens=usage.get("completion_tokens")),
        usage_raw=usage or None,
        answer=answer,
        code=code,
        grade=result,
        atlas_trace=data.get("atlas_trace"),
        **common,
    )


class Progress:
    """One status line on stderr: redrawn in place on a terminal, one line a sample in logs."""

    def __init__(self, total: int, done: int, stream=sys.stderr):
        self.total, self.done, self.stream = total, done, stream
        self.start, self.new = time.perf_counter(), 0
        self.passed: Counter[str] = Counter()
        self.crashed: Counter[str] = Counter()
        self.tty = stream.isatty()

    def update(self, rec: SampleRecord) -> None:
        self.done += 1
        self.new += 1
        self.passed[rec.arm] += rec.passed
        self.crashed[rec.arm] += rec.status == "crash"
        left = (time.perf_counter() - self.start) / self.new * (self.total - self.done)
        width = 24
        fill = int(width * self.done / max(self.total, 1))
        arms = " ".join(f"{a}:{self.passed[a]}ok" + (f"/{self.crashed[a]}crash" if self.crashed[a] else "")
                        for a in sorted(set(self.passed) | set(self.crashed)))
        line = (f"[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                f"eta {left / 60:.1f} min | {arms} | {rec.arm} {rec.task_id}#{rec.sample} "
                f"{'PASS' if rec.passed else rec.status.upper() if rec.status != 'ok' else 'fail'} "
                f"{rec.latency_s:.1f}s")
        self.stream.write(("\r\x1b[K" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def plan(config: RunConfig, tasks: list[Task]) -> list[tuple[Task, int, Arm]]:
    return [(t, s, a) for t in tasks for s in range(config.n) for a in config.arms]


async def run_benchmark(
    config: RunConfig,
    tasks: list[Task],
    run_dir: Path,
    sandbox: Sandbox,
    *,
    retry_crashes: bool = False,
    backoff_s: float = 1.0,
    progress: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    on_record: Callable[[SampleRecord], None] | None = None,
) -> list[SampleRecord]:
    """Run every planned sample not yet on disk; return all records of the run."""
    existing = read_samples(run_dir, repair=True)
    session = max((r.session for r in existing), default=-1) + 1
    done = {r.key for r in existing if not (retry_crashes and r.status == "crash")}
    todo = [(t, s, a) for t, s, a in plan(config, tasks) if (a.name, t.task_id, s) not in done]
    total = len(plan(config, tasks))
    bar = Progress(total, total - len(todo)) if progress else None
    queue: asyncio.Queue[tuple[Task, int, Arm]] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    encoder = msgspec.json.Encoder()
    timeout = httpx.Timeout(config.timeout_s, connect=min(30.0, config.timeout_s))
    with (run_dir / SAMPLES_FILE).open("ab") as out:
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:

            async def worker() -> None:
                while not queue.empty():
                    task, sample, arm = queue.get_nowait()
                    rec = await run_one(client, sandbox, arm, task, sample, config,
                                        session=session, backoff_s=backoff_s)
                    # One write per line, flushed and synced: the checkpoint.
                    out.write(encoder.encode(rec) + b"\n")
                    out.flush()
                    os.fsync(out.fileno())
                    if bar:
                        bar.update(rec)
                    if on_record:
                        on_record(rec)

            try:
                await asyncio.gather(*(worker() for _ in range(max(1, config.concurrency))))
            finally:
                if bar:
                    bar.close()
    return read_samples(run_dir)


async def resolve_model(base_url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                        key_env: str | None = None) -> str:
    """The plain model id a server lists first (skipping ``atlas``), for ``model=auto``."""
    async with httpx.AsyncClient(timeout=30, transport=transport) as client:
        resp = await client.get(f"{base_url}/models", headers=_headers(key_env))
        resp.raise_for_status()
        ids = [m["id"] for m in resp.json().get("data", [])]
    plain = [i for i in ids if not i.startswith("atlas")]
    if not plain:
        raise RuntimeError(f"{base_url}/models lists no plain model (got {ids})")
    return plain[0]
