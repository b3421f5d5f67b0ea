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


async def test_in_context_weights_read_the_request(small_model) -> None:
    backend = _fake()
    card = {"embedding": {"context": "request", "lead": "```python\n"}}
    scorer = LensScorer(backend=backend, model=small_model, card=card)
    messages = [{"role": "user", "content": "Write f."}]
    codes = ["def f(): return 1\n", "def f(): return 2\n"]
    energies = await scorer.score(codes, messages)
    vectors = (await backend.embed_in_context(messages, "```python\n", codes)).vectors
    assert np.allclose(energies, small_model.energy(np.array(vectors)))
    other = await scorer.score(codes, [{"role": "user", "content": "Write a longer f."}])
    assert energies != other  # the toy vectors carry the length of the request
    assert await scorer.score(codes) is None  # no request: the Lens cannot answer
    assert "request" in scorer.stats.last_error


async def test_in_context_weights_on_a_backend_that_cannot(small_model) -> None:
    from proxy.errors import Unsupported

    class Plain(ScriptedFakeBackend):
        async def embed_in_context(self, messages, lead, answers):
            raise Unsupported("no per-token states here")

    card = {"embedding": {"context": "request"}}
    scorer = LensScorer(backend=Plain([]), model=small_model, card=card)
    assert await scorer.score(["a", "b"], [{"role": "user", "content": "x"}]) is None
    assert "per-token" in scorer.stats.last_error
