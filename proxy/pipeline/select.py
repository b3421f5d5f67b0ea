"""Selection: by self-test score, then the Lens, then a stable tie-break.

Until a Lens is wired in (or when it answers None), the fallback order among equal scores
is: more of the prompt's own examples passed; then a finished answer over one cut by the
token limit; then creation order, which puts the greedy probe first. Why the probe: on the
default model greedy decoding is the single most reliable sample (57% on HumanEval against
44% for a T=0.8 sample; ATLAS_NOTES.md), so among candidates the tests cannot tell apart
it is the best bet.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from proxy.pipeline.candidate import Candidate


@runtime_checkable
class Scorer(Protocol):
    """The Lens hook: energies for code, lower = more likely correct; None = unavailable.
    ``messages`` is the request the code answers (role/content dicts), for scorers that
    read code in its context."""

    async def score(self, codes: list[str],
                    messages: list[dict[str, Any]] | None = None) -> list[float] | None: ...


async def lens_energies(scorer: Scorer | None, candidates: list[Candidate],
                        messages: list[dict[str, Any]] | None = None) -> str | None:
    """Fill ``energy`` on candidates with code; returns why the Lens was not used, if not."""
    usable = [c for c in candidates if c.code]
    if scorer is None:
        return "no Lens configured"
    if len(usable) < 2:
        return None
    try:
        energies = await scorer.score([c.code for c in usable], messages)
    except Exception as exc:  # the Lens is an aid: its failure must not fail the request
        return f"Lens failed: {type(exc).__name__}: {exc}"
    if energies is None or len(energies) != len(usable):
        return "Lens unavailable"
    for cand, energy in zip(usable, energies):
        cand.energy = float(energy)
    return None


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first. Candidates without code always rank last."""

    def key(c: Candidate) -> tuple:
        examples = c.report.examples_passed if c.report else 0
        energy = c.energy if c.energy is not None else 0.0
        return (
            not c.code,
            not c.passes,
            -round(c.score, 6),
            energy,
            -examples,
            c.finish in ("length", "repetition", "budget"),
            c.id,
        )

    return sorted(candidates, key=key)


def top_ties(ranked: list[Candidate]) -> list[Candidate]:
    """Of candidates ranked by ``rank``, those with code tied with the best on passes and
    self-test score: what the Lens is asked to order (two or more), best first."""
    if not ranked:
        return []
    top = ranked[0]
    return [c for c in ranked
            if c.code and c.passes == top.passes and round(c.score, 6) == round(top.score, 6)]


def best(candidates: list[Candidate]) -> Candidate | None:
    ranked = rank(candidates)
    return ranked[0] if ranked else None
