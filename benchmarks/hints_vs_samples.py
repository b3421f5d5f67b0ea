#!/usr/bin/env python3
"""Approach hints or plain samples for the pipeline's candidate slots? Coverage of each mix.

    atlas-proxy lens traces runs/bench/PIPELINE_RUN --out runs/lens/traces-PIPELINE_RUN
    python benchmarks/hints_vs_samples.py --traces runs/lens/traces-PIPELINE_RUN:ARM \
        --samples runs/bench/PLAIN_T0.8_RUN [--traces ... --samples ...] [--slots 3]

``--traces``: a pipeline run's candidates graded by ``lens traces``, from a run with
``"atlas": {"plain_samples": 0}`` (the default before 2026-12-03), so that every slot holds
an approach candidate, the hints in their fixed order, seed 0; tasks with fewer approach
candidates than slots are left out. ``--samples``: the plain model on the same tasks at
``temperature_diversity`` (``bench run --n 4 --temperature 0.8``), whose sample i has seed
i, exactly what ``plain_samples`` draws for slot i (seeds 1, 2, ...; sample 0 is used last).
On the tasks where neither the probe nor the first repair passed the hidden tests (the ones
the candidate slots exist for), it prints in how many some candidate of each mix, p plain
samples and slots - p hints, passes: the coverage no selection can beat. Each mix is
compared with all hints (the default until 2026-12-03) task by task: the tasks it covers
that all hints miss, the reverse, and the exact sign test on those. Repeat
``--traces``/``--samples`` in pairs to pool runs (each pair's own counts are printed too).
Measurement only: the labels come from the hidden tests, after the fact.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.bench.metrics import sign_test  # noqa: E402
from proxy.bench.records import read_samples, run_and_arm  # noqa: E402


def _by_task(spec: str) -> dict[str, list]:
    try:
        run, arm = run_and_arm(spec)
    except ValueError as exc:
        sys.exit(str(exc))
    out: dict[str, list] = defaultdict(list)
    for rec in sorted(read_samples(run), key=lambda r: r.sample):
        if rec.status == "ok" and rec.arm == arm:
            out[rec.task_id].append(rec)
    return out


def covered_by_mix(traces: dict[str, list], samples: dict[str, list], slots: int
                   ) -> dict[str, list[bool]]:
    """Task -> whether p plain samples + slots - p hints cover it, for p = 0..slots; only the
    tasks where the probe and the first repair fail, with enough of both kinds of candidate."""
    out: dict[str, list[bool]] = {}
    for task, cands in traces.items():
        origin = [c.request.get("origin") for c in cands]
        hinted = [c for c, o in zip(cands, origin) if o == "approach"]
        plain = samples.get(task, [])
        if len(hinted) < slots or len(plain) < slots:
            continue
        first = [c for c, o in zip(cands, origin) if o == "probe"]
        first += [c for c, o in zip(cands, origin) if o == "repair"][:1]
        if any(c.passed for c in first):
            continue
        seeded = plain[1:] + plain[:1]  # seeds 1, 2, ... as plain_samples draws them
        out[task] = [any(c.passed for c in seeded[:p] + hinted[: slots - p])
                     for p in range(slots + 1)]
    return out


def versus_hints(rows: list[list[bool]], p: int) -> tuple[int, int]:
    """(tasks mix p covers and all hints miss, tasks all hints cover and mix p misses)."""
    return (sum(r[p] and not r[0] for r in rows), sum(r[0] and not r[p] for r in rows))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def report(rows: list[list[bool]], slots: int) -> list[str]:
    lines = [f"{len(rows)} tasks where the probe and the first repair fail"]
    for p in range(slots + 1):
        line = (f"  {_count(p, 'plain sample')} + {_count(slots - p, 'hint')}: some candidate "
                f"passes in {sum(r[p] for r in rows)}")
        if p:
            gained, lost = versus_hints(rows, p)
            line += (f"; vs {_count(slots, 'hint')} {gained} gained, {lost} lost "
                     f"(sign test p = {sign_test(gained, lost):.2f})")
        lines.append(line)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", required=True, action="append",
                    help="RUN or RUN:ARM written by lens traces (repeatable)")
    ap.add_argument("--samples", required=True, action="append",
                    help="RUN or RUN:ARM of plain samples, one per --traces")
    ap.add_argument("--slots", type=int, default=3, help="candidate slots to fill (3)")
    args = ap.parse_args()
    if len(args.traces) != len(args.samples):
        ap.error(f"{len(args.traces)} --traces but {len(args.samples)} --samples: "
                 "give them in pairs")
    pooled: list[list[bool]] = []
    for traces, samples in zip(args.traces, args.samples):
        rows = list(covered_by_mix(_by_task(traces), _by_task(samples), args.slots).values())
        pooled += rows
        if len(args.traces) > 1:
            print(f"{traces} with {samples}:")
            print("\n".join("  " + line for line in report(rows, args.slots)))
    if len(args.traces) > 1:
        print(f"pooled over {len(args.traces)} pairs:")
    print("\n".join(report(pooled, args.slots)))


if __name__ == "__main__":
    main()
