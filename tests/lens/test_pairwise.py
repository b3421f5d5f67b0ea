"""The pairwise linear head and its grouped cross-validation, on synthetic tasks whose
passing candidates differ from their failing ones along one direction, while tasks differ
from each other along another (what a code-only embedding mostly sees)."""

from __future__ import annotations

import numpy as np
import pytest

from proxy.lens import metrics, pairwise


def _tasks(n_tasks: int, seed: int, signal: float = 1.5):
    rng = np.random.default_rng(seed)
    x, passed, groups = [], [], []
    for t in range(n_tasks):
        centre = rng.normal(size=6) * 4.0  # the task itself: large, irrelevant to ranking
        for i in range(5):
            ok = i < 2 if t % 3 else i == 0
            v = centre + rng.normal(size=6) * 0.5
            v[0] += signal if ok else 0.0
            x.append(v + 10.0)  # away from the origin, so the L2 norm keeps the geometry
            passed.append(ok)
            groups.append(f"task{t}")
    return np.array(x), np.array(passed), np.array(groups)


def test_pairs_weigh_every_task_the_same() -> None:
    passed = np.array([True, False, False, True, True, False, True])
    groups = np.array(["a", "a", "a", "b", "b", "b", "c"])  # c has one class: no pairs
    pos, neg, w = pairwise.pairs(passed, groups)
    assert len(pos) == 2 + 2 and set(groups[pos]) == {"a", "b"}
    assert np.isclose(w[groups[pos] == "a"].sum(), 1) and np.isclose(w[groups[pos] == "b"].sum(), 1)
    with pytest.raises(ValueError):
        pairwise.pairs(np.array([True, True]), np.array(["a", "a"]))


def test_folds_never_split_a_task() -> None:
    _, _, groups = _tasks(23, 0)
    folds = pairwise.fold_of(groups, folds=5, seed=0)
    for g in set(groups):
        assert len(set(folds[groups == g])) == 1
    assert sorted(set(folds)) == [0, 1, 2, 3, 4]
    assert (pairwise.fold_of(groups, 5, 0) == folds).all()  # seeded


def test_cross_validated_head_ranks_held_out_tasks() -> None:
    x, passed, groups = _tasks(40, 1)
    cv = pairwise.cross_validate(x, passed, groups, lambdas=(0.01, 1.0), folds=4)
    assert cv.lam in (0.01, 1.0) and set(cv.scores) == {0.01, 1.0}
    assert cv.scores[cv.lam] == max(cv.scores.values())
    assert cv.scores[cv.lam] > 0.8  # out of fold: tasks the head never saw
    x2, passed2, groups2 = _tasks(15, 2)
    energies = cv.model.energy(x2)
    assert metrics.within_task_auc(energies, passed2, groups2) > 0.8
    # Stored as an ordinary LensModel: Softplus is monotone, so it orders like w . x.
    raw = pairwise.Standardiser(cv.model.mean, cv.model.std)(x2) @ cv.model.params["W1"][:, 0]
    assert (np.argsort(energies, kind="stable") == np.argsort(raw, kind="stable")).all()
    again = pairwise.cross_validate(x, passed, groups, lambdas=(0.01, 1.0), folds=4)
    assert np.array_equal(again.model.params["W1"], cv.model.params["W1"])  # deterministic


def test_no_signal_gives_chance() -> None:
    x, passed, groups = _tasks(40, 3, signal=0.0)
    cv = pairwise.cross_validate(x, passed, groups, lambdas=(0.1,), folds=4)
    assert 0.3 < cv.scores[0.1] < 0.7


def test_fail_weight_scales_the_pairs_of_a_failing_candidate() -> None:
    x, passed, groups = _tasks(12, 3)
    plain = pairwise.fit(x, passed, groups, 0.01)
    # Only relative weights matter; weight 0 on every failure of a task drops that task.
    assert np.allclose(pairwise.fit(x, passed, groups, 0.01, np.full(len(x), 3.0)), plain)
    gone = groups == "task0"
    weight = np.where(gone & ~passed, 0.0, 1.0)
    assert np.allclose(pairwise.fit(x, passed, groups, 0.01, weight),
                       pairwise.fit(x[~gone], passed[~gone], groups[~gone], 0.01))
    stressed = np.where(~passed & (np.arange(len(x)) % 2 == 1), 5.0, 1.0)
    assert not np.allclose(pairwise.fit(x, passed, groups, 0.01, stressed), plain)
