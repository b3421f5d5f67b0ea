"""``lens train --fit pairwise`` (and ``--context request``, which implies it): the linear
pairwise head of ``pairwise.py`` over code-only or in-context embeddings, its penalty chosen
by grouped cross-validation over MBPP train + validation tasks; and the matching held-out
evaluation for ``lens eval``.

Only tasks with both a passing and a failing candidate are embedded: the pairwise head
learns from nothing else, and within-task numbers are what selection needs. AUCs here are
therefore over those tasks' candidates ("mixed tasks").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from proxy.lens import metrics
from proxy.lens.dataset import Candidate, DataError, dedupe, read_runs, split_of


def vectors_for(args, cands: list[Candidate], context: str):  # noqa: ANN001
    """(vectors, model info) for candidates: code alone, or read after their request."""
    if context == "request":
        from proxy.lens.in_context import embed_with_config

        return asyncio.run(embed_with_config(args, cands))
    from proxy.lens.cli import _embed_all

    return asyncio.run(_embed_all(args, [c.code for c in cands]))


def mixed_only(cands: list[Candidate]) -> list[Candidate]:
    passing = {c.task_id for c in cands if c.passed}
    failing = {c.task_id for c in cands if not c.passed}
    return [c for c in cands if c.task_id in passing & failing]


def probe_flags(cands: list[Candidate], all_copies: list[Candidate]) -> list[bool]:
    """The greedy answer of each task (any copy sampled at T=0), at most one per task."""
    greedy = {(c.task_id, c.sha) for c in all_copies if c.temperature == 0.0}
    seen: set[str] = set()
    out = []
    for c in cands:
        flag = (c.task_id, c.sha) in greedy and c.task_id not in seen
        if flag:
            seen.add(c.task_id)
        out.append(flag)
    return out


def summary(energies: np.ndarray, cands: list[Candidate], all_copies: list[Candidate],
            k: int) -> dict[str, Any]:
    tasks = [c.task_id for c in cands]
    out = metrics.summary(energies, [c.passed for c in cands], tasks, list(range(len(cands))),
                          k=k, tasks=tasks, probe=probe_flags(cands, all_copies))
    out["auc_over"] = "candidates of tasks with both classes"
    return out


def visible_summary(energies: np.ndarray, cands: list[Candidate],
                    cache: Path | None = None) -> dict[str, Any]:
    """The same within-task numbers over the candidates that pass the examples their own
    request shows (``visible.py``): the only ones a tie at the top of the pipeline can hold,
    so these pairs are the ones the Lens is actually asked about. Checked results are kept
    beside the embedding cache (``--cache``)."""
    from proxy.lens.in_context import task_requests
    from proxy.lens.visible import CACHE_NAME, passes_visible

    path = cache.parent / CACHE_NAME if cache else None
    flags = asyncio.run(passes_visible(cands, task_requests(cands), path=path))
    idx = [i for i, ok in enumerate(flags) if ok]
    sub = [cands[i] for i in idx]
    mixed = {c.task_id for c in mixed_only(sub)}
    passed, tasks = [c.passed for c in sub], [c.task_id for c in sub]
    return {
        "what": "candidates passing their request's own examples (what the pipeline's ties "
                "hold); within-task numbers over their tasks with both classes",
        "tasks": len(mixed),
        "candidates": sum(c.task_id in mixed for c in sub),
        "failing_that_pass_examples": sum(not c.passed for c in sub),
        "failing": sum(not c.passed for c in cands),
        "within_task_auc": metrics.within_task_auc(np.asarray(energies)[idx], passed, tasks),
        "code_length_within_task_auc": length_baseline(sub),
    }


def length_baseline(cands: list[Candidate]) -> float | None:
    from proxy.lens.cli import _length_energy

    return metrics.within_task_auc(_length_energy(cands), [c.passed for c in cands],
                                   [c.task_id for c in cands])


def train_command(args, argv: list[str]) -> int:  # noqa: ANN001 - argparse namespace
    """``lens train --fit pairwise``: embed, cross-validate, save weights and card."""
    from proxy.lens import store
    from proxy.lens.cli import _round, _run_summaries
    from proxy.lens.pairwise import cross_validate
    from proxy.lens.verdict import verdict

    cands = read_runs(args.runs, arms=set(args.arm) if args.arm else None)
    used, stats = training_set(cands)
    if not used:
        raise DataError("no task has both a passing and a failing candidate")
    vectors, info = vectors_for(args, used, args.context)
    cv = cross_validate(vectors, [c.passed for c in used], [c.task_id for c in used],
                        folds=args.folds, seed=args.seed)
    model = cv.model.rounded()
    val = summary(cv.energies, used, cands, args.k)
    val["visible"] = visible_summary(cv.energies, used, args.cache)
    baselines = {"code_length_validation_within_task_auc": length_baseline(used)}
    card = {
        "model": info.id,
        "fingerprint": info.fingerprint,
        "aliases": [],
        "embedding": _embedding_card(args.context, info, int(vectors.shape[1])),
        "architecture": "d->1 (linear), Softplus (energy)",
        "heads": {"energy": "lower = more likely correct", "probability": None},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "training": {
            "losses": "pairwise logistic within tasks, each task weighing the same, + "
                      "lam/2 ||w||^2; full-batch gradient descent from zero (deterministic)",
            "fit": "pairwise",
            "config": {"lambda": cv.lam,
                       "lambdas_tried": {str(lam): round(s, 4) for lam, s in cv.scores.items()},
                       "folds": args.folds, "seed": args.seed},
            "selection": "the lambda with the best pooled out-of-fold within-task AUC over "
                         "folds of whole MBPP train + validation tasks; the head is then "
                         "fitted on all of them",
            "splits": {"train": "MBPP 1-10, 511-974 (train and validation, cross-validated "
                                "by task)"},
            "data": stats,
            "runs": _run_summaries(cands),
            "command": "atlas-proxy lens " + shlex.join(argv),
        },
        "metrics": {"validation": {**val, "note": "out of fold: each candidate scored by a "
                                   "head fitted without its task"},
                    "baselines": baselines},
    }
    card["metrics"] = _round(card["metrics"])
    card["warnings"], card["notes"] = verdict(val, baselines)
    path = store.save(model, card, args.out, args.name or info.id)
    print(json.dumps(card["metrics"], indent=2))
    for line in card["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    print(f"weights: {path} (lambda {cv.lam})", file=sys.stderr)
    return 0


def _embedding_card(context: str, info, dim: int) -> dict[str, Any]:  # noqa: ANN001
    from proxy.lens.cli import POOLING
    from proxy.lens.in_context import LEAD, WHAT

    if context == "request":
        return {"pooling": "mean", "context": "request", "lead": LEAD, "what": WHAT,
                "backend": info.description, "dim": dim}
    return {"pooling": "mean", "context": "none", "what": POOLING, "backend": info.description,
            "dim": dim}


def is_pairwise(card: dict[str, Any]) -> bool:
    return (card.get("training") or {}).get("fit") == "pairwise"


def eval_energies(args, model, card) -> tuple[np.ndarray, list[Candidate], list[Candidate], Any]:  # noqa: ANN001
    """(energies, scored candidates, all candidates read, model info) for ``lens eval`` of
    pairwise weights: the held-out tasks with both classes."""
    cands = read_runs(args.runs, arms=set(args.arm) if args.arm else None)
    used = heldout_set(cands)
    if not used:
        raise DataError("no task in these runs has both a passing and a failing candidate")
    context = (card.get("embedding") or {}).get("context", "none")
    vectors, info = vectors_for(args, used, context)
    return model.energy(vectors), used, cands, info


def training_set(cands: list[Candidate]) -> tuple[list[Candidate], dict[str, Any]]:
    bad = sorted({c.task_id for c in cands if split_of(c.task_id) == "heldout"})
    if bad:
        raise DataError(f"refusing to train: {len(bad)} task(s) outside MBPP train and "
                        f"validation, e.g. {', '.join(bad[:5])}")
    deduped, stats = dedupe(cands)
    used = mixed_only(deduped)
    stats["embedded"] = {"candidates": len(used), "tasks": len({c.task_id for c in used}),
                         "passing": sum(c.passed for c in used)}
    return used, stats


def heldout_set(cands: list[Candidate]) -> list[Candidate]:
    deduped, _ = dedupe(cands)
    return mixed_only(deduped)


