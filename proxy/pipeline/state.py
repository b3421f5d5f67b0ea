"""The state one request's stages share: the problem, the candidates, the tests, and the
helpers that test and score candidates against them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from proxy.pipeline import selftest
from proxy.pipeline.candidate import Candidate
from proxy.pipeline.config import PipelineConfig
from proxy.pipeline.generate import Generator
from proxy.pipeline.problem import Example, Problem
from proxy.pipeline.trace import TraceRecorder
from sandbox.types import Sandbox


@dataclass
class State:
    cfg: PipelineConfig
    problem: Problem
    generate: Generator
    sandbox: Sandbox
    trace: TraceRecorder
    emit: Callable[[str], None]
    # The request as sent (role/content dicts): what an in-context Lens reads code after.
    messages: list[dict] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    model_tests: list[Example] = field(default_factory=list)
    keep: list[bool] = field(default_factory=list)
    pool_done: bool = False
    # Repair bookkeeping, shared by the two repair stages (limits span both).
    repair_rounds: int = 0
    repairs_distinct: int = 0
    repaired: set[int] = field(default_factory=set)
    repair_log: list[dict] = field(default_factory=list)
    selftests_done: bool = False
    stop: str | None = None  # why no further stage runs

    def new_id(self) -> int:
        return len(self.candidates)

    @property
    def tests(self) -> list[Example]:
        return self.problem.examples + self.model_tests

    def passing(self) -> list[Candidate]:
        return [c for c in self.candidates if c.passes]

    async def test(self, cand: Candidate) -> None:
        """Run a candidate against every current test and score it."""
        if not cand.code:
            return
        cand.report = await selftest.run_tests(
            self.sandbox,
            cand.code,
            self.problem.examples,
            self.model_tests,
            self.cfg.sandbox_timeout_s,
        )
        if cand.report.status == "sandbox_error":
            self.trace.degrade(cand.report.error or "sandbox error")
        self.rescore(cand)

    def rescore(self, cand: Candidate) -> None:
        if cand.report is None:
            return
        keep = (
            self.keep if len(self.keep) == len(self.model_tests) else [True] * len(self.model_tests)
        )
        cand.score, cand.passes = selftest.score(
            cand.report, keep, self.cfg.example_weight, self.cfg.pass_threshold
        )

    def refilter(self) -> None:
        """Set aside model tests the evidence says are wrong, then rescore everyone."""
        reports = [
            c.report
            for c in self.candidates
            if c.report is not None and len(c.report.passed) == len(self.tests)
        ]
        self.keep = selftest.suspect_tests(reports, len(self.model_tests))
        for cand in self.candidates:
            self.rescore(cand)

    def describe(self, cand: Candidate, total: int | None = None) -> str:
        name = f"{cand.origin} {cand.id + 1}" + (f"/{total}" if total else "")
        if not cand.code:
            return f"{name}: {cand.note or 'no code'}\n"
        r = cand.report
        if r is None:
            return f"{name}: not tested\n"
        if r.error and not any(r.passed):
            return f"{name}: does not run ({r.error})\n"
        parts = []
        if r.n_examples:
            parts.append(f"{r.examples_passed}/{r.n_examples} prompt examples")
        m_pass, m_total = r.model_passed(self.keep or None)
        if m_total:
            parts.append(f"{m_pass}/{m_total} self-tests")
        verdict = "passes" if cand.passes else "fails"
        return f"{name}: {', '.join(parts) or 'runs'} passed ({verdict})\n"


# --- stages ------------------------------------------------------------------------------
