"""The final message, written the way a model would answer: the selected code in a fenced
block and a short explanation, honouring what the user asked for (code only, no markdown,
the language).

No extra model call: the explanation is the selected candidate's own words (its prose
around the code), shortened, plus one line saying what the code was checked against, so the
user knows how much the answer was verified.
"""

from __future__ import annotations

import re

from proxy.pipeline.candidate import Candidate
from proxy.pipeline.problem import Problem

MAX_EXPLANATION = 600


def _short(text: str, limit: int = MAX_EXPLANATION) -> str:
    text = text.strip()
    # The model's "Here is the code:" lead-ins refer to a block that now stands above them.
    text = re.sub(r"^(here('s| is)|below is|sure)[^\n]*:\s*", "", text, flags=re.I).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind(".\n"))
    return cut[: end + 1] if end > limit // 3 else cut.rstrip() + "…"


def verification(problem: Problem, cand: Candidate, n_model: int) -> str:
    report = cand.report
    if report is None:
        return "It was not tested (the pipeline ran out of budget before testing it)."
    parts = []
    if report.n_examples:
        parts.append(f"{report.examples_passed}/{report.n_examples} of the examples in the prompt")
    if n_model:
        passed, total = report.model_passed()
        parts.append(f"{passed}/{total} self-written tests")
    if not parts:
        return "There were no examples to test it against."
    return f"Checked by running it: {' and '.join(parts)} pass."


def compose(
    problem: Problem,
    cand: Candidate | None,
    n_model: int,
    fallback_text: str = "",
    reason: str | None = None,
) -> str:
    if cand is None or not cand.code:
        if fallback_text.strip():
            return fallback_text.strip()  # the best the model said, even without code
        why = f" ({reason})" if reason else ""
        return f"I could not produce an answer for this task{why}."
    if problem.no_fence:
        return cand.code.rstrip() + "\n"
    block = f"```{problem.language}\n{cand.code.rstrip()}\n```"
    if problem.code_only:
        return block
    explanation = _short(cand.prose) if "```" in cand.raw else ""
    lines = [block]
    if explanation:
        lines.append(explanation)
    lines.append(verification(problem, cand, n_model))
    return "\n\n".join(lines)
