"""``LensScorer``: the pipeline's ``Scorer``: code -> embeddings (same backend, same model)
-> energies. Lower energy = more likely correct; None = the Lens cannot answer this time.

What is embedded follows the weights' card: the code alone, or (``embedding.context =
"request"``) the code read after the request it answers (``proxy/lens/in_context.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from proxy.backends.base import Backend
from proxy.lens.model import LensModel

log = structlog.get_logger("atlas.lens")


@dataclass
class ScorerStats:
    calls: int = 0
    candidates: int = 0
    embed_s: float = 0.0
    forward_s: float = 0.0
    failures: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


@dataclass
class LensScorer:
    backend: Backend
    model: LensModel
    card: dict[str, Any] = field(default_factory=dict)
    stats: ScorerStats = field(default_factory=ScorerStats)

    @property
    def in_context(self) -> bool:
        return (self.card.get("embedding") or {}).get("context") == "request"

    async def score(self, codes: list[str],
                    messages: list[dict[str, Any]] | None = None) -> list[float] | None:
        energies = await self.energies(codes, messages)
        return None if energies is None else [float(e) for e in energies]

    async def energies(self, codes: list[str],
                       messages: list[dict[str, Any]] | None = None) -> np.ndarray | None:
        if not codes:
            return np.zeros(0)
        t0 = time.perf_counter()
        rows: list[list[float]] = []
        try:
            if self.in_context:
                if not messages:
                    return self._fail("these weights read code after its request; none given")
                lead = self.card["embedding"].get("lead", "")
                # One call: the request is read once and every candidate continues from it.
                rows = (await self.backend.embed_in_context(messages, lead, codes)).vectors
            else:
                # One code per call: the embedding context's memory grows with the tokens of
                # one call (~1.2 MiB a token, docs/lens.md), so the peak is set by the longest
                # code, not by the sum of k; the work per token is the same.
                for code in codes:
                    rows.extend((await self.backend.embed([code])).vectors)
        except Exception as exc:  # the Lens is an aid: report unavailable, never fail
            return self._fail(f"embedding failed: {type(exc).__name__}: {exc}")
        t1 = time.perf_counter()
        try:
            vectors = np.asarray(rows, dtype=np.float64)
        except ValueError:
            return self._fail("embeddings of unequal lengths")
        if vectors.shape != (len(codes), self.model.dim):
            return self._fail(f"embeddings of shape {vectors.shape}, the weights expect "
                              f"({len(codes)}, {self.model.dim})")
        energies = self.model.energy(vectors)
        t2 = time.perf_counter()
        self.stats.calls += 1
        self.stats.candidates += len(codes)
        self.stats.embed_s += t1 - t0
        self.stats.forward_s += t2 - t1
        if not np.isfinite(energies).all():
            return self._fail("non-finite energy")
        return energies

    def _fail(self, why: str) -> None:  # returns None: "the Lens cannot answer"
        self.stats.failures += 1
        if self.stats.last_error != why:  # one line per distinct reason, not per request
            log.warning("lens_unavailable", reason=why)
        self.stats.last_error = why
