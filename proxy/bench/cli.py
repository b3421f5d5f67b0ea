"""``atlas-proxy bench run|report``: benchmark arms through HTTP and render the report.

Rerunning the same ``run`` command with the same ``--out`` resumes an interrupted run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

import httpx
import msgspec

from .datasets import (
    PROMPT_TEMPLATES,
    DatasetError,
    load_tasks,
    resolve_path,
    select_tasks,
    sha256_file,
)
from .metrics import load_prices
from .records import RUN_FILE, Arm, RunConfig, parse_arm, read_config, write_config

DEFAULT_URL = "http://127.0.0.1:8080/v1"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="atlas-proxy bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="benchmark one or more arms in one run")
    run.add_argument("--dataset", default="humaneval", help="humaneval | mbpp | PATH (JSONL)")
    run.add_argument("--split", help="MBPP: validation (default) | train | prompt | test | all")
    run.add_argument("--tasks", type=int, help="a seeded random sample of N tasks (default all)")
    run.add_argument("--task-ids", help="comma-separated task ids (e.g. HumanEval/0,MBPP/511)")
    run.add_argument("--arm", action="append", default=[], metavar="SPEC",
                     help="name=URL,model=ID[,extra=JSON][,key_env=VAR]; repeat; the first is "
                          "the baseline; model=auto takes the server's first plain model. "
                          "Default: plain (model=auto) and atlas on --url")
    run.add_argument("--url", default=DEFAULT_URL, help=f"server of the default arms ({DEFAULT_URL})")
    run.add_argument("--n", type=int, default=1, help="samples per task and arm (default 1)")
    run.add_argument("--k", help="comma-separated k for pass@k (default 1,5,10,... <= n, and n)")
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--seed", type=int, default=0, help="task sample and request seed (seed+i)")
    run.add_argument("--max-tokens", type=int, default=512)
    run.add_argument("--concurrency", type=int, default=1,
                     help="requests in flight (default 1: on a small CPU, parallel generations "
                          "are several times slower each)")
    run.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    run.add_argument("--retries", type=int, default=3, help="tries per sample before a crash")
    run.add_argument("--backoff", type=float, default=1.0,
                     help="first retry delay in seconds, doubled each retry (1.0)")
    run.add_argument("--retry-crashes", action="store_true",
                     help="on resume, run again the samples recorded as crashes")
    run.add_argument("--out", help="run directory (default runs/bench-DATASET-TIME)")
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--invocation", default="",
                     help="the wrapper's command line, recorded in the report (for scripts)")
    _cost_args(run)
    rep = sub.add_parser("report", help="re-render report.md, results.json and plots of a run")
    rep.add_argument("dir", type=Path)
    _cost_args(rep, defaults=False)
    return p


def _cost_args(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    p.add_argument("--watts", type=float, default=65.0 if defaults else None,
                   help="assumed average power draw while busy, for the energy estimate (65)")
    p.add_argument("--kwh-price", type=float, default=0.15 if defaults else None,
                   help="electricity price in USD per kWh (0.15)")
    p.add_argument("--prices", help='JSON file {"model": [usd_per_M_in, usd_per_M_out]}')


def _arms(args: argparse.Namespace) -> list[Arm]:
    specs = args.arm or [
        f"plain={args.url},model=auto",
        f'atlas={args.url},model=atlas,extra={{"atlas": {{"trace": true}}}}',
    ]
    arms = [parse_arm(s) for s in specs]
    if len({a.name for a in arms}) != len(arms):
        raise ValueError("arm names must be unique")
    return arms


async def _resolve(arms: list[Arm]) -> list[Arm]:
    from .runner import resolve_model

    out = []
    for a in arms:
        if a.model == "auto":
            model = await resolve_model(a.base_url, key_env=a.key_env)
            a = Arm(name=a.name, base_url=a.base_url, model=model, extra=a.extra, key_env=a.key_env)
        out.append(a)
    return out


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    from .report import render

    tasks = load_tasks(args.dataset, args.split)
    ids = [i.strip() for i in args.task_ids.split(",")] if args.task_ids else None
    tasks = select_tasks(tasks, count=args.tasks, ids=ids, seed=args.seed)
    ks = sorted({int(k) for k in args.k.split(",")}) if args.k else []
    if any(not 1 <= k <= args.n for k in ks):
        raise ValueError(f"--k values must be between 1 and --n ({args.n})")
    arms = asyncio.run(_resolve(_arms(args)))
    path = resolve_path(args.dataset)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.out or f"runs/bench-{Path(args.dataset).name.split('.')[0]}-{stamp}")
    config = RunConfig(
        dataset=args.dataset, dataset_path=str(path), dataset_sha256=sha256_file(path),
        split=(args.split or "validation") if tasks[0].source == "mbpp" else None,
        task_ids=[t.task_id for t in tasks], n=args.n, temperature=args.temperature,
        seed=args.seed, max_tokens=args.max_tokens, arms=arms,
        prompt_templates=dict(PROMPT_TEMPLATES), concurrency=args.concurrency,
        timeout_s=args.timeout, retries=args.retries, watts=args.watts,
        kwh_price=args.kwh_price, prices=load_prices(args.prices), ks=ks, argv=argv,
        invocation=args.invocation,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    if (run_dir / RUN_FILE).exists():
        saved = read_config(run_dir)
        mine, theirs = config.identity(), saved.identity()
        if mine != theirs:
            diff = [k for k in mine if mine[k] != theirs[k]]
            print(f"atlas-proxy bench: {run_dir} holds a different run (differs in: "
                  f"{', '.join(diff)}); use another --out", file=sys.stderr)
            return 2
        # Resume: keep the original record of the experiment; only the operational knobs
        # of this invocation (concurrency, timeout, retries) apply to the remaining samples.
        config = msgspec.structs.replace(saved, concurrency=args.concurrency,
                                         timeout_s=args.timeout, retries=args.retries)
        print(f"resuming {run_dir}", file=sys.stderr)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config)
    sandbox = _make_sandbox()
    try:
        asyncio.run(_run_async(config, tasks, run_dir, sandbox, args))
    except KeyboardInterrupt:
        print(f"\ninterrupted: rerun the same command to resume {run_dir}", file=sys.stderr)
        return 130
    res = render(run_dir)
    print(f"report: {run_dir / 'report.md'}", file=sys.stderr)
    for name, arm in res["arms"].items():
        p1 = arm["pass_at_k"][0]
        if p1["value"] is not None:
            print(f"{name}: pass@{p1['k']} {p1['value']:.3f} [{p1['lo']:.3f}, {p1['hi']:.3f}], "
                  f"crashes {arm['health']['crashes']}", file=sys.stderr)
    return 0


async def _run_async(config, tasks, run_dir, sandbox, args) -> None:
    from .runner import run_benchmark

    try:
        await run_benchmark(config, tasks, run_dir, sandbox, retry_crashes=args.retry_crashes,
                            backoff_s=args.backoff, progress=not args.no_progress)
    finally:
        await sandbox.aclose()


def _without_invocation(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--invocation":
            skip = True
        elif not a.startswith("--invocation="):
            out.append(a)
    return out


def _make_sandbox():
    import sandbox

    return sandbox.make_sandbox(sandbox.SandboxConfig())


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args, _without_invocation(list(argv)))
        from .report import render

        prices = load_prices(args.prices) if args.prices else None
        res = render(args.dir, watts=args.watts, kwh_price=args.kwh_price, prices=prices)
        print(f"report: {args.dir / 'report.md'} ({len(res['arms'])} arms)", file=sys.stderr)
        return 0
    except (DatasetError, ValueError, FileNotFoundError, RuntimeError, httpx.HTTPError) as exc:
        print(f"atlas-proxy bench: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
