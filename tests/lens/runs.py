"""Write bench run directories (run.json + samples.jsonl) in the harness's own format."""

from __future__ import annotations

from pathlib import Path

import msgspec

from proxy.bench.grading import Grade
from proxy.bench.records import SAMPLES_FILE, Arm, RunConfig, SampleRecord, write_config


def write_run(run_dir: Path, rows: list[tuple[str, int, str, bool]], *,
              dataset: str = "mbpp", split: str | None = "train",
              temperature: float = 0.8) -> Path:
    """rows: (task_id, sample, code, passed)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    arm = Arm(name="plain", base_url="http://127.0.0.1:8080/v1",
              model="qwen2.5-coder-0.5b-instruct")
    write_config(run_dir, RunConfig(
        dataset=dataset, dataset_path=dataset, dataset_sha256="0" * 64, split=split,
        task_ids=sorted({r[0] for r in rows}), n=max(r[1] for r in rows) + 1,
        temperature=temperature, seed=0, max_tokens=512, arms=[arm], prompt_templates={},
        argv=["run", "--dataset", dataset, "--out", str(run_dir)],
    ))
    enc = msgspec.json.Encoder()
    with (run_dir / SAMPLES_FILE).open("wb") as fh:
        for task_id, sample, code, passed in rows:
            rec = SampleRecord(
                arm="plain", task_id=task_id, sample=sample, status="ok", passed=passed,
                attempts=1, started_at=0.0, latency_s=1.0, request={}, code=code,
                answer=f"```python\n{code}```",
                grade=Grade(passed=passed, status="passed" if passed else "failed"),
            )
            fh.write(enc.encode(rec) + b"\n")
    return run_dir
