"""Diversity: each non-probe candidate gets a different approach hint, so candidates differ in
what they try rather than in sampling noise (on the default 0.5B model, temperature 0.8 alone
gives no more coverage than one greedy answer: ATLAS_NOTES.md)."""

from __future__ import annotations

from proxy.pipeline.prompts import APPROACHES


def hints(n: int) -> list[str]:
    """``n`` distinct approach hints, in a fixed order (stable across runs, so results are
    reproducible and the first hints, the most generally useful, are used most)."""
    return [APPROACHES[i % len(APPROACHES)] for i in range(n)]
