"""Held-out metrics of a scorer: AUC, and how often it picks a passing candidate.

All functions take energies (lower = more likely correct) and pass/fail labels; none of
them ever sees a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the average of their positions."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def auc(energies: Sequence[float], passed: Sequence[bool]) -> float | None:
    """P(a random passing candidate has lower energy than a random failing one), ties
    counting one half (Mann-Whitney U). None when one class is empty."""
    e = np.asarray(energies, dtype=np.float64)
    y = np.asarray(passed, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(-e)  # higher rank = lower energy = "more likely correct"
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def within_task_auc(energies: Sequence[float], passed: Sequence[bool],
                    groups: Sequence[object]) -> float | None:
    """AUC over (pass, fail) pairs of the same task only, pooled over all such pairs: what
    selection needs (telling apart candidates of one problem, not easy problems from hard)."""
    e = np.asarray(energies, dtype=np.float64)
    y = np.asarray(passed, dtype=bool)
    g = np.asarray(groups)
    wins, pairs = 0.0, 0
    for key in dict.fromkeys(g.tolist()):
        m = g == key
        pos, neg = e[m & y], e[m & ~y]
        if len(pos) and len(neg):
            diff = neg[None, :] - pos[:, None]
            wins += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
            pairs += diff.size
    return wins / pairs if pairs else None


def _pick(energies: np.ndarray) -> int:
    """Lowest energy; the earliest candidate on a tie (as the pipeline's stable sort)."""
    return int(np.argmin(energies))


def selection(
    energies: Sequence[float],
    passed: Sequence[bool],
    groups: Sequence[object],
    order: Sequence[int] | None = None,
    *,
    k: int | None = 3,
    max_subsets: int = 2000,
    seed: int = 0,
) -> dict[str, float | int | None]:
    """Pick-best-of-k, among k-candidate pools of one task that hold at least one pass.

    For every task, every k-subset of its candidates (``k=None``: the whole task; more than
    ``max_subsets`` subsets: a seeded sample of them) is a pool; the Lens picks the lowest
    energy, "first" picks the candidate earliest in ``order`` (e.g. sample index), "random"
    is the expected value of a uniform pick (the pool's pass rate). "oracle" is 1 by
    construction. Each task weighs the same: its pools are averaged first.

    Returns ``lens``, ``random``, ``first`` (fractions), ``tasks`` (with such a pool),
    ``mixed_tasks`` and ``lens_mixed``/``random_mixed``/``first_mixed``: the same restricted
    to pools that hold a failing candidate too, the only ones where selection matters.
    """
    e = np.asarray(energies, dtype=np.float64)
    y = np.asarray(passed, dtype=bool)
    g = np.asarray(groups)
    o = np.arange(len(e)) if order is None else np.asarray(order)
    rng = np.random.default_rng(seed)
    per_task: list[tuple[float, float, float]] = []
    per_task_mixed: list[tuple[float, float, float]] = []
    for key in dict.fromkeys(g.tolist()):
        idx = np.flatnonzero(g == key)
        idx = idx[np.argsort(o[idx], kind="mergesort")]
        size = len(idx) if k is None else k
        if len(idx) < size or size < 1:
            continue
        pools = _sample(list(combinations(range(len(idx)), size)), max_subsets, rng)
        # Members in candidate order.
        _score_task([idx[list(pool)] for pool in pools], e, y, per_task, per_task_mixed)
    return {
        "k": k,
        "tasks": len(per_task),
        "lens": _column_mean(per_task, 0),
        "random": _column_mean(per_task, 1),
        "first": _column_mean(per_task, 2),
        "mixed_tasks": len(per_task_mixed),
        "lens_mixed": _column_mean(per_task_mixed, 0),
        "random_mixed": _column_mean(per_task_mixed, 1),
        "first_mixed": _column_mean(per_task_mixed, 2),
    }


def selection_vs_probe(
    energies: Sequence[float],
    passed: Sequence[bool],
    groups: Sequence[object],
    probe: Sequence[bool],
    *,
    k: int = 3,
    max_subsets: int = 2000,
    seed: int = 0,
) -> dict[str, float | int | None]:
    """The pipeline's own situation: a pool of the greedy probe plus k-1 sampled candidates
    of the same task, the probe first (among candidates the self-tests cannot tell apart,
    the pipeline's fallback is the probe). ``probe`` marks each task's greedy candidate;
    tasks without exactly one are skipped. Pools are the probe plus every (k-1)-subset of
    the task's other candidates (a seeded sample beyond ``max_subsets``), kept when one of
    them passes; each task weighs the same. "probe" = picking the probe; the ``*_mixed``
    values are restricted to pools that also hold a failing candidate."""
    e = np.asarray(energies, dtype=np.float64)
    y = np.asarray(passed, dtype=bool)
    g = np.asarray(groups)
    is_probe = np.asarray(probe, dtype=bool)
    rng = np.random.default_rng(seed)
    per_task: list[tuple[float, float, float]] = []
    per_task_mixed: list[tuple[float, float, float]] = []
    for key in dict.fromkeys(g.tolist()):
        anchors = np.flatnonzero((g == key) & is_probe)
        others = np.flatnonzero((g == key) & ~is_probe)
        if len(anchors) != 1 or len(others) < k - 1:
            continue
        pools = _sample(list(combinations(others.tolist(), k - 1)), max_subsets, rng)
        # The probe first, then the others in candidate order.
        _score_task([[int(anchors[0]), *pool] for pool in pools], e, y, per_task,
                    per_task_mixed)
    return {"k": k, "tasks": len(per_task), "lens": _column_mean(per_task, 0),
            "random": _column_mean(per_task, 1), "probe": _column_mean(per_task, 2),
            "mixed_tasks": len(per_task_mixed), "lens_mixed": _column_mean(per_task_mixed, 0),
            "random_mixed": _column_mean(per_task_mixed, 1), "probe_mixed": _column_mean(per_task_mixed, 2)}


def summary(energies: Sequence[float], passed: Sequence[bool], groups: Sequence[object],
            order: Sequence[int] | None = None, *, k: int = 3,
            tasks: Sequence[object] | None = None,
            probe: Sequence[bool] | None = None) -> dict[str, object]:
    """AUC, within-task AUC (by ``tasks``, default ``groups``), selection among k-pools of
    ``groups``, and, when some candidates are marked ``probe``, selection vs the probe."""
    y = np.asarray(passed, dtype=bool)
    tasks = groups if tasks is None else tasks
    out = {
        "candidates": len(y),
        "passing": int(y.sum()),
        "tasks": len(set(np.asarray(tasks).tolist())),
        "auc": auc(energies, passed),
        "within_task_auc": within_task_auc(energies, passed, tasks),
        "selection": selection(energies, passed, groups, order, k=k),
    }
    if probe is not None and np.asarray(probe, dtype=bool).any():
        out["selection_vs_probe"] = selection_vs_probe(energies, passed, tasks, probe, k=k)
    return out


def _sample(pools: list[tuple], max_subsets: int, rng: np.random.Generator) -> list[tuple]:
    """All pools, or a seeded sample of ``max_subsets`` of them in their original order."""
    if len(pools) <= max_subsets:
        return pools
    chosen = rng.choice(len(pools), size=max_subsets, replace=False)
    return [pools[i] for i in sorted(chosen)]


def _score_task(pools, e, y, per_task, per_task_mixed) -> None:  # noqa: ANN001
    """Average (Lens pick passes, pool pass rate, first member passes) over the task's pools
    that hold a passing candidate, and separately over those that also hold a failing one;
    each task then weighs the same."""
    rows, rows_mixed = [], []
    for members in pools:
        labels = y[members]
        if not labels.any():
            continue
        row = (float(labels[_pick(e[members])]), float(labels.mean()), float(labels[0]))
        rows.append(row)
        if not labels.all():
            rows_mixed.append(row)
    if rows:
        per_task.append(tuple(np.mean(rows, axis=0)))
    if rows_mixed:
        per_task_mixed.append(tuple(np.mean(rows_mixed, axis=0)))


def _column_mean(rows: list[tuple[float, float, float]], i: int) -> float | None:
    return float(np.mean([r[i] for r in rows])) if rows else None
