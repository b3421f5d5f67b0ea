"""The energy MLP's math: backward pass against finite differences, losses, Platt head."""

from __future__ import annotations

import numpy as np
import pytest

from proxy.lens.model import LensModel, backward, fit_platt, forward, init_params
from proxy.lens.train import TrainConfig, loss_and_grad


def _setup(seed: int = 0, hidden: tuple[int, ...] = (5, 4)):
    rng = np.random.default_rng(seed)
    params = init_params(6, rng, hidden=hidden)
    x = rng.normal(size=(9, 6))
    passed = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0], dtype=bool)
    # Three tasks; the last has no failing candidate (MSE only, no pairs).
    task_rows = [np.array([0, 1, 2]), np.array([3, 4, 5, 6]), np.array([7, 8])]
    passed[7:] = [True, True]
    return params, x, passed, task_rows


def _total_loss(params, x, passed, task_rows, cfg) -> float:
    energies, _ = forward(params, x)
    loss, _, _ = loss_and_grad(energies, passed, task_rows, (0.8, 1.3), cfg)
    return loss


@pytest.mark.parametrize("hidden", [(5, 4), (3,), ()])  # the MLP, one layer, the linear head
def test_backward_matches_finite_differences(hidden) -> None:
    params, x, passed, task_rows = _setup(hidden=hidden)
    assert sorted(params) == sorted(f"{k}{i}" for i in range(1, len(hidden) + 2) for k in "Wb")
    cfg = TrainConfig(rank_weight=1.0, mse_weight=0.7)
    energies, cache = forward(params, x)
    _, d_energy, _ = loss_and_grad(energies, passed, task_rows, (0.8, 1.3), cfg)
    grads = backward(params, cache, d_energy)
    eps = 1e-6
    for name, p in params.items():
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = _total_loss(params, x, passed, task_rows, cfg)
            p[i] = old - eps
            down = _total_loss(params, x, passed, task_rows, cfg)
            p[i] = old
            numeric[i] = (up - down) / (2 * eps)
        err = np.abs(numeric - grads[name]).max() / max(np.abs(numeric).max(), 1e-8)
        assert err < 1e-6, (name, err)


def test_loss_gradient_in_energy_matches_finite_differences() -> None:
    _, _, passed, task_rows = _setup()
    energies = np.random.default_rng(1).uniform(0.1, 2.0, size=9)
    for cfg in (TrainConfig(rank_weight=1.0, mse_weight=0.0),
                TrainConfig(rank_weight=0.0, mse_weight=1.0)):
        _, grad, _ = loss_and_grad(energies, passed, task_rows, (0.8, 1.3), cfg)
        for i in range(len(energies)):
            e = energies.copy()
            e[i] += 1e-6
            up = loss_and_grad(e, passed, task_rows, (0.8, 1.3), cfg)[0]
            e[i] -= 2e-6
            down = loss_and_grad(e, passed, task_rows, (0.8, 1.3), cfg)[0]
            assert abs((up - down) / 2e-6 - grad[i]) < 1e-6


def test_ranking_loss_by_hand() -> None:
    # One task, one pass (E=0.2) and one fail (E=1.0): softplus(0.2 - 1.0).
    cfg = TrainConfig(rank_weight=1.0, mse_weight=0.0)
    loss, grad, _ = loss_and_grad(np.array([0.2, 1.0]), np.array([True, False]),
                                  [np.array([0, 1])], (1.0, 1.0), cfg)
    assert np.isclose(loss, np.log1p(np.exp(-0.8)))
    s = 1 / (1 + np.exp(0.8))
    assert np.allclose(grad, [s, -s])


def test_weighted_mse_by_hand() -> None:
    # Targets 0 (pass) / 1 (fail); weights: fail 0.5, pass 2.0.
    cfg = TrainConfig(rank_weight=0.0, mse_weight=1.0, target_pass=0.0, target_fail=1.0)
    loss, _, _ = loss_and_grad(np.array([0.5, 0.5, 2.0]), np.array([True, False, False]),
                               [np.array([0, 1, 2])], (0.5, 2.0), cfg)
    expected = (2.0 * 0.25 + 0.5 * 0.25 + 0.5 * 1.0) / (2.0 + 0.5 + 0.5)
    assert np.isclose(loss, expected)


def test_energy_is_positive_and_rounded_model_matches_file_precision() -> None:
    rng = np.random.default_rng(3)
    params = init_params(6, rng, hidden=(5, 4))
    model = LensModel(params=params, mean=np.zeros(6), std=np.ones(6))
    v = rng.normal(size=(4, 6))
    e = model.energy(v)
    assert e.shape == (4,) and (e > 0).all()
    r = model.rounded()
    assert r.params["W1"].dtype == np.float64
    assert np.array_equal(r.params["W1"], params["W1"].astype(np.float32).astype(np.float64))
    assert np.allclose(r.energy(v), e, rtol=1e-5)


def test_energy_is_invariant_to_embedding_scale() -> None:
    # The Lens L2-normalises: embedded (raw) and llama-server (normalised) vectors agree.
    rng = np.random.default_rng(4)
    model = LensModel(params=init_params(6, rng, hidden=(5, 4)), mean=np.zeros(6),
                      std=np.ones(6))
    v = rng.normal(size=(3, 6))
    assert np.allclose(model.energy(v), model.energy(v * 37.5))


def test_platt_recovers_a_known_logistic() -> None:
    rng = np.random.default_rng(5)
    e = rng.uniform(0, 3, size=20000)
    p = 1 / (1 + np.exp(-(1.5 - 2.0 * e)))
    y = rng.uniform(size=e.size) < p
    a, c = fit_platt(e, y)
    assert abs(a - 1.5) < 0.15 and abs(c - 2.0) < 0.15
    model = LensModel(params=init_params(2, rng, hidden=(2, 2)), mean=np.zeros(2),
                      std=np.ones(2), platt=(a, c))
    probs = model.probability(np.array([0.0, 1.0, 2.0]))
    assert probs is not None and (np.diff(probs) < 0).all()
