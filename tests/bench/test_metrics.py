"""pass@k against hand-computed values, interval coverage on simulated data, the summary."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from proxy.bench.grading import Grade
from proxy.bench.metrics import (
    bootstrap_ci,
    busy_seconds,
    default_ks,
    pass_at_k,
    pass_at_k_summary,
    sign_test,
    summarize,
    tango_paired,
    wilson,
)
from proxy.bench.records import Arm, RunConfig, SampleRecord, Usage


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),  # c/n
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (5, 2, 3, 0.9),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
        (5, 2, 4, 1.0),  # n - c < k: every draw of 4 holds a correct one
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (10, 0, 5, 0.0),
        (10, 10, 1, 1.0),
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
    ],
)
def test_pass_at_k_hand_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_stable_for_large_n() -> None:
    # C(200, 100) overflows a float; the product form must still match exact arithmetic.
    for c in (1, 7, 50, 100, 150, 199):
        for k in (1, 10, 50, 100):
            exact = 1 - Fraction(math.comb(200 - c, k), math.comb(200, k))
            assert pass_at_k(200, c, k) == pytest.approx(float(exact), abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, 2, 6), (5, 2, 0), (5, -1, 1)])
def test_pass_at_k_rejects_impossible_input(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_wilson_hand_values() -> None:
    # Textbook values of the Wilson score interval at 95%.
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson(94, 164) == pytest.approx((0.4966, 0.6463), abs=1e-4)


def test_tango_paired_hand_values() -> None:
    # No pair disagrees among 100: Z(d) = -10 sqrt(d / (1 - d)) = -1.96 at d = 0.0384/1.0384.
    lo, hi = tango_paired(0, 0, 100)
    assert hi == pytest.approx(1.959964**2 / 100 / (1 + 1.959964**2 / 100), abs=1e-6)
    assert lo == pytest.approx(-hi, abs=1e-9)
    # 3 of 3 pairs favour a: Z(d) = sqrt(3 (1 - d) / (1 + d)) = 1.96 at d = (3 - z^2) / (3 + z^2).
    z2 = 1.959964**2
    assert tango_paired(3, 0, 3) == pytest.approx(((3 - z2) / (3 + z2), 1.0), abs=1e-6)
    # ... which includes 0, as the exact sign test (p = 0.25) says it must.
    assert tango_paired(0, 3, 3)[1] > 0
    assert tango_paired(2, 9, 44) == pytest.approx(tuple(-x for x in reversed(tango_paired(9, 2, 44))))


def test_sign_test_exact_two_sided_values() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(3, 0) == pytest.approx(0.25)  # 2 * (1/2)^3
    assert sign_test(0, 3) == sign_test(3, 0)
    assert sign_test(6, 3) == pytest.approx(2 * (1 + 9 + 36 + 84) / 512)
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    assert sign_test(4, 4) == 1.0  # the doubled tail counts the middle twice; capped


def test_tango_coverage_on_simulated_paired_benchmarks() -> None:
    """Both arms pass a task with probability 0.5, arm alone 0.2, baseline alone 0.1: the
    true difference is 0.1."""
    rng = np.random.default_rng(3)
    tasks, reps, hits = 60, 1000, 0
    for _ in range(reps):
        cells = rng.multinomial(tasks, [0.5, 0.2, 0.1, 0.2])
        lo, hi = tango_paired(int(cells[1]), int(cells[2]), tasks)
        hits += lo <= 0.1 <= hi
    assert 0.93 <= hits / reps <= 0.975


def test_default_ks() -> None:
    assert default_ks(1) == [1]
    assert default_ks(5) == [1, 5]
    assert default_ks(20) == [1, 5, 10, 20]
    assert default_ks(3) == [1, 3]


def test_wilson_coverage_on_simulated_benchmarks() -> None:
    rng = np.random.default_rng(1)
    p, tasks, reps = 0.3, 60, 2000
    hits = 0
    for _ in range(reps):
        lo, hi = wilson(int(rng.binomial(tasks, p)), tasks)
        hits += lo <= p <= hi
    assert 0.92 <= hits / reps <= 0.98


def _simulate(rng: np.random.Generator, tasks: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    p = rng.beta(2, 2, size=tasks)
    return p, rng.binomial(n, p)


def test_bootstrap_coverage_of_pass_at_k_over_tasks() -> None:
    """Tasks drawn from a population with p ~ Beta(2, 2): true pass@1 = 0.5 and true
    pass@3 = 1 - E[(1-p)^3] = 1 - B(2,5)/B(2,2) = 0.8. The 95% interval must cover both
    about 95% of the time."""
    rng = np.random.default_rng(7)
    n, tasks, reps = 5, 80, 300
    truth = {1: 0.5, 3: 0.8}
    hits = {1: 0, 3: 0}
    for rep in range(reps):
        _, c = _simulate(rng, tasks, n)
        per_task = {f"t{i}": (n, int(ci)) for i, ci in enumerate(c)}
        for k, true_value in truth.items():
            s = pass_at_k_summary(per_task, k, seed=rep, resamples=2000)
            assert s["method"] == "bootstrap" and s["lo"] <= s["value"] <= s["hi"]
            hits[k] += s["lo"] <= true_value <= s["hi"]
    for k in truth:
        assert 0.90 <= hits[k] / reps <= 0.99, (k, hits[k] / reps)


def test_paired_difference_coverage() -> None:
    """Arm solves with p' = 0.8 p + 0.2 on the same tasks: true difference 0.2 (1 - E[p]) = 0.1."""
    from proxy.bench.metrics import paired_difference

    rng = np.random.default_rng(11)
    n, tasks, reps, hits = 3, 80, 300, 0
    widths_paired, widths_unpaired = [], []
    for rep in range(reps):
        p = rng.beta(2, 2, size=tasks)
        base = {f"t{i}": (n, int(x)) for i, x in enumerate(rng.binomial(n, p))}
        arm = {f"t{i}": (n, int(x)) for i, x in enumerate(rng.binomial(n, 0.8 * p + 0.2))}
        d = paired_difference(arm, base, 1, seed=rep, resamples=2000)
        hits += d["lo"] <= 0.1 <= d["hi"]
        widths_paired.append(d["hi"] - d["lo"])
        a = pass_at_k_summary(arm, 1, seed=rep, resamples=2000)
        b = pass_at_k_summary(base, 1, seed=rep, resamples=2000)
        widths_unpaired.append(math.hypot(a["hi"] - a["lo"], b["hi"] - b["lo"]))
    assert 0.90 <= hits / reps <= 0.99
    # Pairing by task removes the between-task variance both arms share.
    assert np.mean(widths_paired) < np.mean(widths_unpaired)


def test_wilson_used_for_one_sample_per_task_and_bootstrap_otherwise() -> None:
    one = {f"t{i}": (1, i % 2) for i in range(10)}
    s = pass_at_k_summary(one, 1, seed=0)
    assert s["method"] == "wilson" and s["value"] == 0.5
    assert (s["lo"], s["hi"]) == pytest.approx(wilson(5, 10))
    # All tasks passed: a bootstrap would give [1, 1]; Wilson does not pretend certainty.
    s = pass_at_k_summary({f"t{i}": (1, 1) for i in range(10)}, 1, seed=0)
    assert s["value"] == 1.0 and s["lo"] < 0.8 and s["hi"] == 1.0


def test_bootstrap_is_seeded() -> None:
    v = np.array([0, 1, 1, 0, 1, 0.5])
    assert bootstrap_ci(v, seed=3) == bootstrap_ci(v, seed=3)


def test_busy_seconds_merges_overlapping_requests() -> None:
    def rec(start: float, latency: float) -> SampleRecord:
        return SampleRecord(arm="a", task_id="t", sample=0, status="ok", passed=True,
                            attempts=1, started_at=start, latency_s=latency, request={})

    assert busy_seconds([rec(0, 10), rec(5, 10), rec(20, 1)]) == pytest.approx(16)
    assert busy_seconds([rec(0, 10), rec(2, 3)]) == pytest.approx(10)
    assert busy_seconds([]) == 0


def _config(tasks: list[str], n: int = 1) -> RunConfig:
    return RunConfig(
        dataset="custom", dataset_path="x", dataset_sha256="0" * 64, split=None,
        task_ids=tasks, n=n, temperature=0.0, seed=0, max_tokens=64,
        arms=[Arm(name="base", base_url="http://b/v1", model="m"),
              Arm(name="arm", base_url="http://a/v1", model="atlas")],
        prompt_templates={}, watts=100.0, kwh_price=0.2, prices={"cloud": (1.0, 10.0)},
    )


def _rec(arm: str, task: str, passed: bool, start: float, *, status: str = "ok",
         prompt: int | None = 100, completion: int | None = 50) -> SampleRecord:
    return SampleRecord(
        arm=arm, task_id=task, sample=0, status=status, passed=passed, attempts=1,
        started_at=start, latency_s=10.0, request={},
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion),
        grade=Grade(passed=passed, status="passed" if passed else "failed") if status == "ok" else None,
    )


def test_summarize_counts_crashes_as_failures_and_pairs_by_task() -> None:
    tasks = ["t1", "t2", "t3", "t4"]
    records = [
        _rec("base", "t1", True, 0), _rec("base", "t2", False, 10),
        _rec("base", "t3", False, 20), _rec("base", "t4", True, 30),
        _rec("arm", "t1", True, 40), _rec("arm", "t2", True, 50),
        _rec("arm", "t3", False, 60, status="crash", prompt=None, completion=None),
        _rec("arm", "t4", True, 70, prompt=None),
    ]
    res = summarize(_config(tasks), records)
    base, arm = res["arms"]["base"], res["arms"]["arm"]
    assert base["pass_at_k"][0]["value"] == 0.5 and base["pass_at_k"][0]["method"] == "wilson"
    assert arm["pass_at_k"][0]["value"] == 0.75
    assert arm["health"]["crashes"] == 1 and arm["health"]["usage_missing"] == 1
    d = res["paired"]["arm"][0]
    assert d["delta"] == pytest.approx(0.25) and d["only_arm"] == 1 and d["only_baseline"] == 0
    assert d["method"] == "tango" and (d["lo"], d["hi"]) == pytest.approx(tango_paired(1, 0, 4))
    # Energy: 4 requests x 10 s at 100 W = 4000 J = 1.111 Wh.
    assert base["energy_wh"] == pytest.approx(100 * 40 / 3600)
    assert base["passed_per_wh"] == pytest.approx(2 / (100 * 40 / 3600))
    assert base["tokens_per_wh"] == pytest.approx(600 / (100 * 40 / 3600))
    assert base["samples_per_hour"] == pytest.approx(4 / 40 * 3600)
    assert base["time_to_solution_s"]["median"] == 10.0
    # Cloud: 100 prompt + 50 completion tokens at $1/$10 per M = $0.0006 a sample.
    cloud = base["cloud"][0]
    assert cloud["cost_per_sample"] == pytest.approx(0.0006)
    local = (100 * 10 / 3600) / 1000 * 0.2
    assert base["local_cost_per_sample"] == pytest.approx(local)
    assert cloud["ratio"] == pytest.approx(0.0006 / local)
    # The arm missing prompt tokens on one sample averages over the samples that have them.
    assert arm["prompt_tokens_reported"] == 2 and arm["completion_tokens_reported"] == 3


def test_summarize_uses_only_tasks_and_samples_of_the_config() -> None:
    records = [_rec("base", "t1", True, 0), _rec("base", "other", True, 0)]
    res = summarize(_config(["t1"]), records)
    assert res["arms"]["base"]["samples"] == 1
    assert res["arms"]["arm"]["health"]["missing"] == 1
    assert res["arms"]["arm"]["pass_at_k"][0]["value"] is None
