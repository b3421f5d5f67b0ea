"""Estimators and the per-arm summary computed from a run's records.

* pass@k: the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)`` per task,
  computed as a product so it neither overflows nor loses precision, averaged over tasks.
* Intervals (95 %): with one sample per task and k = 1 the score is a binomial proportion
  over tasks, so the Wilson score interval is used (correct near 0 and 1, where a bootstrap
  collapses to a point). Otherwise a percentile bootstrap over tasks (tasks are the unit that
  varies between benchmarks; samples within a task are not independent of it), seeded.
* Paired difference vs the baseline arm, on the tasks both arms have: with one sample per
  task and k = 1, Tango's score interval for paired proportions (1998), which stays honest
  when no pair disagrees or every pair disagrees the same way (a bootstrap would then say
  [0, 0] or [-100, -100] pp, whatever the number of tasks). Otherwise the per-task difference
  of pass@k, bootstrapped over tasks (same resampled tasks for both arms, so the correlation
  between arms on a task is kept, which an unpaired comparison would throw away).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from .records import RunConfig, SampleRecord

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 10_000

# Cloud list prices in USD per million tokens (input, output) for the four models the seed
# report compared against: standard API rates (not batch, not cached) of Claude Haiku 4.5
# $1/$5 and Claude Sonnet 4.5 (and 4.6) $3/$15 (anthropic.com/pricing), GPT-4o $2.50/$10 and
# GPT-4o mini $0.15/$0.60 (openai.com/api/pricing), unchanged from late 2025 to mid 2026.
# Read on 2026-11-27 from third-party copies of those pages dated November 2025 to May 2026,
# not from the vendors' live pages (this machine has no internet): re-check before quoting,
# and override with --prices FILE (JSON {"name": [in, out]}).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "claude-haiku": (1.00, 5.00),
    "claude-sonnet": (3.00, 15.00),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n, of which
    c are correct, is correct."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # At 0 or total successes the bound is exactly 0 or 1; don't let rounding say 0.9999.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == total else min(1.0, centre + half)
    return (lo, hi)


def tango_paired(only_a: int, only_b: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Score interval for p_a - p_b from n paired binary outcomes, of which ``only_a`` passed
    for a alone and ``only_b`` for b alone (Tango 1998). The score statistic uses the
    maximum-likelihood cell probability under each candidate difference, so the interval keeps
    a width when no pair disagrees, or when every pair disagrees the same way."""
    if n == 0:
        return (-1.0, 1.0)

    def score(d: float) -> float:
        # Constrained MLE of P(b alone) given p_a - p_b = d: root of
        # 2n q^2 - B q - only_b d (1 - d) = 0.
        b = only_a * (1 + d) + only_b * (1 - d) - 2 * n * d
        q = (b + math.sqrt(max(0.0, b * b + 8 * n * only_b * d * (1 - d)))) / (4 * n)
        num = only_a - only_b - n * d
        var = n * (2 * q + d * (1 - d))
        if var <= 1e-15:
            return math.copysign(math.inf, num) if num else 0.0
        return num / math.sqrt(var)

    def solve(target: float, lo: float, hi: float) -> float:
        # score() falls as d rises: bisect for score(d) == target.
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if score(mid) > target else (lo, mid)
        return (lo + hi) / 2

    est = (only_a - only_b) / n
    lower = -1.0 if score(-1.0) <= z else solve(z, -1.0, est)
    upper = 1.0 if score(1.0) >= -z else solve(-z, est, 1.0)
    return (lower, upper)


def sign_test(gained: int, lost: int) -> float:
    """Two-sided exact sign test on the discordant pairs of a paired comparison: the chance,
    if either side were as likely to win each of them, of a split at least this uneven."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap_ci(values: np.ndarray, *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per task)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def default_ks(n: int) -> list[int]:
    return sorted({k for k in (1, 5, 10, 20, 50, 100) if k <= n} | {n})


def load_prices(path: str | None) -> dict[str, tuple[float, float]]:
    if not path:
        return dict(DEFAULT_PRICES)
    raw = json.loads(Path(path).read_text())
    return {name: (float(v[0]), float(v[1])) for name, v in raw.items()}


def _per_task(records: list[SampleRecord], task_ids: list[str]) -> dict[str, tuple[int, int]]:
    """task -> (samples recorded, samples passed). A crash is a recorded, failed sample: the
    user got no answer."""
    n: Counter[str] = Counter()
    c: Counter[str] = Counter()
    for r in records:
        n[r.task_id] += 1
        c[r.task_id] += r.passed
    return {t: (n[t], c[t]) for t in task_ids if n[t]}


def _pass_vector(per_task: dict[str, tuple[int, int]], tasks: list[str], k: int) -> np.ndarray:
    return np.array([pass_at_k(per_task[t][0], per_task[t][1], k) for t in tasks])


def pass_at_k_summary(per_task: dict[str, tuple[int, int]], k: int, *, seed: int,
                      resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    tasks = [t for t, (n, _) in per_task.items() if n >= k]
    if not tasks:
        return {"k": k, "value": None, "lo": None, "hi": None, "tasks": 0, "method": None}
    vec = _pass_vector(per_task, tasks, k)
    if k == 1 and all(per_task[t][0] == 1 for t in tasks):
        lo, hi = wilson(int(vec.sum()), len(tasks))
        method = "wilson"
    else:
        lo, hi = bootstrap_ci(vec, seed=seed, resamples=resamples)
        method = "bootstrap"
    return {"k": k, "value": float(vec.mean()), "lo": lo, "hi": hi, "tasks": len(tasks),
            "method": method}


def paired_difference(arm: dict[str, tuple[int, int]], base: dict[str, tuple[int, int]],
                      k: int, *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    tasks = [t for t in arm if t in base and arm[t][0] >= k and base[t][0] >= k]
    if not tasks:
        return {"k": k, "delta": None, "lo": None, "hi": None, "tasks": 0, "method": None}
    a, b = _pass_vector(arm, tasks, k), _pass_vector(base, tasks, k)
    # Tasks one arm always solves and the other never: the discordant pairs behind the delta.
    only_arm, only_base = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    if k == 1 and all(arm[t][0] == 1 and base[t][0] == 1 for t in tasks):
        lo, hi = tango_paired(only_arm, only_base, len(tasks))
        method = "tango"
    else:
        lo, hi = bootstrap_ci(a - b, seed=seed, resamples=resamples)
        method = "bootstrap"
    return {"k": k, "delta": float((a - b).mean()), "lo": lo, "hi": hi, "tasks": len(tasks),
            "only_arm": only_arm, "only_baseline": only_base, "method": method}


def busy_seconds(records: list[SampleRecord]) -> float:
    """Length of the union of request intervals: the time the endpoint was busy for this arm,
    right also when requests overlapped (concurrency > 1)."""
    spans = sorted((r.started_at, r.started_at + r.latency_s) for r in records)
    total, end = 0.0, -math.inf
    for s, e in spans:
        if e > end:
            total += e - max(s, end)
            end = e
    return total


def _quantiles(xs: list[float]) -> dict[str, float | None]:
    if not xs:
        return {"median": None, "p90": None, "count": 0}
    return {"median": float(np.median(xs)), "p90": float(np.percentile(xs, 90)), "count": len(xs)}


def health(records: list[SampleRecord], expected: int) -> dict[str, Any]:
    ok = [r for r in records if r.status == "ok"]
    grades = Counter(r.grade.status for r in ok if r.grade)
    return {
        "expected": expected,
        "recorded": len(records),
        "missing": expected - len(records),
        "ok": len(ok),
        "crashes": sum(r.status == "crash" for r in records),
        "crash_errors": sorted({(r.error or "")[:120] for r in records if r.status == "crash"})[:5],
        "retried": sum(r.attempts > 1 for r in records),
        "grader_errors": grades.get("grader_error", 0),
        "grade_status": dict(sorted(grades.items())),
        "no_code_block": sum(1 for r in ok if r.grade and not r.grade.code_found),
        "truncated": sum(r.finish_reason == "length" for r in ok),
        "usage_missing": sum(r.usage.prompt_tokens is None or r.usage.completion_tokens is None for r in ok),
        "traces": sum(r.atlas_trace is not None for r in ok),
    }


def arm_summary(config: RunConfig, records: list[SampleRecord], *, watts: float,
                kwh_price: float, prices: dict[str, tuple[float, float]]) -> dict[str, Any]:
    per_task = _per_task(records, config.task_ids)
    ks = config.ks or default_ks(config.n)
    ok = [r for r in records if r.status == "ok"]
    busy = busy_seconds(records)
    prompt = [r.usage.prompt_tokens for r in ok if r.usage.prompt_tokens is not None]
    completion = [r.usage.completion_tokens for r in ok if r.usage.completion_tokens is not None]
    mean_prompt = float(np.mean(prompt)) if prompt else None
    mean_completion = float(np.mean(completion)) if completion else None
    wh = watts * busy / 3600.0
    passed = sum(r.passed for r in records)
    samples = len(records)
    wh_per_sample = wh / samples if samples else None
    local_cost = wh_per_sample / 1000.0 * kwh_price if wh_per_sample is not None else None
    cloud = []
    for name, (p_in, p_out) in prices.items():
        cost = ((mean_prompt or 0.0) * p_in + (mean_completion or 0.0) * p_out) / 1e6
        cloud.append({"provider": name, "input_per_m": p_in, "output_per_m": p_out,
                      "cost_per_sample": cost,
                      "ratio": cost / local_cost if local_cost else None})
    tokens = sum(prompt) + sum(completion)
    return {
        "health": health(records, len(config.task_ids) * config.n),
        "tasks": len(per_task),
        "samples": samples,
        "passed": passed,
        "per_task": {t: list(v) for t, v in per_task.items()},
        "pass_at_k": [pass_at_k_summary(per_task, k, seed=config.seed) for k in ks],
        "latency_s": _quantiles([r.latency_s for r in records]),
        "time_to_solution_s": _quantiles([r.latency_s for r in records if r.passed]),
        "busy_s": busy,
        "samples_per_hour": samples / busy * 3600 if busy else None,
        "solved_per_hour": passed / busy * 3600 if busy else None,
        "prompt_tokens_mean": mean_prompt,
        "completion_tokens_mean": mean_completion,
        "prompt_tokens_reported": len(prompt),
        "completion_tokens_reported": len(completion),
        "energy_wh": wh,
        "wh_per_sample": wh_per_sample,
        "tokens_per_wh": tokens / wh if wh and (prompt or completion) else None,
        "passed_per_wh": passed / wh if wh else None,
        "local_cost_per_sample": local_cost,
        "cloud": cloud,
    }


def summarize(config: RunConfig, records: list[SampleRecord], *, watts: float | None = None,
              kwh_price: float | None = None,
              prices: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    watts = config.watts if watts is None else watts
    kwh_price = config.kwh_price if kwh_price is None else kwh_price
    prices = (config.prices or DEFAULT_PRICES) if prices is None else prices
    by_arm: dict[str, list[SampleRecord]] = defaultdict(list)
    wanted = set(config.task_ids)
    for r in records:
        if r.task_id in wanted and r.sample < config.n:
            by_arm[r.arm].append(r)
    arms = {a.name: arm_summary(config, by_arm[a.name], watts=watts, kwh_price=kwh_price,
                                prices=prices) for a in config.arms}
    base = config.arms[0].name
    ks = config.ks or default_ks(config.n)
    paired = {
        a.name: [paired_difference(_per_task(by_arm[a.name], config.task_ids),
                                   _per_task(by_arm[base], config.task_ids), k, seed=config.seed)
                 for k in ks]
        for a in config.arms[1:]
    }
    spans = [(r.started_at, r.started_at + r.latency_s) for r in records]
    return {
        "baseline": base,
        "ks": ks,
        "watts": watts,
        "kwh_price": kwh_price,
        "prices": {k: list(v) for k, v in prices.items()},
        "sessions": len({r.session for r in records}),
        "first_request": min((s for s, _ in spans), default=None),
        "last_response": max((e for _, e in spans), default=None),
        "arms": arms,
        "paired": paired,
    }
