"""A candidate answer and how it fared: code, origin, test report, score."""

from __future__ import annotations

import msgspec

from proxy.pipeline.codeblocks import extract_code, prose, runnable
from proxy.pipeline.generate import Generation
from proxy.pipeline.problem import Problem
from proxy.pipeline.selftest import CheckReport


class Candidate(msgspec.Struct, kw_only=True):
    id: int  # order of creation: the stable tie-break
    origin: str  # "probe" | "plan" | "approach" | "sample" | "repair" | "more" (2nd wave)
    label: str = ""  # the plan, approach hint or repair note that made it
    code: str = ""  # runnable code, as tested and as answered
    prose: str = ""  # the model's own explanation around the code
    raw: str = ""  # the model's output as it came
    finish: str = "stop"
    tokens: int = 0
    seconds: float = 0.0
    parent: int | None = None  # repairs: the candidate repaired
    report: CheckReport | None = None
    score: float = 0.0
    passes: bool = False
    energy: float | None = None  # the Lens's verdict, lower = more likely correct
    note: str | None = None  # why it is unusable, when it is


def from_generation(
    cid: int,
    origin: str,
    gen: Generation,
    problem: Problem,
    label: str = "",
    parent: int | None = None,
) -> Candidate:
    code = extract_code(gen.text, problem.language, problem.entry_point) if gen.text else ""
    if problem.language == "python" and code:
        code = runnable(code, problem.imports)
    note = gen.error
    if not code and note is None:
        note = "no code in the model's output" if gen.text.strip() else "empty output"
    return Candidate(
        id=cid,
        origin=origin,
        label=label,
        code=code,
        prose=prose(gen.text),
        raw=gen.text,
        finish=gen.finish,
        tokens=gen.prompt_tokens + gen.completion_tokens,
        seconds=round(gen.seconds, 3),
        parent=parent,
        note=note,
    )


def normal(code: str) -> str:
    """Whitespace-insensitive form, to tell a distinct repair from a copy."""
    return "\n".join(
        line.rstrip()
        for line in code.strip().splitlines()
        if line.strip() and not line.strip().startswith("#")
    )
