"""The generating stages: probe, self-tests, candidates (PlanSearch, approach hints, plain
samples).
Each takes the request's ``State`` and adds to it; ``run.py`` picks them from its table."""

from __future__ import annotations

import asyncio

import msgspec

from proxy.pipeline import diversity, plansearch, selftest
from proxy.pipeline.candidate import Candidate, from_generation
from proxy.pipeline.generate import Generation
from proxy.pipeline.prompts import code as code_prompt
from proxy.pipeline.state import State


async def _new_candidate(
    st: State, origin: str, gen: Generation, label: str = "", parent: int | None = None
) -> Candidate:
    cand = from_generation(st.new_id(), origin, gen, st.problem, label, parent)
    st.candidates.append(cand)
    if cand.note:
        st.trace.degrade(f"candidate {cand.id}: {cand.note}")
    return cand


async def stage_probe(st: State) -> None:
    cfg = st.cfg
    gen = await st.generate(
        code_prompt(st.problem, st.generate.chat),
        stage="probe",
        temperature=cfg.temperature_probe,
        max_tokens=cfg.max_tokens,
    )
    cand = await _new_candidate(st, "probe", gen, "greedy")
    await st.test(cand)
    st.emit(st.describe(cand))


async def stage_selftests(st: State) -> None:
    cfg, problem = st.cfg, st.problem
    if problem.language != "python" or not problem.entry_point or cfg.n_selftests == 0:
        st.trace.set("selftests", {"skipped": "no Python entry point to test"})
        st.selftests_done = True
        return
    kept, dropped, gen = await selftest.write_tests(
        st.generate, problem, cfg.n_selftests, cfg.temperature_selftests, cfg.max_tokens
    )
    st.model_tests = kept
    st.keep = [True] * len(kept)
    st.selftests_done = True
    st.trace.set(
        "selftests", {"kept": [t.test for t in kept], "dropped": dropped, "error": gen.error}
    )
    if gen.error:
        st.trace.degrade(f"self-tests: {gen.error}")
    st.emit(
        f"self-tests: {len(kept)} written"
        + (f", {len(dropped)} dropped as contradicting the prompt" if dropped else "")
        + "\n"
    )
    # Candidates tested before the model's tests existed are tested again, with them.
    async with asyncio.TaskGroup() as group:
        for cand in st.candidates:
            group.create_task(st.test(cand))
    for cand in st.candidates:
        st.emit(st.describe(cand))


async def stage_candidates(st: State) -> None:
    cfg, problem = st.cfg, st.problem
    want = cfg.k - len(st.candidates)
    if want <= 0:
        return
    plain = min(cfg.plain_samples, want)
    notes, plan_list = "", []
    if cfg.plansearch and want > plain:
        notes, gen = await plansearch.observations(
            st.generate, problem, cfg.temperature_constraints, cfg.max_tokens
        )
        plan_list, gen2 = await plansearch.plans(
            st.generate, problem, notes, want - plain, cfg.temperature_plans, cfg.max_tokens
        )
        st.trace.set(
            "plansearch",
            {
                "observations": notes,
                "plans": plan_list,
                "errors": [g.error for g in (gen, gen2) if g.error],
            },
        )
        st.emit(f"plans: {len(plan_list)} approaches\n")
    hints = diversity.hints(want - plain) if cfg.diversity else [""] * (want - plain)
    await _generate_and_test(
        st, hints, plan_list, notes, total=cfg.k, stage="candidates", origin="approach",
        plain=plain,
    )
    st.pool_done = True
    st.refilter()


async def stage_more_candidates(st: State) -> None:
    """A second wave for the tasks where nothing passed: more approach candidates, with the
    hints the first wave did not use, a batch at a time, stopping at the first batch that
    holds a passing one. Tasks the probe solves never get here, so the extra cost lands only
    where the first k (and their repairs) all failed."""
    cfg = st.cfg
    # Every call is seeded alike, so only a new hint makes a new candidate: without hints,
    # or once they are used up, more calls would repeat earlier ones.
    used = sum(1 for c in st.candidates if c.origin in ("approach", "plan"))
    more = min(cfg.more_candidates, diversity.DISTINCT - used) if cfg.diversity else 0
    if more <= 0:
        st.trace.set("more_candidates", {"skipped": "no unused approach hints"})
        return
    hints = diversity.hints(used + more)[used:]
    st.emit(f"nothing passes yet: {more} more approaches\n")
    batch = max(1, st.generate.info.concurrency)
    for start in range(0, more, batch):
        await _generate_and_test(
            st, hints[start : start + batch], [], "",
            total=None, stage="more_candidates", origin="more",
        )
        st.refilter()
        if st.passing():
            break


async def _generate_and_test(
    st: State,
    hints: list[str],
    plan_list: list[str],
    notes: str,
    total: int | None,
    stage: str,
    origin: str,
    plain: int = 0,
) -> None:
    """``plain`` plain samples (origin "sample"), then one candidate per hint (or plan:
    origin "plan"), each tested as soon as it exists. The second wave passes its own stage
    and origin, so ablations can leave it out."""
    cfg, problem = st.cfg, st.problem

    async def tested(cand: Candidate) -> None:
        await st.test(cand)
        st.emit(st.describe(cand, total))

    async def sample(i: int, group: asyncio.TaskGroup) -> None:
        # The probe's own prompt, sampled: its seed (the probe's is 0) makes it differ.
        prompt = msgspec.structs.replace(code_prompt(problem, st.generate.chat), seed=i + 1)
        gen = await st.generate(
            prompt, stage=stage, temperature=cfg.temperature_diversity, max_tokens=cfg.max_tokens
        )
        cand = await _new_candidate(st, "sample", gen, f"plain sample, seed {i + 1}")
        group.create_task(tested(cand))

    async def one(i: int, group: asyncio.TaskGroup) -> None:
        plan = plan_list[i] if i < len(plan_list) else ""
        hint = hints[i]
        temperature = (
            cfg.temperature_code
            if plan
            else cfg.temperature_diversity
            if hint
            else cfg.temperature_code
        )
        prompt = code_prompt(
            problem, st.generate.chat, hint=hint, plan=plan, notes=notes if plan else ""
        )
        gen = await st.generate(
            prompt, stage=stage, temperature=temperature, max_tokens=cfg.max_tokens
        )
        cand = await _new_candidate(st, "plan" if plan else origin, gen, plan or hint)
        # Test while the next candidate generates (sandbox work overlaps generation).
        group.create_task(tested(cand))

    # A task group: an error or a cancellation (client gone, budget) stops every sibling.
    # Generations are all started at once; the Generator's gate lets through as many as
    # the backend runs well together (one for the embedded model), in creation order.
    async with asyncio.TaskGroup() as group:
        for i in range(plain):
            group.create_task(sample(i, group))
        for i in range(len(hints)):
            group.create_task(one(i, group))
