"""End to end: ``atlas-proxy bench run`` on 3 HumanEval tasks against the real server on the
embedded default model, through HTTP only, graded in the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from proxy.bench.cli import main
from proxy.bench.records import read_config, read_samples

# Three tasks with short answers, so the run takes about a minute on an idle 2-core machine
# (and stays under the timeout when other work shares the CPU).
TASKS = "HumanEval/2,HumanEval/7,HumanEval/23"


@pytest.mark.timeout(1800)
def test_three_tasks_against_the_real_server(live_server, tmp_path: Path) -> None:
    models = [m["id"] for m in httpx.get(f"{live_server.base_url}/models", timeout=30).json()["data"]]
    arms = ["--arm", f"plain={live_server.base_url},model={live_server.model}"]
    if "atlas" in models:  # the pipeline arm, measured in the same run as the baseline
        # A per-request wall-time budget bounds the test; the pipeline returns its best so far.
        extra = '{"atlas": {"trace": true, "budget_s": 180}}'
        arms += ["--arm", f"atlas={live_server.base_url},model=atlas,extra={extra}"]
    out = tmp_path / "run"
    rc = main(["run", "--no-progress", "--out", str(out), "--dataset", "humaneval",
               "--task-ids", TASKS, "--max-tokens", "384", *arms])
    assert rc == 0

    config = read_config(out)
    records = read_samples(out)
    assert len(config.task_ids) == 3
    assert len(records) == 3 * len(config.arms)
    for r in records:
        assert r.status == "ok", r.error
        assert r.answer.strip() and r.grade is not None and r.grade.status != "grader_error"
        # Usage is always reported; the plain model always generates. (The pipeline may
        # honestly report 0 when its budget ran out before the first token.)
        assert r.usage.prompt_tokens is not None and r.usage.completion_tokens is not None
        if r.arm == "plain":
            assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
        assert r.latency_s > 0
        if r.arm == "atlas" and r.atlas_trace is not None:
            assert isinstance(r.atlas_trace, dict)

    res = json.loads((out / "results.json").read_text())
    for arm in res["arms"].values():
        assert arm["health"]["crashes"] == 0 and arm["health"]["missing"] == 0
        p1 = arm["pass_at_k"][0]
        assert 0 <= p1["lo"] <= p1["value"] <= p1["hi"] <= 1
        assert arm["prompt_tokens_mean"] is not None and arm["energy_wh"] > 0
    report = (out / "report.md").read_text()
    assert report.index("## Run health") < report.index("## pass@k")
    assert (out / "pass_at_k.png").exists() and (out / "latency.png").exists()
