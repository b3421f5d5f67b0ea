"""PlanSearch: observations about the problem -> distinct natural-language plans; each plan
then becomes one candidate (``run.py`` writes the code, at ``temperature_code``).

Two calls for the whole pool, whatever k is. A small model's list may come back short or
messy: the caller fills missing plans with approach hints, so the pool keeps its size.
"""

from __future__ import annotations

import re

from proxy.pipeline import prompts
from proxy.pipeline.generate import Generation, Generator
from proxy.pipeline.problem import Problem

_NUMBERED = re.compile(
    r"^(?:\d+[.):]|(?:approach|plan|option|observation)\s+\d+[.):]?)\s*(.*)$", re.I
)
_BULLET = re.compile(r"^[-*•]\s+(.*)$")
# Where a plan stops being a plan: small models paste (often wrong) code into them, and a
# candidate would copy it verbatim instead of following the idea.
_CODE_IN_PLAN = re.compile(r"\bdef \w+\s*\(|```|\bExplanation\s*:|\bimport \w+|\breturn\b")


def _clean(line: str) -> str:
    # Markdown decorations small models put around list items: "### ", "**", "# " (comments).
    return line.strip().lstrip("#").strip().replace("**", "").strip()


def numbered(text: str) -> list[str]:
    """Items of a numbered list (bullets under an item belong to it), or of a bulleted list
    when nothing is numbered; continuation lines join their item."""
    lines = [_clean(line) for line in text.splitlines() if not line.strip().startswith("```")]
    has_numbers = any(_NUMBERED.match(line) for line in lines)
    items: list[str] = []
    for line in lines:
        match = _NUMBERED.match(line) or (None if has_numbers else _BULLET.match(line))
        if match:
            items.append(match.group(1).strip())
        elif items and line:
            items[-1] = f"{items[-1]} {line.lstrip('-*• ').strip()}".strip()
    return [i for i in items if len(i.split()) >= 3]


async def observations(
    generate: Generator, problem: Problem, temperature: float, max_tokens: int
) -> tuple[str, Generation]:
    gen = await generate(
        prompts.constraints(problem, generate.chat),
        stage="plansearch",
        temperature=temperature,
        max_tokens=min(max_tokens, 300),
    )
    notes = numbered(gen.text)
    text = "\n".join(f"{i}. {n}" for i, n in enumerate(notes[:8], 1)) if notes else gen.text.strip()
    return text[:2000], gen


async def plans(
    generate: Generator, problem: Problem, notes: str, n: int, temperature: float, max_tokens: int
) -> tuple[list[str], Generation]:
    gen = await generate(
        prompts.plans(problem, generate.chat, notes, n),
        stage="plansearch",
        temperature=temperature,
        max_tokens=min(max_tokens, 120 * n + 60),
    )
    found: list[str] = []
    for item in numbered(gen.text):
        plan = strip_code(item)
        key = plan.lower()[:60]
        if len(plan.split()) >= 3 and key not in (f.lower()[:60] for f in found):
            found.append(plan)
    return found[:n], gen


def strip_code(plan: str, limit: int = 400) -> str:
    """The idea of a plan without code pasted into it."""
    cut = _CODE_IN_PLAN.search(plan)
    text = plan[: cut.start()] if cut else plan
    text = re.sub(r"`[^`]{40,}`", "", text).strip(" :-")
    return text[:limit]
