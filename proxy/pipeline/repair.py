"""Repair from real execution feedback (the failing assert, the value the code actually
returned, the exception or traceback): a repair call sees the failing code and that feedback.

With ``critique = true`` (PR-CoT) a critique of the failing code from four perspectives
(logical consistency, completeness, hidden assumptions, alternatives) comes first and the
repair sees it too. One critique call covers all four: on a CPU each call costs seconds, and
a 0.5B model's four separate critiques repeat each other. Off by default: on the 0.5B model
it cost a call per attempt and rescued no task the repair alone did not (docs/pipeline.md
"Where the gains are").

A repair that comes back as a copy of an existing candidate (small models often return the
code they are shown) is retried once, hotter and without showing the code (only what it got
wrong), before it counts as an attempt without result. Limits: ``max_repairs`` distinct
repairs over ``repair_rounds`` rounds, shared by both repair stages.

Two stages use this: ``first_repair`` repairs the failing probe straight after its feedback
exists (the cheapest rescue: one targeted fix, before paying for more candidates), and
``repair`` repairs the best failing candidates of the full pool.
"""

from __future__ import annotations

from proxy.pipeline import prompts, selftest
from proxy.pipeline.candidate import Candidate, from_generation, normal
from proxy.pipeline.generate import Generation, Generator
from proxy.pipeline.problem import Problem
from proxy.pipeline.select import rank
from proxy.pipeline.state import State

RETRY_HOTTER = 0.4  # added to temperature_repair for the retry of a copied repair


async def critique(
    generate: Generator,
    problem: Problem,
    code: str,
    failures: list[str],
    temperature: float,
    max_tokens: int,
) -> tuple[str, Generation]:
    gen = await generate(
        prompts.critique(problem, generate.chat, code, failures),
        stage="repair",
        temperature=temperature,
        max_tokens=min(max_tokens, 400),
    )
    return gen.text.strip()[:3000], gen


async def repair(
    generate: Generator,
    problem: Problem,
    code: str,
    failures: list[str],
    analysis: str,
    temperature: float,
    max_tokens: int,
    fresh: bool = False,
) -> Generation:
    return await generate(
        prompts.repair(problem, generate.chat, code, failures, analysis, fresh),
        stage="repair",
        temperature=temperature,
        max_tokens=max_tokens,
    )


def _no_feedback(st: State) -> bool:
    reports = [c.report for c in st.candidates if c.report]
    return bool(reports) and all(r.status == "sandbox_error" for r in reports)


async def _attempt(st: State, target: Candidate, rnd: int) -> Candidate | None:
    """Repair ``target`` (after a critique, with ``critique``); the new distinct candidate,
    tested, or None."""
    cfg = st.cfg
    fails = selftest.failures(target.report, st.tests, st.keep) if target.report else []
    analysis, errors = "", []
    if cfg.critique:
        st.emit(f"repair round {rnd}: critiquing {target.origin} {target.id + 1}\n")
        analysis, cgen = await critique(
            st.generate, st.problem, target.code, fails, cfg.temperature_critique, cfg.max_tokens
        )
        errors += [cgen.error] if cgen.error else []
    else:
        st.emit(f"repair round {rnd}: repairing {target.origin} {target.id + 1}\n")
    record = {"round": rnd, "parent": target.id, "feedback": fails, "critique": analysis}
    cand = None
    retry = min(2.0, cfg.temperature_repair + RETRY_HOTTER)
    for temperature, fresh in ((cfg.temperature_repair, False), (retry, True)):
        gen = await repair(
            st.generate,
            st.problem,
            target.code,
            fails,
            analysis,
            temperature,
            cfg.max_tokens,
            fresh,
        )
        errors += [gen.error] if gen.error else []
        label = f"round {rnd} of candidate {target.id}"
        cand = from_generation(st.new_id(), "repair", gen, st.problem, label, target.id)
        known = {normal(c.code) for c in st.candidates}
        if cand.code and normal(cand.code) not in known:
            break
        record.setdefault("copies", 0)
        record["copies"] += 1
        record.setdefault("copied_outputs", []).append(gen.text[:1500])
        cand = None
        if gen.error or st.generate.budget.exhausted():
            break
    record["errors"] = errors
    if cand is None:
        record["result"] = "no distinct code"
        st.repair_log.append(record)
        st.trace.set("repairs", st.repair_log)
        st.emit(f"repair of {target.origin} {target.id + 1}: no distinct code\n")
        return None
    st.candidates.append(cand)
    await st.test(cand)
    record.update(result="passes" if cand.passes else "fails", candidate=cand.id)
    st.repair_log.append(record)
    st.trace.set("repairs", st.repair_log)  # kept up to date: the budget may end the run
    st.emit(st.describe(cand))
    return cand


def _can_repair(st: State) -> bool:
    return (
        st.repairs_distinct < st.cfg.max_repairs
        and st.repair_rounds < st.cfg.repair_rounds
        and not st.passing()
        and not st.generate.budget.exhausted()
    )


async def stage_first_repair(st: State) -> None:
    """One repair of the failing probe, before more candidates are generated."""
    probe = next((c for c in st.candidates if c.origin == "probe"), None)
    if probe is None or not probe.code or probe.passes or _no_feedback(st) or not _can_repair(st):
        return
    st.repair_rounds += 1
    st.repaired.add(probe.id)
    if await _attempt(st, probe, st.repair_rounds):
        st.repairs_distinct += 1
    _record(st)


async def stage_repair(st: State) -> None:
    """Repair rounds over the whole pool: the best failing candidates first; a later round
    refines the previous round's repairs."""
    if _no_feedback(st):
        st.trace.degrade("repair skipped: the sandbox gives no feedback")
        return
    per_round = max(1, -(-st.cfg.max_repairs // max(1, st.cfg.repair_rounds)))
    previous: list[Candidate] = []
    while _can_repair(st):

        def open_(cands: list[Candidate]) -> list[Candidate]:
            return [c for c in rank(cands) if c.code and not c.passes and c.id not in st.repaired]

        targets = (open_(previous) or open_(st.candidates))[:per_round]
        if not targets:
            break
        st.repair_rounds += 1
        previous = []
        for target in targets:
            if not (st.repairs_distinct < st.cfg.max_repairs) or st.passing():
                break
            if st.generate.budget.exhausted():
                break
            st.repaired.add(target.id)
            cand = await _attempt(st, target, st.repair_rounds)
            if cand is not None:
                st.repairs_distinct += 1
                previous.append(cand)
    _record(st)


def _record(st: State) -> None:
    st.trace.set("repairs", st.repair_log)
    if st.repair_log and not st.passing():
        st.trace.degrade(
            f"repair gave up after {len(st.repair_log)} attempt(s), {st.repairs_distinct} distinct"
        )
