#!/usr/bin/env python3
"""How much a perfect selector could add over greedy single shot: the model's own ceiling.

    python benchmarks/headroom.py --greedy runs/lens/mbpp-train-t0.0 \
        --samples runs/lens/mbpp-train-t0.6 [--samples runs/lens/mbpp-train-t1.0]

Reads graded bench runs of one model on one dataset (plain arms; `atlas-proxy lens collect`
makes exactly these; a run with several arms is named `RUN:ARM`, e.g.
`--greedy runs/bench/humaneval-40:plain`) and, over the tasks every run has finished, prints:
  * greedy pass@1 (the single-shot baseline);
  * pass@k of the sampled answers (unbiased estimator, Chen et al. 2021);
  * the oracle: the fraction of tasks where the greedy answer *or* one of the first j samples
    passes, for j = 0..n, and its gain over greedy with a paired 95% interval. No selection
    method over those candidates (self-tests, the Lens, voting) can beat that row, so it is
    the ceiling of any pipeline that draws 1 + j candidates this way and never repairs.

Measurement only, after the fact: the pass/fail labels come from the hidden tests the
harness graded with, which no request ever sees.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.bench.metrics import pass_at_k, tango_paired  # noqa: E402
from proxy.bench.records import read_config, read_samples, run_and_arm  # noqa: E402


def outcomes(spec: str) -> tuple[dict[str, list[bool]], float]:
    """Pass/fail of each finished task's samples in sample order, and the run's temperature,
    for ``RUN`` or ``RUN:ARM``. A task counts only once all its samples are recorded (runs can
    be cut off midway). A run with several arms needs the arm named: mixing a plain arm's
    answers with a pipeline's would measure neither."""
    try:
        run_dir, arm = run_and_arm(spec)
    except ValueError as exc:
        sys.exit(str(exc))
    config = read_config(run_dir)
    per_task: dict[str, dict[int, bool]] = defaultdict(dict)
    for rec in read_samples(Path(run_dir)):
        if rec.arm == arm:
            per_task[rec.task_id][rec.sample] = rec.status == "ok" and rec.passed
    done = {t: [s[i] for i in range(config.n)] for t, s in per_task.items()
            if all(i in s for i in range(config.n))}
    return done, config.temperature


def headroom(greedy: dict[str, bool], samples: dict[str, list[bool]]) -> list[dict]:
    """One row per j = 0..n: tasks solved by greedy or one of the first j samples, and the
    paired gain over greedy alone (only gains are possible: the oracle includes greedy)."""
    tasks = sorted(set(greedy) & set(samples))
    if not tasks:
        return []
    n = min(len(samples[t]) for t in tasks)
    base = sum(greedy[t] for t in tasks)
    rows = []
    for j in range(n + 1):
        solved = sum(greedy[t] or any(samples[t][:j]) for t in tasks)
        lo, hi = tango_paired(solved - base, 0, len(tasks))
        rows.append({"j": j, "solved": solved, "tasks": len(tasks),
                     "gain_pp": 100 * (solved - base) / len(tasks),
                     "ci_pp": (100 * lo, 100 * hi)})
    return rows


def sample_pass_at_k(samples: dict[str, list[bool]]) -> list[tuple[int, float]]:
    tasks = sorted(samples)
    n = min(len(samples[t]) for t in tasks)
    return [(k, sum(pass_at_k(n, sum(samples[t][:n]), k) for t in tasks) / len(tasks))
            for k in range(1, n + 1)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--greedy", required=True, help="RUN[:ARM] at temperature 0, n=1")
    p.add_argument("--samples", action="append", required=True,
                   help="RUN[:ARM], sampled (n>=1); several are pooled in the order given")
    args = p.parse_args()

    g, temp = outcomes(args.greedy)
    greedy = {t: v[0] for t, v in g.items()}
    runs = [outcomes(run) for run in args.samples]
    parts = [part for part, _ in runs]
    temps = [sample_temp for _, sample_temp in runs]
    common = set(greedy).intersection(*parts)
    pooled = {t: [x for part in parts for x in part[t]] for t in common}
    if not common:
        sys.exit("no task is finished in every run")
    n_tasks = len(common)
    solved = sum(greedy[t] for t in common)
    print(f"{n_tasks} tasks finished in every run; greedy (T={temp}) pass@1 "
          f"{solved}/{n_tasks} = {100 * solved / n_tasks:.1f}%")
    print(f"samples: {len(pooled[next(iter(common))])} per task at T={temps} (pooled in order)")
    for k, value in sample_pass_at_k(pooled):
        print(f"  sampled pass@{k}: {100 * value:.1f}%")
    print("oracle over greedy + the first j samples (the ceiling of any selection):")
    print("  j  solved       gain over greedy (95% CI, paired)")
    for row in headroom(greedy, pooled):
        lo, hi = row["ci_pp"]
        print(f"  {row['j']:<2} {row['solved']:>4}/{row['tasks']:<6}  "
              f"+{row['gain_pp']:.1f} pp [{lo:+.1f}, {hi:+.1f}]")


if __name__ == "__main__":
    main()
