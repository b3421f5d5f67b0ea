#!/usr/bin/env python3
"""Approach hints or plain samples for the pipeline's candidate slots? Coverage of each mix.

    atlas-proxy lens traces runs/bench/PIPELINE_RUN --out runs/lens/traces-PIPELINE_RUN
    python benchmarks/hints_vs_samples.py --traces runs/lens/traces-PIPELINE_RUN:ARM \
        --samples runs/bench/PLAIN_T0.8_RUN [--slots 3]

``--traces``: a pipeline run's candidates graded by ``lens traces`` (default knobs: the
approach candidates are the hints in their fixed order, seed 0). ``--samples``: the plain
model on the same tasks at ``temperature_diversity`` (``bench run --n 4 --temperature 0.8``),
whose sample i has seed i, exactly what ``plain_samples`` draws for slot i (seeds 1, 2, ...;
sample 0 is used last). On the tasks where neither the probe nor the first repair passed
the hidden tests (the ones the candidate slots exist for), it prints in how many some
candidate of each mix, p plain samples and slots - p hints, passes: the coverage no
selection can beat. Measurement only: the labels come from the hidden tests, after the fact.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def coverage(traces: dict[str, list], samples: dict[str, list], slots: int
             ) -> tuple[int, list[int]]:
    """(tasks compared, tasks covered by p plain samples + slots - p hints, for p = 0..slots)."""
    covered, tasks = [0] * (slots + 1), 0
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
        tasks += 1
        seeded = plain[1:] + plain[:1]  # seeds 1, 2, ... as plain_samples draws them
        for p in range(slots + 1):
            covered[p] += any(c.passed for c in seeded[:p] + hinted[: slots - p])
    return tasks, covered


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", required=True, help="RUN or RUN:ARM written by lens traces")
    ap.add_argument("--samples", required=True, help="RUN or RUN:ARM of plain samples")
    ap.add_argument("--slots", type=int, default=3, help="candidate slots to fill (3)")
    args = ap.parse_args()
    tasks, covered = coverage(_by_task(args.traces), _by_task(args.samples), args.slots)
    print(f"{tasks} tasks where the probe and the first repair fail")
    for p, n in enumerate(covered):
        print(f"  {p} plain samples + {args.slots - p} hints: some candidate passes in {n}")


if __name__ == "__main__":
    main()
