#!/usr/bin/env python3
"""What the pipeline's own candidates were worth: grade every candidate of every trace.

    python benchmarks/pipeline_traces.py runs/bench/humaneval-12-optillm [--arm atlas]

For each sample of a bench run whose record holds ``atlas_trace`` (arms run with
``"atlas": {"trace": true}``), grades *every* candidate the pipeline produced with the task's
hidden tests, after the fact, in the sandbox, exactly as the harness grades answers. This is
measurement only: the request has long been answered when the hidden tests run here.

It prints, per task and in total:
  * chosen: the candidate the pipeline answered with passes the hidden tests (pass@1);
  * any: at least one of its candidates passes (the pipeline's own pass@k, k = its candidate
    count), so chosen/any is how much of its own best it delivered (target >= 0.9);
  * probe: the greedy probe (the first candidate) passes, i.e. what single-shot would give;
  * Lens: in requests where the Lens broke a tie, whether the choice with the Lens passes
    and whether the choice without it (same candidates, energies ignored) would have: a
    paired ablation on identical candidates, free of sampling noise. With ``--lens CARD``,
    traces made without a Lens get one after the fact: the candidates tied at the top (the
    ones the pipeline hands the Lens, ``proxy/pipeline/run.py``) are embedded with the
    model the config names and scored with those weights. Selection is the pipeline's last
    step, so this is exactly the answer it would have given with the Lens on.

Then a table of stage ablations *counterfactual on the same traces*: the pipeline's own
selection rerun with one stage's contribution taken out (no repair: repaired candidates
dropped; no plain samples: the ``plain_samples`` ones dropped, with their own tokens and
seconds; no second wave: the ``more_candidates`` ones dropped; no self-tests: candidates
scored on the prompt's examples alone; no Lens: energies ignored; probe only: the greedy
probe), with the tokens and seconds the request would have spent without that stage. Paired
and free of sampling noise, but a lower bound where the stage changed the pipeline's course
(e.g. a repair that passed stopped it before more candidates were drawn): stages that change
what is *generated* (PlanSearch, the early-exit checks) need their own arm
(`bench run --arm NAME=URL,model=atlas,extra=JSON`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.bench.datasets import load_tasks  # noqa: E402
from proxy.bench.records import read_config  # noqa: E402
from proxy.bench.traces import grade_candidates, trace_candidates, traced_records  # noqa: E402
from proxy.pipeline import select  # noqa: E402
from proxy.pipeline.candidate import Candidate  # noqa: E402
from proxy.pipeline.select import rank  # noqa: E402
from proxy.pipeline.selftest import score as selftest_score  # noqa: E402


def _examples_only(cand: Candidate) -> Candidate:
    """The candidate scored on the prompt's examples alone, as without model-written tests."""
    if cand.report is None:
        return cand
    keep = [False] * max(0, len(cand.report.passed) - cand.report.n_examples)
    value, passes = selftest_score(cand.report, keep, 1.0, 1.0)
    return msgspec.structs.replace(cand, score=value, passes=passes)


def counterfactuals(
    trace: dict, cands: list[Candidate]
) -> dict[str, tuple[int | None, int, float]]:
    """Ablation name -> (chosen id, tokens, seconds) had that stage not contributed."""
    stages = (trace.get("tokens") or {}).get("stages") or {}
    tok = {k: v.get("prompt_tokens", 0) + v.get("completion_tokens", 0) for k, v in stages.items()}
    secs = {k: v for k, v in (trace.get("timings") or {}).items() if k != "total"}
    total_t, total_s = sum(tok.values()), sum(secs.values())

    def choose(pool: list[Candidate]) -> int | None:
        ranked = rank(pool)
        return ranked[0].id if ranked else None

    probe = next((c for c in cands if c.origin == "probe"), None)
    blind = [msgspec.structs.replace(c, energy=None) for c in cands]
    return {
        "as answered": ((trace.get("selection") or {}).get("chosen"), total_t, total_s),
        "no Lens": (choose(blind), total_t, total_s - secs.get("lens", 0.0)),
        "no repair": (
            choose([c for c in cands if c.origin != "repair"]),
            total_t - tok.get("repair", 0),
            total_s - secs.get("repair", 0) - secs.get("first_repair", 0),
        ),
        "no plain samples": (
            choose([c for c in cands if c.origin != "sample"]),
            total_t - sum(c.tokens for c in cands if c.origin == "sample"),
            total_s - sum(c.seconds for c in cands if c.origin == "sample"),
        ),
        "no second wave": (
            choose([c for c in cands if c.origin != "more"]),
            total_t - tok.get("more_candidates", 0),
            total_s - secs.get("more_candidates", 0),
        ),
        "no self-tests": (
            # Energies dropped too: the Lens scored the ties under self-tests, not these.
            choose([_examples_only(c) for c in blind]),
            total_t - tok.get("selftests", 0),
            total_s - secs.get("selftests", 0),
        ),
        "probe only": (
            probe.id if probe else None,
            tok.get("probe", 0),
            secs.get("probe", 0.0),
        ),
    }


def top_ties(cands: list[Candidate]) -> list[Candidate]:
    """The candidates the pipeline asks the Lens about (its own rule); none without a tie."""
    ties = select.top_ties(rank(cands))
    return ties if len(ties) > 1 else []


class AfterTheFactLens:
    """Energies for traces made without a Lens: embed with the configured model, score with
    the card's weights, through the embedding caches ``lens train`` uses (in-context weights:
    each trace's tied candidates read after that request's messages)."""

    def __init__(self, card: Path, config: str | None) -> None:
        from proxy.lens.store import load

        self.model, self.card = load(card)
        self.config = config

    async def fill(self, items: list[tuple[list[Candidate], list[dict]]]) -> None:
        from proxy.lens import cli

        wanted = [(ties, messages) for cands, messages in items
                  if (ties := [c for c in top_ties(cands) if c.energy is None])]
        if not wanted:
            return
        if (self.card.get("embedding") or {}).get("context") == "request":
            await self._fill_in_context(wanted)
            return
        flat = [c for ties, _ in wanted for c in ties]
        args = argparse.Namespace(config=self.config, cache=None, batch=1)
        vectors, _ = await cli._embed_all(args, [c.code for c in flat])
        for cand, energy in zip(flat, self.model.energy(vectors)):
            cand.energy = float(energy)

    async def _fill_in_context(self, wanted: list[tuple[list[Candidate], list[dict]]]) -> None:
        """What the pipeline's scorer computes (``LensScorer`` with in-context weights),
        through the in-context cache of ``lens train``, so a rerun embeds nothing again."""
        from proxy.lens import cli, in_context

        flat = [(c, messages) for ties, messages in wanted for c in ties]
        backend = await cli.make_backend(self.config)
        try:
            cache = in_context.cache_for(backend.info.fingerprint)
            vectors = await in_context.embed(cache, backend,
                                             [(messages, c.code) for c, messages in flat],
                                             self.card["embedding"].get("lead", ""))
        finally:
            await backend.aclose()
        for (cand, _), energy in zip(flat, self.model.energy(vectors)):
            cand.energy = float(energy)


def choices(trace: dict, cands: list[Candidate] | None = None
            ) -> tuple[list[Candidate], int | None, int | None]:
    """(candidates, chosen id, the id chosen had the Lens been off). Given ``cands`` with
    energies filled after the fact, "chosen" is the pipeline's choice with those energies."""
    chosen = (trace.get("selection") or {}).get("chosen")
    if cands is None:
        cands = trace_candidates(trace)
    elif any(c.energy is not None for c in cands):
        chosen = rank(cands)[0].id
    if not any(c.energy is not None for c in cands):
        return cands, chosen, chosen
    blind = [msgspec.structs.replace(c, energy=None) for c in cands]
    ranked = rank(blind)
    return cands, chosen, ranked[0].id if ranked else None


async def analyse(run_dir: Path, arm: str | None,
                  after: AfterTheFactLens | None = None) -> dict | None:
    import sandbox as sandbox_pkg

    records = traced_records(run_dir, arm)
    filled: dict[int, list[Candidate]] = {}
    if after is not None:  # embed first: the model and the sandbox are not needed together
        for i, rec in enumerate(records):
            try:
                cands = trace_candidates(rec.atlas_trace)
            except msgspec.ValidationError:
                continue
            if not any(c.energy is not None for c in cands):
                filled[i] = cands
        await after.fill([(cands, list(records[i].request.get("messages") or []))
                          for i, cands in filled.items()])
    config = read_config(run_dir)
    tasks = {t.task_id: t for t in load_tasks(config.dataset, config.split)}
    box = sandbox_pkg.make_sandbox(sandbox_pkg.SandboxConfig())
    totals = {"traces": 0, "chosen": 0, "any": 0, "probe": 0, "lens_used": 0,
              "lens_pass": 0, "nolens_pass": 0, "lens_differs": 0,
              "lens_s": 0.0, "lens_total_s": 0.0, "ties": 0, "mixed_ties": 0}
    gained: list[str] = []
    lost: list[str] = []
    ablation: dict[str, list[tuple[bool, int, float]]] = {}
    try:
        print(f"{'task':<14} {'cands':>5} {'passing':>7} chosen probe lens")
        for i, rec in enumerate(records):
            spec = tasks[rec.task_id].grading
            try:
                cands, chosen, blind = choices(rec.atlas_trace, filled.get(i))
            except msgspec.ValidationError as exc:
                print(f"{rec.task_id:<14} unreadable trace ({exc}), skipped")
                continue
            grades = await grade_candidates(box, spec, cands)
            passing = {cid for cid, g in grades.items() if g.passed}
            totals["traces"] += 1
            timings = rec.atlas_trace.get("timings") or {}
            if "lens" in timings:  # traces from before the Lens had its own timing lack it
                totals["lens_s"] += timings["lens"]
                totals["lens_total_s"] += timings.get("total", 0)
            rows = counterfactuals(rec.atlas_trace, cands)
            if after is not None:
                _, tokens, seconds = rows["as answered"]
                rows["Lens after"] = (chosen, tokens, seconds)  # + embedding, not counted
            for name, (cid, tokens, seconds) in rows.items():
                ablation.setdefault(name, []).append((cid in passing, tokens, seconds))
            totals["chosen"] += chosen in passing
            # The Lens's whole room: a tie at the top holding a passing and a failing candidate.
            # (Energies only order a tie; they never change who is in it.)
            tied = {c.id for c in top_ties(cands)}
            totals["ties"] += bool(tied)
            totals["mixed_ties"] += bool(tied & passing) and bool(tied - passing)
            totals["any"] += bool(passing)
            probe = next((c.id for c in cands if c.origin == "probe"), None)
            totals["probe"] += probe in passing
            lens = "-"
            if any(c.energy is not None for c in cands):
                totals["lens_used"] += 1
                totals["lens_pass"] += chosen in passing
                totals["nolens_pass"] += blind in passing
                totals["lens_differs"] += chosen != blind
                if (chosen in passing) != (blind in passing):
                    (gained if chosen in passing else lost).append(rec.task_id)
                lens = f"with {chosen in passing}, without {blind in passing}"
            print(f"{rec.task_id:<14} {len(cands):>5} {len(passing):>7} "
                  f"{str(chosen in passing):>6} {str(probe in passing):>5} {lens}")
    finally:
        await box.aclose()
    n = totals["traces"]
    if not n:
        print("no traced samples")
        return None
    print(f"\n{n} traced requests: chosen passes {totals['chosen']}/{n}, some candidate "
          f"passes {totals['any']}/{n}, greedy probe passes {totals['probe']}/{n}")
    if totals["any"]:
        print(f"chosen / any = {totals['chosen'] / totals['any']:.2f} (target >= 0.9)")
    print(f"ties at the top after self-tests (what the Lens is asked about): {totals['ties']}; "
          f"holding both a passing and a failing candidate: {totals['mixed_ties']}")
    print(f"Lens consulted in {totals['lens_used']} requests, changed the choice in "
          f"{totals['lens_differs']}: passes with it {totals['lens_pass']}, "
          f"without it {totals['nolens_pass']}"
          + (f" (gained {', '.join(gained) or 'none'}; lost {', '.join(lost) or 'none'})"
             if totals["lens_used"] else ""))
    if totals["lens_total_s"]:
        print(f"Lens time where it ran: {totals['lens_s']:.1f} s of those requests' "
              f"{totals['lens_total_s']:.1f} s ({totals['lens_s'] / totals['lens_total_s']:.1%}; "
              "target <= 10%)")
    print("\nStage ablations, counterfactual on these traces (same candidates; see the docstring):")
    width = max(map(len, ablation)) + 1
    print(f"{'row':<{width}} {'passes':>7} {'tokens/task':>12} {'s/task':>7}"
          "   (tokens: prompt + completion)")
    for name, rows in ablation.items():
        passed = sum(r[0] for r in rows)
        print(f"{name:<{width}} {passed:>3}/{len(rows):<3} "
              f"{sum(r[1] for r in rows) / len(rows):>12.0f} "
              f"{sum(r[2] for r in rows) / len(rows):>7.1f}")
    return {"traces": n, "consulted": totals["lens_used"], "changed": totals["lens_differs"],
            "passes_with": totals["lens_pass"], "passes_without": totals["nolens_pass"],
            "gained": gained, "lost": lost, "ties": totals["ties"],
            "mixed_ties": totals["mixed_ties"],
            "task_ids": [rec.task_id for rec in records]}


def update_card(card_path: Path, run_dir: Path, result: dict, argv: list[str]) -> None:
    """Record the after-the-fact pipeline ablation in the card; if, over every run recorded,
    the Lens lost more tasks than it gained, that is a warning, which keeps it off."""
    import json
    import shlex

    from proxy.lens.dataset import split_of
    from proxy.lens.verdict import with_pipeline_verdict

    trained = sorted({t for t in result["task_ids"] if split_of(t) != "heldout"})
    if trained:
        raise SystemExit(f"not updating the card: {len(trained)} task(s) of {run_dir} are in "
                         "the Lens's train/validation splits, e.g. " + ", ".join(trained[:3]))
    card = json.loads(card_path.read_text())
    runs = card.setdefault("metrics", {}).setdefault("pipeline", {})
    runs[str(run_dir)] = {k: v for k, v in result.items() if k != "task_ids"} | {
        "command": "python benchmarks/pipeline_traces.py " + shlex.join(argv)}
    card["warnings"] = with_pipeline_verdict(card.get("warnings") or [], runs)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    for warning in card["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"updated {card_path}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--arm", help="only this arm (default: every arm with traces)")
    ap.add_argument("--lens", type=Path, metavar="CARD",
                    help="score tied candidates of Lens-less traces with these weights")
    ap.add_argument("--config", help="config naming the model that embeds (default config.toml)")
    ap.add_argument("--update-card", action="store_true",
                    help="with --lens, on held-out tasks: record the result in the card "
                         "(a warning, which keeps the Lens off, if it lost more than it gained)")
    args = ap.parse_args()
    if args.update_card and not args.lens:
        ap.error("--update-card needs --lens")
    lens = AfterTheFactLens(args.lens, args.config) if args.lens else None
    result = asyncio.run(analyse(args.run, args.arm, lens))
    if args.update_card and result is not None:
        update_card(args.lens, args.run, result, sys.argv[1:])


if __name__ == "__main__":
    main()
