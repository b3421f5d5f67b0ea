"""A linear Lens head fitted for what selection needs: ordering one task's candidates.

The loss is pairwise logistic over (passing, failing) candidates of the same task,
``log(1 + exp(-(E_fail - E_pass)))`` with ``E = w . x``, each task weighing the same however
many pairs it has, plus ``lam/2 * ||w||^2``. Tasks whose candidates all pass or all fail
have no pairs and do not enter. The problem is convex, so full-batch gradient descent from
zero is deterministic: the same data give the same weights, no seed involved.

``lam`` is chosen by grouped cross-validation: tasks (never single candidates) are dealt into
folds, each fold is scored by a head fitted on the others, and the ``lam`` with the best
pooled within-task AUC of those out-of-fold energies wins; the final head is then fitted on
every task. This uses all tasks with both classes for choosing (128 on MBPP train +
validation here) instead of the 20 of the validation split alone, whose pick rates had a
standard error of ~0.1 (docs/lens.md).

The head is stored as an ordinary ``LensModel`` (``W1`` (d, 1), ``b1``), whose energy is
``Softplus(w . x + b)``: monotone in ``w . x``, so it orders candidates exactly as fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proxy.lens import metrics
from proxy.lens.model import LensModel, l2_normalise

LAMBDAS = (0.003, 0.01, 0.03, 0.1, 0.3)
FOLDS = 5
STEPS = 400
LR = 0.5


def pairs(passed: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(passing index, failing index, weight) for every same-task pair; weights sum to 1
    within each task."""
    pos_all, neg_all, weights = [], [], []
    for key in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == key)
        pos, neg = idx[passed[idx]], idx[~passed[idx]]
        if not len(pos) or not len(neg):
            continue
        p, n = np.meshgrid(pos, neg, indexing="ij")
        pos_all.append(p.ravel())
        neg_all.append(n.ravel())
        weights.append(np.full(p.size, 1.0 / p.size))
    if not pos_all:
        raise ValueError("no task has both a passing and a failing candidate")
    return np.concatenate(pos_all), np.concatenate(neg_all), np.concatenate(weights)


def fit(x: np.ndarray, passed: np.ndarray, groups: np.ndarray, lam: float,
        fail_weight: np.ndarray | None = None) -> np.ndarray:
    """w (d,) minimising the task-weighted pairwise logistic loss + lam/2 ||w||^2.
    ``fail_weight`` (per candidate) scales each pair by its failing candidate's weight, e.g.
    to stress failures that pass the request's own examples (``benchmarks/lens_visible_pairs.py``)."""
    p, n, w = pairs(np.asarray(passed, bool), np.asarray(groups))
    if fail_weight is not None:
        w = w * np.asarray(fail_weight, np.float64)[n]
    diff = x[n] - x[p]  # wanted: w . diff > 0 (the failing one has the higher energy)
    w = w / w.sum()
    coef = np.zeros(x.shape[1])
    for _ in range(STEPS):
        margin = diff @ coef
        # d/dcoef log(1 + exp(-m)) = -sigmoid(-m) * diff
        grad = -(diff * (w / (1.0 + np.exp(np.clip(margin, -50, 50))))[:, None]).sum(0)
        coef -= LR * (grad + lam * coef)
    return coef


@dataclass
class Standardiser:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, vectors: np.ndarray) -> Standardiser:
        x = l2_normalise(np.asarray(vectors, np.float64))
        return cls(x.mean(0), x.std(0) + 1e-6)

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        return (l2_normalise(np.asarray(vectors, np.float64)) - self.mean) / self.std


def fold_of(groups: np.ndarray, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each candidate's fold, dealt by task: a seeded shuffle of the sorted task ids."""
    tasks = np.array(sorted(set(groups.tolist())))
    np.random.default_rng(seed).shuffle(tasks)
    of_task = {t: i % folds for i, t in enumerate(tasks.tolist())}
    return np.array([of_task[g] for g in groups.tolist()])


def out_of_fold(vectors: np.ndarray, passed: np.ndarray, groups: np.ndarray, lam: float,
                folds: np.ndarray) -> np.ndarray:
    """Energies of every candidate from a head fitted without its task's fold."""
    energies = np.zeros(len(passed))
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        scale = Standardiser.of(vectors[train])
        coef = fit(scale(vectors[train]), passed[train], groups[train], lam)
        energies[test] = scale(vectors[test]) @ coef
    return energies


@dataclass
class CrossValidated:
    model: LensModel
    lam: float
    scores: dict[float, float]  # lam -> pooled out-of-fold within-task AUC
    energies: np.ndarray  # the chosen lam's out-of-fold energies


def cross_validate(vectors: np.ndarray, passed, groups, *, lambdas=LAMBDAS, folds: int = FOLDS,
                   seed: int = 0) -> CrossValidated:
    passed, groups = np.asarray(passed, bool), np.asarray(groups)
    vectors = np.asarray(vectors, np.float64)
    assignment = fold_of(groups, folds, seed)
    scores, oof = {}, {}
    for lam in lambdas:
        oof[lam] = out_of_fold(vectors, passed, groups, lam, assignment)
        scores[lam] = metrics.within_task_auc(oof[lam], passed, groups) or 0.0
    best = max(lambdas, key=lambda lam: (scores[lam], lam))  # ties: the stronger penalty
    scale = Standardiser.of(vectors)
    coef = fit(scale(vectors), passed, groups, best)
    model = LensModel(params={"W1": coef[:, None], "b1": np.zeros(1)}, mean=scale.mean,
                      std=scale.std, platt=None, normalise=True)
    return CrossValidated(model=model, lam=best, scores=scores, energies=oof[best])
