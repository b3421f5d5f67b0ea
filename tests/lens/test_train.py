"""Training: seeded reproducibility, and separation of real embeddings of real code.

The real-model test embeds 20 tiny functions and a deliberately broken twin of each with the
default model (the Lens's own embedding path), then trains the full d->512->128->1 MLP.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from proxy.lens import metrics
from proxy.lens.train import Split, TrainConfig, train
from tests.lens.conftest import synthetic_split


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    cfg = TrainConfig(hidden=(16, 8), epochs=5, patience=5, batch_tasks=4)
    a = train(synthetic_split(12, 0), synthetic_split(4, 1), cfg)
    b = train(synthetic_split(12, 0), synthetic_split(4, 1), cfg)
    c = train(synthetic_split(12, 0), synthetic_split(4, 1), TrainConfig(
        hidden=(16, 8), epochs=5, patience=5, batch_tasks=4, seed=1))
    for name in a.model.params:
        assert np.array_equal(a.model.params[name], b.model.params[name])
    assert not np.array_equal(a.model.params["W1"], c.model.params["W1"])
    assert [h["val_loss"] for h in a.history] == [h["val_loss"] for h in b.history]


def test_early_stopping_keeps_the_best_validation_epoch() -> None:
    cfg = TrainConfig(hidden=(16, 8), epochs=60, patience=5, batch_tasks=4, lr=3e-2)
    r = train(synthetic_split(12, 0), synthetic_split(4, 1), cfg)
    losses = [h["val_loss"] for h in r.history]
    assert r.best_epoch == 1 + int(np.argmin(losses))
    assert r.epochs_run <= r.best_epoch + cfg.patience


def test_training_needs_both_classes() -> None:
    s = synthetic_split(4, 0)
    s.passed[:] = True
    with pytest.raises(ValueError, match="both passing and failing"):
        train(s, s, TrainConfig(hidden=(4, 4), epochs=1))


def test_real_embeddings_are_mean_pooled_unnormalised_and_batch_independent(
        real_backend, snippet_embeddings) -> None:
    codes, vectors, _ = snippet_embeddings
    assert vectors.shape == (40, 896)
    assert np.isfinite(vectors).all()
    norms = np.linalg.norm(vectors, axis=1)
    assert not np.allclose(norms, 1.0)  # embed() does not normalise
    # Alone vs in a batch of 8: the same vector (up to float noise).
    alone = np.asarray(asyncio.run(real_backend.embed([codes[5]])).vectors[0])
    cos = alone @ vectors[5] / (np.linalg.norm(alone) * norms[5])
    assert cos > 0.999
    # A correct function and its broken twin are close but not identical.
    assert not np.array_equal(vectors[0], vectors[1])


def test_training_separates_real_embeddings(snippet_embeddings) -> None:
    """40 points in 896 dimensions are linearly separable whatever the labels: the full MLP
    with both losses must separate them, each correct function below its broken twin. The
    training split doubles as the validation split here: this tests the optimiser, it does
    not claim generalisation (that is what `lens eval` on held-out runs measures)."""
    codes, vectors, _ = snippet_embeddings
    passed = np.array([i % 2 == 0 for i in range(len(codes))])
    groups = np.array([f"task{i // 2}" for i in range(len(codes))])
    split = Split(vectors, passed, groups)
    result = train(split, split, TrainConfig(epochs=150, patience=150))
    energies = result.model.energy(vectors)
    assert metrics.auc(energies, passed) == 1.0
    assert metrics.within_task_auc(energies, passed, groups) == 1.0
    sel = metrics.selection(energies, passed, groups, k=2)
    assert sel["lens"] == 1.0 and sel["random"] == 0.5
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] / 2
