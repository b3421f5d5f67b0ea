"""`atlas-proxy lens traces`: a pipeline run's candidates, graded by the real sandbox with the
task's hidden tests, become a run that `lens train` / `lens eval` read."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np

from proxy.bench.records import SAMPLES_FILE, Arm, RunConfig, SampleRecord, write_config
from proxy.lens import cli
from proxy.lens.dataset import read_runs

# MBPP/602 (train split): the first repeated character, "None" when there is none.
RIGHT = ("def first_repeated_char(s):\n    for i, c in enumerate(s):\n"
         "        if c in s[:i]:\n            return c\n    return 'None'\n")
WRONG = "def first_repeated_char(s):\n    return s[0]\n"

TRACE_CONFIG = {"temperature_probe": 0.0, "temperature_diversity": 0.8,
                "temperature_repair": 0.4}


def _trace(*cands: dict) -> dict:
    return {"config": TRACE_CONFIG, "candidates": list(cands)}


def _write_pipeline_run(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    arms = [Arm(name="plain", base_url="http://x/v1", model="m"),
            Arm(name="atlas", base_url="http://x/v1", model="atlas")]
    write_config(run_dir, RunConfig(
        dataset="mbpp", dataset_path="mbpp", dataset_sha256="0" * 64, split="train",
        task_ids=["MBPP/602"], n=1, temperature=0.0, seed=0, max_tokens=512, arms=arms,
        prompt_templates={}, argv=["run", "--dataset", "mbpp", "--out", str(run_dir)],
    ))
    records = [
        SampleRecord(arm="plain", task_id="MBPP/602", sample=0, status="ok", passed=False,
                     attempts=1, started_at=0.0, latency_s=1.0, request={}, code=WRONG),
        SampleRecord(arm="atlas", task_id="MBPP/602", sample=0, status="ok", passed=True,
                     attempts=1, started_at=0.0, latency_s=9.0, request={}, code=RIGHT,
                     atlas_trace=_trace(
                         {"id": 0, "origin": "probe", "label": "greedy", "code": WRONG},
                         {"id": 1, "origin": "repair", "code": "", "note": "empty output"},
                         {"id": 2, "origin": "approach", "label": "a hint", "code": RIGHT},
                     )),
    ]
    with (run_dir / SAMPLES_FILE).open("wb") as fh:
        for rec in records:
            fh.write(msgspec.json.encode(rec) + b"\n")
    return run_dir


def test_traces_become_a_graded_run(tmp_path: Path, capsys) -> None:
    src = _write_pipeline_run(tmp_path / "run")
    out = tmp_path / "derived"
    assert cli.main(["traces", str(src), "--out", str(out)]) == 0
    assert "2 candidates (1 passing) from 1 traces" in capsys.readouterr().err

    rows = [json.loads(line) for line in (out / SAMPLES_FILE).read_text().splitlines()]
    # Only traced candidates with code; labels from actually running the hidden tests.
    assert [(r["sample"], r["request"]["origin"], r["passed"]) for r in rows] == [
        (0, "probe", False), (1, "approach", True)]
    assert rows[1]["grade"]["tests_run"] == 3 and rows[1]["grade"]["tests_passed"] == 3
    assert json.loads((out / "run.json").read_text())["invocation"].startswith(
        "atlas-proxy lens traces")

    cands = read_runs([out])
    assert [(c.code, c.temperature, c.passed) for c in cands] == [(WRONG, 0.0, False),
                                                                 (RIGHT, 0.8, True)]
    # The probe pools see the greedy candidate as the probe.
    summary = cli._summary(np.array([2.0, 1.0]), cands, k=2)
    assert summary["selection_vs_probe"]["probe_mixed"] == 0.0
    assert summary["selection_vs_probe"]["lens_mixed"] == 1.0
    assert cli._run_summaries(cands)[0]["derived"].startswith("atlas-proxy lens traces")


def test_traces_refuse_a_run_without_traces(tmp_path: Path, capsys) -> None:
    src = _write_pipeline_run(tmp_path / "run")
    assert cli.main(["traces", str(src), "--arm", "plain", "--out", str(tmp_path / "o")]) == 2
    assert "no records with an atlas_trace in arm 'plain'" in capsys.readouterr().err
    assert cli.main(["traces", str(src), "--out", str(src)]) == 2
