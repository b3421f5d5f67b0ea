"""Diversity: each non-probe candidate gets a different approach hint, so candidates differ in
what they try as well as by sampling. On the default 0.5B model, samples at T = 0.8 alone
pass no more often than the greedy answer, but they pass on *other* tasks: next to the greedy
probe they are what lifts the pipeline (docs/pipeline.md "Where the gains are")"""

from __future__ import annotations

from proxy.pipeline.prompts import APPROACHES

DISTINCT = len(APPROACHES)


def hints(n: int) -> list[str]:
    """``n`` distinct approach hints, in a fixed order (stable across runs, so results are
    reproducible and the first hints, the most generally useful, are used most)."""
    return [APPROACHES[i % len(APPROACHES)] for i in range(n)]
