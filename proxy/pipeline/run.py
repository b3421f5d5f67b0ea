"""The orchestrator: runs the stages from a table over one request's state, and turns the
result into events (progress as ``Reasoning``, the answer as ``Content``, ``Usage``,
``Trace``).

Control flow: probe -> self-tests -> first repair -> candidates (PlanSearch + hints) -> repair
-> more candidates (a second wave, off by default), each stage switchable, each skipped once
a candidate passes (early exit). The wall budget wraps all of it; when it or the token budget
runs out, selection runs on what exists. The work runs in one task feeding a queue; closing
the event iterator (client gone) cancels that task, which cancels every backend call and
sandbox run under it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

import structlog

from proxy.backends.base import Backend
from proxy.events import Content, EventStream, Finish, Reasoning, Trace, Usage
from proxy.pipeline import answer
from proxy.pipeline.budget import Budget, thinking_budget
from proxy.pipeline.candidate import Candidate
from proxy.pipeline.config import PipelineConfig
from proxy.pipeline.generate import Generator
from proxy.pipeline.problem import Problem
from proxy.pipeline.repair import stage_first_repair, stage_repair
from proxy.pipeline.select import Scorer, lens_energies, rank, top_ties
from proxy.pipeline.stages import (
    stage_candidates,
    stage_more_candidates,
    stage_probe,
    stage_selftests,
)
from proxy.pipeline.state import State
from proxy.pipeline.trace import TraceRecorder, append_jsonl
from sandbox.types import Sandbox

log = structlog.get_logger("atlas.pipeline")

# Seconds past the wall budget before the stages are cancelled; the answer comes at most
# this much after ``budget_s`` (plus rendering).
DEADLINE_GRACE_S = 0.5


@dataclass(frozen=True)
class Stage:
    name: str
    enabled: Callable[[PipelineConfig], bool]
    run: Callable[[State], Awaitable[None]]


def _repairs(c: PipelineConfig) -> bool:
    return c.repair and c.repair_rounds > 0 and c.max_repairs > 0


STAGES: tuple[Stage, ...] = (
    Stage("probe", lambda c: c.probe, stage_probe),
    Stage("selftests", lambda c: c.selftests, stage_selftests),
    Stage(
        "first_repair",
        lambda c: _repairs(c) and c.probe and c.repair_probe_first,
        stage_first_repair,
    ),
    Stage("candidates", lambda c: c.k > (1 if c.probe else 0), stage_candidates),
    Stage("repair", _repairs, stage_repair),
    Stage("more_candidates", lambda c: c.more_candidates > 0, stage_more_candidates),
)


# --- the run -----------------------------------------------------------------------------


async def _stages(st: State) -> None:
    for stage in STAGES:
        if not stage.enabled(st.cfg):
            continue
        if st.stop:
            break
        why = st.generate.budget.exhausted()
        if why:
            st.stop = why
            st.trace.degrade(why)
            break
        started = time.monotonic()
        await stage.run(st)
        st.trace.stage(stage.name, time.monotonic() - started, candidates=len(st.candidates))
        # A probe with nothing to check it against "passes" trivially: when self-tests are
        # on, they get written before it may answer (as they do for exit_checks = "all").
        waits_for_tests = (
            (st.cfg.exit_checks == "all" or not st.problem.examples)
            and st.cfg.selftests
            and not st.selftests_done
            and stage.name == "probe"
        )
        if st.passing() and (st.cfg.early_exit or st.pool_done) and not waits_for_tests:
            st.stop = f"a candidate passes after {stage.name}"
            if len(st.candidates) == 1:
                st.emit("probe passes the checks: answering now\n")


async def orchestrate(
    st: State, budget: Budget, scorer: Scorer | None
) -> tuple[Candidate | None, str | None]:
    """Run the stages within the wall budget, then select. Returns (choice, degradation)."""
    reason = None
    try:
        # The grace lets a call cut at the deadline by its own timeout hand back what it
        # streamed (a candidate) before the stages are cancelled.
        async with asyncio.timeout(budget.remaining_s() + DEADLINE_GRACE_S):
            await _stages(st)
    except TimeoutError:
        reason = "wall-time budget exhausted"
        st.trace.degrade(reason)
        st.emit(f"{reason}: answering with the best candidate so far\n")
    if len(st.model_tests) and not st.pool_done:
        st.refilter()
    ranked = rank(st.candidates)
    top = ranked[0] if ranked else None
    lens_note = None
    if top and st.cfg.lens:
        ties = top_ties(ranked)
        if len(ties) > 1 and budget.remaining_s() <= 0:
            lens_note = "no wall time left for the Lens"
        elif len(ties) > 1:
            started = time.monotonic()
            lens_note = await lens_energies(scorer, ties, st.messages)
            # Its own stage in the timings: the Lens's share of the request is a target.
            st.trace.stage("lens", time.monotonic() - started, candidates=len(ties))
            ranked = rank(st.candidates)
            top = ranked[0]
    st.trace.set(
        "selection",
        {
            "chosen": top.id if top else None,
            "order": [c.id for c in ranked],
            "lens": lens_note
            or ("used" if any(c.energy is not None for c in st.candidates) else "not needed"),
            "fallback": "score, then Lens energy, then prompt examples passed, then finished over "
            "truncated, then creation order (probe first)",
        },
    )
    return top, reason


async def pipeline_events(
    *,
    backend: Backend,
    sandbox: Sandbox,
    cfg: PipelineConfig,
    problem: Problem,
    scorer: Scorer | None,
    request_id: str,
    model: str,
    route_reason: str,
    messages: list[dict] | None = None,
) -> EventStream:
    budget = Budget(cfg.budget_s, cfg.budget_tokens)
    generate = Generator(
        backend,
        budget,
        thinking_tokens=thinking_budget(cfg.thinking_budget, problem),
        budget_forcing=cfg.budget_forcing,
    )
    trace = TraceRecorder(request_id, model, backend.info.id)
    trace.set("config", cfg)
    trace.set("route", route_reason)
    trace.set("problem", problem)
    queue: asyncio.Queue = asyncio.Queue()
    done = object()
    st = State(
        cfg=cfg,
        problem=problem,
        generate=generate,
        sandbox=sandbox,
        trace=trace,
        emit=lambda text: queue.put_nowait(Reasoning(text)),
        messages=messages or [],
    )
    outcome: dict = {}

    async def work() -> None:
        try:
            outcome["result"] = await orchestrate(st, budget, scorer)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer below
            outcome["error"] = exc
        finally:
            queue.put_nowait(done)

    structlog.contextvars.bind_contextvars(request_id=request_id)
    st.emit(_opening(problem))
    task = asyncio.create_task(work(), name=f"atlas-pipeline-{request_id}")
    try:
        while True:
            item = await queue.get()
            if item is done:
                break
            yield item
        if "error" in outcome:
            err = outcome["error"]
            if isinstance(err, asyncio.CancelledError):
                raise err
            # Anything unexpected still ends in an answer: the best candidate we have.
            trace.degrade(f"pipeline error: {type(err).__name__}: {err}")
            log.exception("pipeline_error", exc_info=err)
            ranked = rank(st.candidates)
            choice, reason = (ranked[0] if ranked else None), f"{type(err).__name__}"
        else:
            choice, reason = outcome["result"]
        for event in _finish(st, choice, reason, cfg, trace):
            yield event
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except BaseException:  # noqa: BLE001 - cancelled on purpose; nothing to report
                pass
        structlog.contextvars.unbind_contextvars("request_id")


def _opening(problem: Problem) -> str:
    target = f"`{problem.entry_point}`" if problem.entry_point else "the task"
    ex = len(problem.examples)
    return (
        f"atlas: {problem.language} {target}, {ex} example{'s' if ex != 1 else ''} "
        "from the prompt\n"
    )


def _finish(
    st: State,
    choice: Candidate | None,
    reason: str | None,
    cfg: PipelineConfig,
    trace: TraceRecorder,
):
    fallback_text = ""
    if choice is None or not choice.code:
        raws = [c.raw for c in st.candidates if c.raw.strip()]
        fallback_text = raws[0] if raws else ""
    text = answer.compose(st.problem, choice, len(st.model_tests), fallback_text, reason or st.stop)
    if choice is not None:
        yield Reasoning(
            f"answer: {choice.origin} {choice.id + 1}"
            f"{' (passes the checks)' if choice.passes else ''}\n"
        )
    # Line by line, so a streaming client sees the answer arrive like a model's.
    lines = text.splitlines(keepends=True)
    for i in range(0, len(lines), 4):
        yield Content("".join(lines[i : i + 4]))
    yield Finish("stop")
    prompt_tokens, completion_tokens = st.generate.ledger.totals()
    trace.candidates(st.candidates, [t.test for t in st.tests])
    data = trace.finish(
        chosen=choice.id if choice else None,
        stop=st.stop,
        early_exit=bool(st.stop and len(st.candidates) == 1 and st.passing()),
        model_tests_kept=st.keep,
        calls=st.generate.calls,
        tokens={
            "prompt": prompt_tokens,
            "completion": completion_tokens,
            "stages": st.generate.ledger.stages,
        },
    )
    log.info(
        "pipeline_done",
        chosen=data["chosen"],
        candidates=len(st.candidates),
        passes=bool(choice and choice.passes),
        calls=st.generate.calls,
        seconds=data["timings"].get("total"),
        degraded=data["degraded"],
    )
    log.debug("pipeline_trace", trace=data)
    if cfg.trace_file:
        append_jsonl(cfg.trace_file, data)
    if cfg.trace:
        yield Trace(data)
    yield Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        stages={k: dict(v) for k, v in st.generate.ledger.stages.items()},
    )
