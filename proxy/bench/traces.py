"""The pipeline's traces inside bench runs: reading them back, and grading every candidate.

A bench arm run with ``"atlas": {"trace": true}`` stores each request's ``atlas_trace`` in
its record. Grading the trace's candidates with the task's hidden tests is measurement, done
after the request was answered (``benchmarks/pipeline_traces.py``) or to label training
data for the Lens (``atlas-proxy lens traces``); nothing here reaches a request.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from proxy.pipeline.candidate import Candidate
from sandbox.types import Sandbox

from .datasets import GradingSpec
from .grading import Grade, grade
from .records import SampleRecord, read_samples


def traced_records(run_dir: Path, arm: str | None = None) -> list[SampleRecord]:
    """The run's records that hold a trace, optionally of one arm only."""
    return [rec for rec in read_samples(run_dir)
            if isinstance(rec.atlas_trace, dict) and (not arm or rec.arm == arm)]


def trace_candidates(trace: dict) -> list[Candidate]:
    """The trace's candidates as the pipeline's own structs (raises
    ``msgspec.ValidationError`` for a trace this version cannot read)."""
    return [msgspec.convert(c, Candidate) for c in trace.get("candidates", [])]


async def grade_candidates(box: Sandbox, spec: GradingSpec,
                           cands: list[Candidate]) -> dict[int, Grade]:
    """Candidate id -> its grade on the hidden tests, for every candidate with code."""
    return {c.id: (await grade(box, spec, c.code))[1] for c in cands if c.code}
