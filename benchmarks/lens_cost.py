"""The Lens's cost as a fraction of pipeline time, from real pipeline traces.

    python benchmarks/lens_cost.py --runs runs/ablation [--weights lens_weights/NAME.json]
                                   [--max-traces 20]

For each sample of a bench run whose record holds the pipeline's ``atlas_trace`` (arms with
``"atlas": {"trace": true}``), takes the trace's candidates (their code) and its total wall
time, then embeds and scores those candidates *now*, with the model the config names (after
the request, for in-context weights, as the pipeline's scorer does), and
prints per trace and in total: (embedding + forward time) / pipeline time. The pipeline only
asks the Lens when candidates tie on self-tests, so this is the cost when it is asked, an
upper bound on its average share. Run it on an otherwise idle machine, like the pipeline
runs it is compared with. Target: <= 10%.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from proxy.bench.records import read_samples


async def main_async(args: argparse.Namespace) -> None:
    from proxy.lens import cli
    from proxy.lens.store import load

    traces = []
    for run in args.runs:
        for rec in read_samples(run):
            tr = rec.atlas_trace
            if not isinstance(tr, dict):
                continue
            codes = [c.get("code") for c in tr.get("candidates") or [] if c.get("code")]
            total = (tr.get("timings") or {}).get("total")
            if len(codes) >= 2 and total:
                messages = list((rec.request or {}).get("messages") or [])
                traces.append((rec.task_id, codes, float(total), messages))
    traces = traces[: args.max_traces]
    if not traces:
        print("no traces with >= 2 candidates and a total time in these runs")
        return
    backend = await cli.make_backend(args.config)
    model, card = load(args.weights) if args.weights else (None, {})
    in_context = (card.get("embedding") or {}).get("context") == "request"
    lead = (card.get("embedding") or {}).get("lead", "")
    try:
        # Create the embedding context outside the timing; report what it costs in memory.
        rss = _rss_mb()
        if in_context:
            await backend.embed_in_context([{"role": "user", "content": "x"}], lead, ["x = 1"])
        else:
            await backend.embed(["x = 1\n"])
        print(f"embedding context: +{_rss_mb() - rss:.0f} MB resident "
              f"({'in context' if in_context else 'code only'})")
        fractions, spent, pipeline = [], 0.0, 0.0
        for task_id, codes, total, messages in traces:
            t = time.perf_counter()
            result = (await backend.embed_in_context(messages, lead, codes) if in_context
                      else await backend.embed(codes))
            t_embed = time.perf_counter() - t
            t_fwd = 0.0
            if model is not None:
                t = time.perf_counter()
                model.energy(np.asarray(result.vectors))
                t_fwd = time.perf_counter() - t
            cost = t_embed + t_fwd
            fractions.append(cost / total)
            spent += cost
            pipeline += total
            print(f"{task_id}: k={len(codes)} ({result.prompt_tokens} tokens) embed "
                  f"{t_embed:.2f} s + forward {t_fwd * 1e3:.2f} ms vs pipeline {total:.1f} s "
                  f"= {cost / total:.1%}")
        print(f"total: {spent:.1f} s of Lens over {pipeline:.1f} s of pipeline = "
              f"{spent / pipeline:.1%} (median per task {statistics.median(fractions):.1%}, "
              f"{len(traces)} traces)")
    finally:
        await backend.aclose()


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", type=Path, required=True)
    p.add_argument("--weights", type=Path)
    p.add_argument("--config")
    p.add_argument("--max-traces", type=int, default=20)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
