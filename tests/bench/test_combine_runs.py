"""benchmarks/combine_runs.py: one table from disjoint runs and reruns of some of their tasks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import msgspec
import pytest

from proxy.bench.records import SAMPLES_FILE, Arm, RunConfig, SampleRecord, write_config

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "combine_runs.py"
_spec = importlib.util.spec_from_file_location("combine_runs", _PATH)
combine_runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(combine_runs)


def _run(path: Path, results: dict[tuple[str, str], bool],
         arms: tuple[str, ...] = ("plain", "atlas")) -> Path:
    path.mkdir()
    tasks = sorted({t for _, t in results})
    write_config(path, RunConfig(
        dataset="custom", dataset_path="x", dataset_sha256="0" * 64, split=None,
        task_ids=tasks, n=1, temperature=0.0, seed=0, max_tokens=64,
        arms=[Arm(name=a, base_url="http://p/v1", model=a) for a in arms],
        prompt_templates={}))
    lines = [msgspec.json.encode(SampleRecord(
        arm=arm, task_id=task, sample=0, status="ok", passed=passed, attempts=1,
        started_at=0.0, latency_s=1.0, request={}))
        for (arm, task), passed in results.items()]
    (path / SAMPLES_FILE).write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_combine_keeps_the_last_runs_result_and_the_history_of_replaced_tasks():
    merged, replaced = combine_runs.combine([{"a": (1, 0), "b": (1, 1)}, {"a": (1, 1)}])
    assert merged == {"a": (1, 1), "b": (1, 1)}
    assert replaced == {"a": ((1, 0), (1, 1))}


def test_report_counts_the_union_with_reruns_replacing_both_arms(tmp_path):
    first = _run(tmp_path / "first", {
        ("plain", "T/1"): True, ("atlas", "T/1"): True,
        ("plain", "T/2"): False, ("atlas", "T/2"): False,
        ("plain", "T/10"): True, ("atlas", "T/10"): True})
    second = _run(tmp_path / "second", {("plain", "T/3"): False, ("atlas", "T/3"): True})
    # A rerun of T/2 (now gained) and T/10 (now lost, its baseline failing too).
    rerun = _run(tmp_path / "rerun", {
        ("plain", "T/2"): False, ("atlas", "T/2"): True,
        ("plain", "T/10"): False, ("atlas", "T/10"): False})
    lines = combine_runs.report([first, second, rerun], "plain", "atlas")
    assert "plain: 1/4 = 25.0%" in lines
    assert "atlas: 3/4 = 75.0%" in lines
    summary = next(line for line in lines if line.startswith("atlas - plain"))
    assert "+50.0 pp" in summary and "gained 2, lost 0" in summary
    assert "  gained: T/2 T/3" in lines
    assert any(line.startswith("atlas, 2 tasks replaced by a later run: 1 -> 1 solved "
                               "(now solved: T/2; no longer: T/10)") for line in lines)
    assert any(line.startswith("plain, 2 tasks replaced by a later run: 1 -> 0") for line in lines)


def test_a_run_without_one_of_the_arms_is_refused(tmp_path):
    only_plain = _run(tmp_path / "p", {("plain", "T/1"): True}, arms=("plain",))
    with pytest.raises(SystemExit, match="no arm 'atlas'"):
        combine_runs.report([only_plain], "plain", "atlas")
