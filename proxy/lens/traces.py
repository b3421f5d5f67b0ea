"""Labelled candidates from the pipeline's own traces, as a bench run the Lens can read.

``atlas-proxy lens traces RUN --out DIR`` takes a bench run whose pipeline arm kept its
traces, grades *every* candidate of every trace with the task's hidden tests (after the
fact, in the sandbox, as ``benchmarks/pipeline_traces.py`` does) and writes them to DIR as
an ordinary run directory: one record per candidate, so ``lens train`` and ``lens eval``
read it like any other run. These are exactly the candidates the Lens ranks in production
(the greedy probe, approach samples, repairs), which harness samples of the plain model are
not. The labels are training data or held-out measurement; nothing here reaches a request.

Each record's ``request`` says where the candidate came from (``origin``, ``label``, the
trace's sample) and the temperature it was generated at, read from the trace's own config:
the probe is the greedy (T = 0) candidate that selection metrics treat as the probe.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import msgspec

from proxy.bench.datasets import load_tasks
from proxy.bench.records import (
    SAMPLES_FILE,
    SampleRecord,
    read_config,
    write_config,
)
from proxy.bench.traces import grade_candidates, trace_candidates, traced_records

from .dataset import DataError

# Which pipeline knob set the temperature of each kind of candidate (proxy/pipeline/).
ORIGIN_TEMPERATURE = {
    "probe": "temperature_probe",
    "approach": "temperature_diversity",
    "sample": "temperature_diversity",
    "more": "temperature_diversity",
    "plan": "temperature_code",
    "repair": "temperature_repair",
}


def temperature_of(origin: str, config: dict[str, Any]) -> float | None:
    key = ORIGIN_TEMPERATURE.get(origin)
    value = config.get(key) if key else None
    return float(value) if isinstance(value, int | float) else None


async def derive(run_dir: Path, out_dir: Path, *, arm: str | None = None,
                 argv: list[str] | None = None) -> dict[str, int]:
    """Grade every traced candidate of ``run_dir`` and write them to ``out_dir``. Returns
    counts (traces, candidates, passing, unreadable traces)."""
    import sandbox as sandbox_pkg

    records = traced_records(run_dir, arm)
    if not records:
        raise DataError(f"{run_dir}: no records with an atlas_trace"
                        + (f" in arm {arm!r}" if arm else ""))
    config = read_config(run_dir)
    tasks = {t.task_id: t for t in load_tasks(config.dataset, config.split)}
    out_dir.mkdir(parents=True, exist_ok=True)
    invocation = "atlas-proxy lens " + shlex.join(argv) if argv else ""
    write_config(out_dir, msgspec.structs.replace(config, invocation=invocation))
    stats = {"traces": 0, "candidates": 0, "passing": 0, "unreadable": 0}
    box = sandbox_pkg.make_sandbox(sandbox_pkg.SandboxConfig())
    enc = msgspec.json.Encoder()
    try:
        with (out_dir / SAMPLES_FILE).open("wb") as fh:
            # One arm's traces of one task become that task's samples 0, 1, ...: the first
            # trace's probe is sample 0.
            records.sort(key=lambda r: (r.arm, r.task_id, r.sample))
            index: dict[tuple[str, str], int] = {}
            for rec in records:
                try:
                    cands = trace_candidates(rec.atlas_trace)
                except msgspec.ValidationError:
                    stats["unreadable"] += 1
                    continue
                grades = await grade_candidates(box, tasks[rec.task_id].grading, cands)
                trace_config = rec.atlas_trace.get("config") or {}
                stats["traces"] += 1
                key = (rec.arm, rec.task_id)
                for cand in cands:
                    if cand.id not in grades:
                        continue
                    sample = index[key] = index.get(key, -1) + 1
                    g = grades[cand.id]
                    out = SampleRecord(
                        arm=rec.arm, task_id=rec.task_id, sample=sample, status="ok",
                        passed=g.passed, attempts=1, started_at=rec.started_at,
                        latency_s=cand.seconds, code=cand.code, answer=cand.code, grade=g,
                        request={"trace_of_sample": rec.sample, "candidate": cand.id,
                                 "origin": cand.origin, "label": cand.label,
                                 "temperature": temperature_of(cand.origin, trace_config)},
                    )
                    fh.write(enc.encode(out) + b"\n")
                    stats["candidates"] += 1
                    stats["passing"] += g.passed
    finally:
        await box.aclose()
    return stats
