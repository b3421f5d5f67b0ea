"""``atlas-proxy lens collect|traces|train|eval``: labelled data, training and held-out numbers.

    atlas-proxy lens collect [--url URL] [--execute]      # the bench runs that make the data
    atlas-proxy lens traces RUN --out DIR                 # a pipeline run's candidates, graded
    atlas-proxy lens train --runs DIR [DIR ...] --out lens_weights/
    atlas-proxy lens eval  --runs DIR [DIR ...] --weights lens_weights/NAME.json
    atlas-proxy lens alias lens_weights/NAME.json upstream:MODEL_ID   # same GGUF elsewhere

Embeddings come from the model the config names (``config.toml``, ``ATLAS_*`` variables,
``--config``), the same one that wrote the candidates; they are cached per fingerprint
(``--cache``), so a second ``train`` with other hyper-parameters embeds nothing again.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from proxy.lens import metrics
from proxy.lens.dataset import (
    Candidate,
    DataError,
    EmbeddingCache,
    for_training,
    read_runs,
    split_of,
)
from proxy.lens.collect import COLLECT_PLANS, collect_commands
from proxy.lens.model import architecture
from proxy.lens.verdict import verdict, with_heldout_verdict

DEFAULT_URL = "http://127.0.0.1:8080/v1"
DEFAULT_CACHE_DIR = Path("runs/lens-cache")
POOLING = ("llama.cpp embedding context on the same GGUF, pooling_type=MEAN: the mean over "
           "all tokens of the candidate's code (as extracted from the answer: no prompt, no "
           "markdown fence, no special tokens) of the last layer's hidden state after the "
           "final norm; L2-normalised by the Lens, then standardised")



def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="atlas-proxy lens", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    col = sub.add_parser("collect", help="print (or run) the bench commands that produce "
                         "labelled candidates on MBPP train/prompt/validation")
    col.add_argument("--url", default=DEFAULT_URL, help=f"a running atlas-proxy ({DEFAULT_URL})")
    col.add_argument("--out-root", default="runs/lens", help="parent of the run directories")
    col.add_argument("--seed", type=int, default=0)
    col.add_argument("--plan", choices=sorted(COLLECT_PLANS), default="shipped",
                     help="shipped: the runs behind lens_weights/ (default); full: ~5x more")
    col.add_argument("--heldout", action="store_true",
                     help="also print the HumanEval runs used only by `lens eval`")
    col.add_argument("--execute", action="store_true",
                     help="run them one after the other (resumable: rerun to continue)")

    tc = sub.add_parser("traces", help="grade every candidate of a bench run's pipeline "
                        "traces and write them as a run that train/eval read")
    tc.add_argument("run", type=Path, help="a bench run directory whose arm kept its traces")
    tc.add_argument("--out", type=Path, required=True, help="the run directory to write")
    tc.add_argument("--arm", help="only this arm's traces (default: every traced arm)")

    tr = sub.add_parser("train", help="train weights from graded runs")
    tr.add_argument("--runs", nargs="+", type=Path, required=True)
    tr.add_argument("--out", type=Path, default=Path("lens_weights"))
    tr.add_argument("--name", help="file name of the weights (default: the model id)")
    tr.add_argument("--arm", action="append", help="only samples of these arms (default all)")
    _embed_args(tr)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--epochs", type=int, default=300)
    tr.add_argument("--patience", type=int, default=20)
    tr.add_argument("--batch-tasks", type=int, default=32)
    tr.add_argument("--lr", type=float, default=3e-4)
    tr.add_argument("--weight-decay", type=float, default=1e-2)
    tr.add_argument("--rank-weight", type=float, default=1.0)
    tr.add_argument("--mse-weight", type=float, default=1.0)
    tr.add_argument("--hidden", type=_hidden, default=(512, 128), metavar="SIZES",
                    help="hidden layer widths, e.g. 512,128 (the notes' MLP, default); "
                         "'none' = the linear head (shipped for the default model)")
    tr.add_argument("--k", type=int, default=3, help="pool size for selection accuracy (3)")
    tr.add_argument("--fit", choices=("adam", "pairwise"), default="adam",
                    help="adam: losses of train.py, early stopping on validation; pairwise: "
                         "the linear pairwise head, penalty chosen by grouped CV over train + "
                         "validation tasks (pairwise.py; implied by --context request)")
    tr.add_argument("--folds", type=int, default=5,
                    help="--fit pairwise: task folds for choosing the penalty (5)")
    tr.add_argument("--quiet", action="store_true")

    ev = sub.add_parser("eval", help="held-out AUC and selection accuracy of weights")
    ev.add_argument("--runs", nargs="+", type=Path, required=True)
    ev.add_argument("--weights", type=Path, required=True, help="the card (NAME.json)")
    ev.add_argument("--arm", action="append")
    ev.add_argument("--k", type=int, default=3)
    ev.add_argument("--update-card", action="store_true",
                    help="write the numbers into the card's metrics.heldout")
    _embed_args(ev)

    al = sub.add_parser("alias", help="let weights load for another fingerprint of the same "
                        "GGUF, e.g. upstream:MODEL_ID for llama-server serving it")
    al.add_argument("weights", type=Path, help="the card (NAME.json)")
    al.add_argument("fingerprint")
    return p


def _hidden(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("", "none", "linear"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 512,128 or 'none', got {text!r}")
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive: {text!r}")
    return sizes


def _embed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="atlas-proxy config file naming the model (config.toml)")
    p.add_argument("--cache", type=Path,
                   help=f"embedding cache .npz (default {DEFAULT_CACHE_DIR}/embeddings-FP.npz)")
    p.add_argument("--context", choices=("none", "request"), default="none",
                   help="none: embed the code alone; request: embed it after its request, "
                        "pooled over the code (proxy/lens/in_context.py); eval follows the card")
    p.add_argument("--batch", type=int, default=1,
                   help="codes per embed call (1: same speed, least memory; docs/lens.md)")


# --- collect ---------------------------------------------------------------------------------


def _collect(args: argparse.Namespace) -> int:
    cmds = collect_commands(args.url, args.out_root, args.seed, args.heldout, args.plan)
    for cmd in cmds:
        print(shlex.join(cmd))
    if not args.execute:
        print("# start the server first (atlas-proxy serve); each run resumes when rerun",
              file=sys.stderr)
        return 0
    for cmd in cmds:
        print(f"$ {shlex.join(cmd)}", file=sys.stderr)
        rc = subprocess.call([sys.executable, "-m", "proxy.cli", *cmd[1:]])
        if rc != 0:
            return rc
    return 0


# --- embedding -------------------------------------------------------------------------------


async def make_backend(config_path: str | None):
    from proxy.config import load_config

    config = load_config(config_path)
    if config.model.backend == "upstream":
        from proxy.backends.upstream import UpstreamBackend

        return await UpstreamBackend.connect(config.upstream, config.model)
    from proxy.backends.embedded import EmbeddedBackend

    return await asyncio.to_thread(EmbeddedBackend, config.embedded, config.model)


async def _embed_all(args: argparse.Namespace, codes: list[str]) -> tuple[np.ndarray, Any]:
    backend = await make_backend(args.config)
    try:
        info = backend.info
        path = args.cache or EmbeddingCache.default_path(DEFAULT_CACHE_DIR, info.fingerprint)
        cache = EmbeddingCache(path, info.fingerprint)
        print(f"embedding with {info.id} ({info.fingerprint[:16]}...), cache {path} "
              f"({len(cache)} cached)", file=sys.stderr)
        vectors = await cache.embed(backend, codes, batch=args.batch, progress=True)
    finally:
        await backend.aclose()
    return vectors, info


# --- train -----------------------------------------------------------------------------------


def _run_summaries(cands: list[Candidate]) -> list[dict[str, Any]]:
    from proxy.bench.records import read_config

    out = []
    for run in dict.fromkeys(c.run for c in cands):
        cfg = read_config(Path(run))
        mine = [c for c in cands if c.run == run]
        out.append({
            "dir": run,
            "command": "atlas-proxy bench " + shlex.join(cfg.argv) if cfg.argv else None,
            **({"derived": cfg.invocation} if cfg.invocation.startswith("atlas-proxy lens")
               else {}),
            "dataset": cfg.dataset, "split": cfg.split, "temperature": cfg.temperature,
            "n": cfg.n, "seed": cfg.seed, "max_tokens": cfg.max_tokens,
            "models": sorted({a.model for a in cfg.arms}),
            "samples_used": len(mine), "passing": sum(c.passed for c in mine),
        })
    return out


def _summary(energies: np.ndarray, cands: list[Candidate], k: int) -> dict[str, Any]:
    """Metrics of energies over candidates. Selection pools: k samples of one task from one
    run (one temperature), in sample order; and the pipeline's situation: the task's greedy
    (T=0) answer, when a run has one, plus k-1 sampled candidates."""
    groups = np.asarray([f"{c.run}::{c.task_id}" for c in cands])
    order = np.asarray([c.sample for c in cands])
    probe, seen = [], set()
    for c in cands:
        first_greedy = c.temperature == 0.0 and c.task_id not in seen
        if first_greedy:
            seen.add(c.task_id)
        probe.append(first_greedy)
    return metrics.summary(energies, [c.passed for c in cands], groups, order, k=k,
                           tasks=[c.task_id for c in cands], probe=probe)


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    from proxy.lens import store

    if args.context == "request" or args.fit == "pairwise":
        from proxy.lens.pairwise_train import train_command

        return train_command(args, argv)
    from proxy.lens.train import Split, TrainConfig, logistic_probe, train

    cands = read_runs(args.runs, arms=set(args.arm) if args.arm else None)
    train_c, val_c, data_stats = for_training(cands)
    val_all = [c for c in cands if split_of(c.task_id) == "validation"]  # duplicates kept
    if not train_c or not val_c:
        raise DataError(f"need candidates in both splits (train {len(train_c)}, validation "
                        f"{len(val_c)}): add runs of MBPP --split train/prompt and validation")
    codes = [c.code for c in train_c] + [c.code for c in val_all]
    vectors, info = asyncio.run(_embed_all(args, codes))
    x_train, x_val_all = vectors[: len(train_c)], vectors[len(train_c):]
    index = {(c.task_id, c.sha): i for i, c in enumerate(val_all)}
    x_val = x_val_all[[index[(c.task_id, c.sha)] for c in val_c]]
    tr = Split(x_train, [c.passed for c in train_c], [c.task_id for c in train_c])
    va = Split(x_val, [c.passed for c in val_c], [c.task_id for c in val_c])
    cfg = TrainConfig(seed=args.seed, epochs=args.epochs, patience=args.patience,
                      batch_tasks=args.batch_tasks, lr=args.lr, weight_decay=args.weight_decay,
                      rank_weight=args.rank_weight, mse_weight=args.mse_weight,
                      hidden=args.hidden)

    def log(row: dict) -> None:
        if not args.quiet:
            print(f"epoch {row['epoch']:3d} train {row['train_loss']:.4f} val "
                  f"{row['val_loss']:.4f} auc {row['val_auc'] or 0:.3f} within-task "
                  f"{row['val_within_task_auc'] or 0:.3f}", file=sys.stderr)

    result = train(tr, va, cfg, log=log)
    model = result.model.rounded()  # exactly what the npz will hold
    val_metrics = _summary(model.energy(x_val_all), val_all, args.k)
    e_train = model.energy(x_train)
    train_metrics = {"auc": metrics.auc(e_train, tr.passed),
                     "within_task_auc": metrics.within_task_auc(e_train, tr.passed, tr.groups)}
    probe = logistic_probe(tr, va)
    length = _length_energy(val_c)
    baselines = {"logistic_probe_validation_auc": metrics.auc(probe, va.passed),
                 "logistic_probe_validation_within_task_auc":
                     metrics.within_task_auc(probe, va.passed, va.groups),
                 "code_length_validation_auc": metrics.auc(length, va.passed),
                 "code_length_validation_within_task_auc":
                     metrics.within_task_auc(length, va.passed, va.groups)}
    name = args.name or info.id
    card = {
        "model": info.id,
        "fingerprint": info.fingerprint,
        "aliases": [],
        "embedding": {"pooling": "mean", "what": POOLING, "backend": info.description},
        "architecture": architecture(cfg.hidden),
        "heads": {"energy": "lower = more likely correct",
                  "probability": "sigmoid(a - c*energy), Platt-fitted on validation"
                  if model.platt else None},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "training": {
            "losses": "pairwise ranking within tasks (softplus(E_pass - E_fail)) + "
                      f"class-balanced weighted MSE (targets {cfg.target_pass} pass / "
                      f"{cfg.target_fail} fail)",
            "config": result.config_dict(),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "splits": {"train": "MBPP 1-10, 601-974", "validation": "MBPP 511-600"},
            "data": data_stats,
            "runs": _run_summaries(cands),
            "command": "atlas-proxy lens " + shlex.join(argv),
        },
        "metrics": {
            "train": train_metrics,
            "validation": {**val_metrics, "note": "validation chose the stopping epoch; "
                           "held-out numbers come from `lens eval` on tasks never trained on"},
            "baselines": baselines,
        },
    }
    card["metrics"] = _round(card["metrics"])
    card["warnings"], card["notes"] = verdict(val_metrics, baselines)
    card_path = store.save(model, card, args.out, name)
    print(json.dumps(_round(card["metrics"]), indent=2))
    for warning in card["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    for note in card["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"weights: {card_path} (best epoch {result.best_epoch} of {result.epochs_run})",
          file=sys.stderr)
    return 0


def _length_energy(cands: list[Candidate]) -> np.ndarray:
    """The trivial baseline a learned scorer must beat: shorter code = lower energy."""
    return np.array([len(c.code) for c in cands], dtype=np.float64)


# --- eval ------------------------------------------------------------------------------------


def _eval(args: argparse.Namespace, argv: list[str]) -> int:
    from proxy.lens import pairwise_train as pw
    from proxy.lens import store

    model, card = store.load(args.weights)
    pairwise = pw.is_pairwise(card)  # in-context weights are always pairwise
    if pairwise:
        energies, cands, all_cands, info = pw.eval_energies(args, model, card)
    else:
        cands = read_runs(args.runs, arms=set(args.arm) if args.arm else None)
        if not cands:
            raise DataError("no graded candidates in these runs")
        vectors, info = asyncio.run(_embed_all(args, [c.code for c in cands]))
        energies = model.energy(vectors)
    trained_on = sorted({c.task_id for c in cands if split_of(c.task_id) != "heldout"})
    if info.fingerprint != card["fingerprint"] and info.fingerprint not in card.get("aliases", []):
        raise DataError(f"the config's model ({info.fingerprint[:16]}...) is not the one these "
                        f"weights were trained for ({card['fingerprint'][:16]}...)")
    passed = [c.passed for c in cands]
    result = (pw.summary(energies, cands, all_cands, args.k) if pairwise
              else _summary(energies, cands, args.k))
    if pairwise:
        result["visible"] = pw.visible_summary(energies, cands, args.cache)
    length = _length_energy(cands)
    result["baselines"] = {
        "code_length_auc": metrics.auc(length, passed),
        "code_length_within_task_auc": metrics.within_task_auc(
            length, passed, [c.task_id for c in cands]),
    }
    probs = model.probability(energies)
    if probs is not None:
        y = np.asarray(passed, dtype=float)
        result["brier"] = float(np.mean((probs - y) ** 2))
        result["brier_constant"] = float(np.mean((y.mean() - y) ** 2))
    result["runs"] = _run_summaries(cands)
    result["command"] = "atlas-proxy lens " + shlex.join(argv)
    if trained_on:
        result["warning"] = (f"{len(trained_on)} task(s) belong to the train/validation splits: "
                             "these numbers are not held out")
    print(json.dumps(_round(result), indent=2))
    if args.update_card:
        if trained_on:
            print("not updating the card: the data is not held out", file=sys.stderr)
            return 1
        card.setdefault("metrics", {})["heldout"] = _round(result)
        card["warnings"] = with_heldout_verdict(card.get("warnings") or [], result)
        for warning in card["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        args.weights.write_text(json.dumps(card, indent=2) + "\n")
        print(f"updated {args.weights}", file=sys.stderr)
    return 0


def _traces(args: argparse.Namespace, argv: list[str]) -> int:
    from proxy.lens.traces import derive

    if args.out.resolve() == args.run.resolve():
        raise DataError("--out must be a new directory, not the run itself")
    stats = asyncio.run(derive(args.run, args.out, arm=args.arm, argv=argv))
    print(f"{args.out}: {stats['candidates']} candidates ({stats['passing']} passing) from "
          f"{stats['traces']} traces" + (f", {stats['unreadable']} unreadable traces skipped"
                                         if stats["unreadable"] else ""), file=sys.stderr)
    return 0


def _alias(args: argparse.Namespace) -> int:
    from proxy.lens import store

    card = store.read_card(args.weights)
    aliases = card.setdefault("aliases", [])
    if args.fingerprint not in aliases and args.fingerprint != card["fingerprint"]:
        aliases.append(args.fingerprint)
        args.weights.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{args.weights}: loads for {card['fingerprint']} and {aliases}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "collect":
            return _collect(args)
        if args.command == "alias":
            return _alias(args)
        if args.command == "traces":
            return _traces(args, list(argv))
        if args.command == "train":
            return _train(args, list(argv))
        return _eval(args, list(argv))
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"atlas-proxy lens: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
