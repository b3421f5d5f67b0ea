"""benchmarks/hints_vs_samples.py: the coverage of p plain samples + (slots - p) hints."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from proxy.bench.records import SampleRecord

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "hints_vs_samples.py"
_spec = importlib.util.spec_from_file_location("hints_vs_samples", _PATH)
hints_vs_samples = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hints_vs_samples)


def _rec(sample: int, passed: bool, origin: str | None = None) -> SampleRecord:
    return SampleRecord(arm="a", task_id="t", sample=sample, status="ok", passed=passed,
                        attempts=1, started_at=0.0, latency_s=0.0,
                        request={"origin": origin} if origin else {})


def test_mixes_take_plain_samples_from_seed_1_and_hints_in_order():
    traces = {"t": [_rec(0, False, "probe"), _rec(1, False, "repair"),
                    _rec(2, False, "approach"), _rec(3, True, "approach")]}
    # Sample 1 (seed 1) passes; sample 0 (seed 0, not what plain_samples draws first) too.
    samples = {"t": [_rec(0, True), _rec(1, True), _rec(2, False)]}
    # p = 0: hints 1 and 2 (the second passes); p = 1: seed 1 + hint 1; p = 2: seeds 1, 2.
    assert hints_vs_samples.covered_by_mix(traces, samples, slots=2) == {"t": [True, True, True]}
    samples = {"t": [_rec(0, True), _rec(1, False), _rec(2, False)]}
    assert hints_vs_samples.covered_by_mix(traces, samples, slots=2) == {"t": [True, False, False]}


def test_tasks_the_probe_or_first_repair_solve_are_left_out():
    traces = {"t": [_rec(0, False, "probe"), _rec(1, True, "repair"),
                    _rec(2, False, "approach"), _rec(3, False, "approach")]}
    samples = {"t": [_rec(0, True), _rec(1, True), _rec(2, True)]}
    assert hints_vs_samples.covered_by_mix(traces, samples, slots=2) == {}


def test_each_mix_is_compared_with_all_hints_task_by_task():
    # Per task: covered by [3 hints, 1 sample + 2 hints, 2 + 1, 3 samples].
    rows = [[True, True, False, False], [False, True, True, True], [False, False, True, True],
            [True, True, True, True], [False, False, False, False]]
    assert hints_vs_samples.versus_hints(rows, 1) == (1, 0)
    assert hints_vs_samples.versus_hints(rows, 2) == (2, 1)
    lines = hints_vs_samples.report(rows, slots=3)
    assert lines[0] == "5 tasks where the probe and the first repair fail"
    assert lines[1] == "  0 plain samples + 3 hints: some candidate passes in 2"
    assert lines[3] == ("  2 plain samples + 1 hint: some candidate passes in 3; "
                        "vs 3 hints 2 gained, 1 lost (sign test p = 1.00)")
