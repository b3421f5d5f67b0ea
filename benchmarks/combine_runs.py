#!/usr/bin/env python3
"""One table from several bench runs: disjoint task sets, or a rerun of some tasks.

    python benchmarks/combine_runs.py RUN [RUN ...] [--baseline plain] [--arm atlas]

Runs are read in the order given; for each arm and task the records of the *last* run that
holds that task for that arm are used, so a later run of some tasks (a new default measured
where it can change anything) replaces the earlier run's records for them, baseline and arm
alike. Every run must have both arms. It prints, per arm, pass@1 over the union of tasks;
the paired difference against the baseline (Tango interval, the same as ``bench report``),
the tasks gained and lost and the exact sign test on them; and, for each task a later run
replaced, whether its result changed, so a rerun's effect is visible on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.bench.metrics import paired_difference, sign_test  # noqa: E402
from proxy.bench.records import SampleRecord, read_config, read_samples  # noqa: E402

PerTask = dict[str, tuple[int, int]]


def per_task(records: list[SampleRecord], arm: str) -> PerTask:
    """task -> (samples, passed) for one arm of one run; a crash counts as a failed sample."""
    out: dict[str, tuple[int, int]] = {}
    for r in records:
        if r.arm == arm:
            n, c = out.get(r.task_id, (0, 0))
            out[r.task_id] = (n + 1, c + r.passed)
    return out


def combine(runs: list[PerTask]) -> tuple[PerTask, dict[str, tuple[tuple[int, int], ...]]]:
    """The last run's result per task, and each replaced task's results in run order."""
    merged: PerTask = {}
    history: dict[str, list[tuple[int, int]]] = {}
    for run in runs:
        for task, result in run.items():
            history.setdefault(task, []).append(result)
            merged[task] = result
    replaced = {t: tuple(h) for t, h in history.items() if len(h) > 1}
    return merged, replaced


def _solved(result: tuple[int, int]) -> bool:
    return result[1] == result[0] > 0


def report(runs: list[Path], baseline: str, arm: str) -> list[str]:
    tables = {name: [] for name in (baseline, arm)}
    lines = []
    for run in runs:
        names = [a.name for a in read_config(run).arms]
        missing = [n for n in tables if n not in names]
        if missing:
            raise SystemExit(f"{run} has no arm {missing[0]!r} (it has {names})")
        records = read_samples(run)
        for name in tables:
            tables[name].append(per_task(records, name))
        lines.append(f"{run}: {len(tables[arm][-1])} tasks")
    merged, replaced = {}, {}
    for name, per_run in tables.items():
        merged[name], replaced[name] = combine(per_run)
    base, ours = merged[baseline], merged[arm]
    tasks = sorted(set(base) & set(ours), key=_task_order)
    lines.append("")
    for name in (baseline, arm):
        solved = sum(_solved(merged[name][t]) for t in tasks)
        lines.append(f"{name}: {solved}/{len(tasks)} = {100 * solved / len(tasks):.1f}%")
    diff = paired_difference({t: ours[t] for t in tasks}, {t: base[t] for t in tasks}, 1, seed=0)
    gained = [t for t in tasks if _solved(ours[t]) and not _solved(base[t])]
    lost = [t for t in tasks if _solved(base[t]) and not _solved(ours[t])]
    lines.append(f"{arm} - {baseline}: {100 * diff['delta']:+.1f} pp "
                 f"[{100 * diff['lo']:+.1f}, {100 * diff['hi']:+.1f}] ({diff['method']}), "
                 f"gained {len(gained)}, lost {len(lost)}, sign test p = "
                 f"{sign_test(len(gained), len(lost)):.3g}")
    lines.append(f"  gained: {' '.join(gained) or '-'}")
    lines.append(f"  lost: {' '.join(lost) or '-'}")
    for name in (baseline, arm):
        moved = {t: h for t, h in replaced[name].items() if t in tasks}
        if not moved:
            continue
        up = [t for t, h in moved.items() if _solved(h[-1]) and not _solved(h[-2])]
        down = [t for t, h in moved.items() if _solved(h[-2]) and not _solved(h[-1])]
        lines.append(f"{name}, {len(moved)} tasks replaced by a later run: "
                     f"{sum(_solved(h[-2]) for h in moved.values())} -> "
                     f"{sum(_solved(h[-1]) for h in moved.values())} solved "
                     f"(now solved: {' '.join(sorted(up, key=_task_order)) or '-'}; "
                     f"no longer: {' '.join(sorted(down, key=_task_order)) or '-'})")
    return lines


def _task_order(task: str) -> tuple[str, int, str]:
    """HumanEval/9 before HumanEval/10: numeric suffixes sort as numbers."""
    head, _, tail = task.rpartition("/")
    return (head, int(tail), "") if tail.isdigit() else (head, -1, tail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--baseline", default="plain")
    ap.add_argument("--arm", default="atlas")
    args = ap.parse_args()
    print("\n".join(report(args.runs, args.baseline, args.arm)))


if __name__ == "__main__":
    main()
