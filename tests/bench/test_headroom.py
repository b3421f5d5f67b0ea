"""benchmarks/headroom.py: the oracle ceiling over greedy + samples, on hand-made outcomes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "headroom.py"
_spec = importlib.util.spec_from_file_location("headroom", _PATH)
headroom = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(headroom)


def test_oracle_counts_tasks_any_candidate_solves():
    greedy = {"a": True, "b": False, "c": False, "d": False, "x": True}
    samples = {"a": [False, False], "b": [False, True], "c": [True, True], "d": [False, False]}
    rows = headroom.headroom(greedy, samples)  # "x" has no samples: left out
    assert [(r["j"], r["solved"], r["tasks"]) for r in rows] == [(0, 1, 4), (1, 2, 4), (2, 3, 4)]
    assert rows[0]["gain_pp"] == 0.0 and rows[2]["gain_pp"] == pytest.approx(50.0)
    lo, hi = rows[2]["ci_pp"]
    assert lo < 50.0 < hi <= 100.0


def test_gain_interval_excludes_zero_when_many_tasks_gain():
    greedy = {f"t{i}": False for i in range(40)}
    samples = {f"t{i}": [i < 10] for i in range(40)}  # 10 of 40 gained, none lost
    lo, hi = headroom.headroom(greedy, samples)[1]["ci_pp"]
    assert 0.0 < lo < 25.0 < hi


def test_sample_pass_at_k_is_the_unbiased_estimator():
    samples = {"a": [True, False, False], "b": [False, False, False]}
    values = dict(headroom.sample_pass_at_k(samples))
    assert values[1] == pytest.approx((1 / 3 + 0) / 2)
    assert values[2] == pytest.approx((2 / 3 + 0) / 2)
    assert values[3] == pytest.approx(0.5)


def _two_arm_run(tmp_path: Path) -> Path:
    import msgspec

    from proxy.bench.records import SAMPLES_FILE, Arm, RunConfig, SampleRecord, write_config

    write_config(tmp_path, RunConfig(
        dataset="custom", dataset_path="x", dataset_sha256="0" * 64, split=None,
        task_ids=["a", "b"], n=1, temperature=0.0, seed=0, max_tokens=64,
        arms=[Arm(name="plain", base_url="http://p/v1", model="m"),
              Arm(name="atlas", base_url="http://p/v1", model="atlas")],
        prompt_templates={}))
    lines = [msgspec.json.encode(SampleRecord(
        arm=arm, task_id=task, sample=0, status="ok", passed=passed, attempts=1,
        started_at=0.0, latency_s=1.0, request={}))
        for arm, task, passed in [("plain", "a", True), ("plain", "b", False),
                                  ("atlas", "a", False), ("atlas", "b", True)]]
    (tmp_path / SAMPLES_FILE).write_bytes(b"\n".join(lines) + b"\n")
    return tmp_path


def test_outcomes_reads_only_the_named_arm_of_a_multi_arm_run(tmp_path):
    run = _two_arm_run(tmp_path)
    assert headroom.outcomes(f"{run}:plain")[0] == {"a": [True], "b": [False]}
    assert headroom.outcomes(f"{run}:atlas")[0] == {"a": [False], "b": [True]}
    with pytest.raises(SystemExit, match="name one"):
        headroom.outcomes(str(run))  # two arms, none named: refused, not mixed
    with pytest.raises(SystemExit, match="no arm"):
        headroom.outcomes(f"{run}:other")
