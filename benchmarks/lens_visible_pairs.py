#!/usr/bin/env python3
"""Does the Lens order the pairs the pipeline actually asks it about, and would training on
them help?

    python benchmarks/lens_visible_pairs.py --runs RUN... --heldout RUN...

The pipeline's tie-break only ever sees candidates that pass the examples their request
shows (``proxy/lens/visible.py``), so its failures are subtle ones. This prints, for heads
fitted four ways, the out-of-fold within-task AUC over all pairs of the MBPP mixed tasks
("CV all", what ``lens train --fit pairwise`` chooses the penalty by) and over the pairs
whose candidates pass their request's examples ("CV visible"), then the same two numbers on
held-out runs for information (held-out data vetoes, it does not choose):

* all pairs: the shipped training;
* visible only: trained on the visible-passing candidates alone;
* failures passing the examples x5 / x20: every pair, those with a subtle failure weighted up.

Embeddings come from the ``lens train`` cache (``runs/lens-cache/``), computed if missing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.lens import metrics, pairwise  # noqa: E402
from proxy.lens.cli import _embed_all, _length_energy  # noqa: E402
from proxy.lens.dataset import Candidate, read_runs  # noqa: E402
from proxy.lens.in_context import task_requests  # noqa: E402
from proxy.lens.pairwise_train import heldout_set, mixed_only, training_set  # noqa: E402
from proxy.lens.visible import passes_visible  # noqa: E402


def load(runs: list[Path], train: bool, config: str | None):
    cands = read_runs(runs)
    used = training_set(cands)[0] if train else heldout_set(cands)
    vis = np.array(asyncio.run(passes_visible(used, task_requests(used), progress=False)))
    args = argparse.Namespace(config=config, cache=None, batch=1)
    vectors, _ = asyncio.run(_embed_all(args, [c.code for c in used]))
    return used, vis, np.asarray(vectors, np.float64)


def within(energies: np.ndarray, cands: list[Candidate], mask: np.ndarray) -> float:
    idx = np.flatnonzero(mask)
    auc = metrics.within_task_auc(energies[idx], [cands[i].passed for i in idx],
                                  [cands[i].task_id for i in idx])
    return float("nan") if auc is None else auc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, nargs="+", required=True, help="MBPP training runs")
    ap.add_argument("--heldout", type=Path, nargs="+", required=True)
    ap.add_argument("--config", help="config naming the model that embeds")
    args = ap.parse_args()
    used, vis, x = load(args.runs, True, args.config)
    held, hvis, hx = load(args.heldout, False, args.config)
    passed = np.array([c.passed for c in used])
    groups = np.array([c.task_id for c in used])
    folds = pairwise.fold_of(groups)
    every, held_every = np.ones(len(used), bool), np.ones(len(held), bool)
    n_tasks = len({c.task_id for c in mixed_only([c for c, v in zip(used, vis) if v])})
    h_tasks = len({c.task_id for c in mixed_only([c for c, v in zip(held, hvis) if v])})
    print(f"training: {len(used)} candidates of mixed tasks; {int((vis & ~passed).sum())} of "
          f"{int((~passed).sum())} failures pass their request's examples; {n_tasks} tasks keep "
          f"both classes among the candidates that do")
    print(f"held out: {len(held)} candidates; {h_tasks} such tasks\n")
    variants = {"all pairs": (every, None), "visible only": (vis, None),
                "failures passing the examples x5": (every, np.where(vis, 5.0, 1.0)),
                "failures passing the examples x20": (every, np.where(vis, 20.0, 1.0))}
    print(f"{'head':<34} {'lambda':>6} {'CV all':>7} {'CV visible':>10} {'held all':>8} "
          f"{'held visible':>12}")
    for name, (keep, weight) in variants.items():
        for lam in pairwise.LAMBDAS:
            oof = np.zeros(len(used))
            for f in np.unique(folds):
                train, test = (folds != f) & keep, folds == f
                scale = pairwise.Standardiser.of(x[train])
                coef = pairwise.fit(scale(x[train]), passed[train], groups[train], lam,
                                    None if weight is None else weight[train])
                oof[test] = scale(x[test]) @ coef
            scale = pairwise.Standardiser.of(x[keep])
            coef = pairwise.fit(scale(x[keep]), passed[keep], groups[keep], lam,
                                None if weight is None else weight[keep])
            energies = scale(hx) @ coef
            print(f"{name:<34} {lam:>6} {within(oof, used, every):>7.3f} "
                  f"{within(oof, used, vis):>10.3f} {within(energies, held, held_every):>8.3f} "
                  f"{within(energies, held, hvis):>12.3f}")
    length, hlength = _length_energy(used), _length_energy(held)
    print(f"{'code length (shorter first)':<34} {'':>6} {within(length, used, every):>7.3f} "
          f"{within(length, used, vis):>10.3f} {within(hlength, held, held_every):>8.3f} "
          f"{within(hlength, held, hvis):>12.3f}")


if __name__ == "__main__":
    main()
