"""Lens fixtures: a small model *trained* on a synthetic 3-d task (the scripted fake backend's
toy embeddings are 3-d), for store and scorer plumbing; the real embedded backend; and real
embeddings of the snippet pairs, left in an embedding-cache file for the CLI tests."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from proxy.lens.dataset import EmbeddingCache
from proxy.lens.model import LensModel
from proxy.lens.train import Split, TrainConfig, train
from tests.lens.snippets import PAIRS


def synthetic_split(n_tasks: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    x, passed, groups = [], [], []
    for t in range(n_tasks):
        for _ in range(4):
            ok = bool(rng.uniform() < 0.5)
            v = rng.normal(size=3) + (np.array([2.0, 0.0, 0.0]) if ok else 0.0)
            x.append(v)
            passed.append(ok)
            groups.append(f"t{t}")
    return Split(np.array(x), passed, groups)


@pytest.fixture(scope="session")
def small_model() -> LensModel:
    cfg = TrainConfig(hidden=(8, 4), epochs=40, patience=10, batch_tasks=8, normalise=False,
                      weight_decay=0.0, lr=1e-2)
    return train(synthetic_split(40, 0), synthetic_split(10, 1), cfg).model


@pytest.fixture(scope="session")
def real_backend():
    """The real embedded default model (loaded once)."""
    from proxy.backends.embedded import EmbeddedBackend
    from proxy.config import EmbeddedConfig, ModelConfig

    backend = EmbeddedBackend(EmbeddedConfig(), ModelConfig())
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def snippet_embeddings(real_backend, tmp_path_factory):
    """(codes, vectors (40, d), cache path): the 20 correct functions and their broken twins,
    interleaved (good, bad, good, bad, ...), embedded once by the real model."""
    path = tmp_path_factory.mktemp("lens-cache") / "embeddings.npz"
    cache = EmbeddingCache(path, real_backend.info.fingerprint)
    codes = [code for pair in PAIRS for code in pair]
    vectors = asyncio.run(cache.embed(real_backend, codes, batch=8))
    return codes, vectors, path
