"""The pipeline's Scorer contract: k codes in, k energies out, or None (never an exception)."""

from __future__ import annotations

import numpy as np

from proxy.backends.base import ModelInfo
from proxy.backends.fake import ScriptedFakeBackend
from proxy.errors import BackendUnavailable
from proxy.lens import LensScorer
from proxy.pipeline.select import Scorer


def _fake() -> ScriptedFakeBackend:
    return ScriptedFakeBackend([], info=ModelInfo(id="toy", context_length=4096))


async def test_scores_k_candidates(small_model) -> None:
    backend = _fake()
    scorer = LensScorer(backend=backend, model=small_model)
    assert isinstance(scorer, Scorer)
    codes = ["def f(): return 1\n", "def f(): return 2\n", "def f():\n    return 3\n"]
    energies = await scorer.score(codes)
    vectors = (await backend.embed(codes)).vectors
    assert energies is not None and len(energies) == 3
    assert np.allclose(energies, small_model.energy(np.array(vectors)))
    assert scorer.stats.calls == 1 and scorer.stats.candidates == 3
    assert await scorer.score([]) == []


async def test_wrong_dimension_is_unavailable(small_model) -> None:
    class Wide(ScriptedFakeBackend):
        async def embed(self, texts):
            from proxy.backends.base import Embeddings

            return Embeddings(vectors=[[0.0] * 5 for _ in texts], prompt_tokens=1)

    scorer = LensScorer(backend=Wide([]), model=small_model)
    assert await scorer.score(["a", "b"]) is None
    assert "shape" in scorer.stats.last_error


async def test_backend_failure_is_unavailable(small_model) -> None:
    class Down(ScriptedFakeBackend):
        async def embed(self, texts):
            raise BackendUnavailable("model is shutting down")

    scorer = LensScorer(backend=Down([]), model=small_model)
    assert await scorer.score(["a", "b"]) is None
    assert scorer.stats.failures == 1
