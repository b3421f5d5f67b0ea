"""Render a run directory: results.json, report.md (run health first) and PNG plots.

Everything is recomputed from run.json + samples.jsonl, so ``atlas-proxy bench report DIR``
gives the same numbers as the run that wrote them (and can re-price energy and cloud cost).
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path
from typing import Any

import msgspec

from .metrics import summarize
from .records import REPORT_FILE, RESULTS_FILE, RunConfig, read_config, read_samples

PLOT_PASS = "pass_at_k.png"
PLOT_TIME = "latency.png"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _money(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"${x:.2e}" if 0 < abs(x) < 0.0001 else f"${x:.4f}"


def _when(ts: float | None) -> str:
    if ts is None:
        return "n/a"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _command(config: RunConfig) -> str:
    return "atlas-proxy bench " + shlex.join(config.argv) if config.argv else "(not recorded)"


def render_markdown(config: RunConfig, res: dict[str, Any], plots: list[str]) -> str:
    arms = res["arms"]
    base = res["baseline"]
    n_tasks = len(config.task_ids)
    title = f"{config.dataset}" + (f" ({config.split})" if config.split else "")
    L: list[str] = [
        f"# Benchmark report: {title}, {n_tasks} tasks x {config.n} sample(s)",
        "",
        *([f"- Started by: `{config.invocation}`"] if config.invocation else []),
        f"- Command: `{_command(config)}`",
        (f"- Run created {config.created or 'n/a'}; requests from {_when(res['first_request'])} "
        f"to {_when(res['last_response'])}; {res['sessions']} session(s) "
        f"({max(res['sessions'] - 1, 0)} resume(s))."),
        ("- Every number below was measured through HTTP `/chat/completions`, as a client; all "
        "arms ran in this one run, interleaved per task. Grading ran the hidden tests in the "
        "sandbox only."),
        "",
        "## Run health",
        "",
    ]
    rows = []
    for name, a in arms.items():
        h = a["health"]
        rows.append([name, str(h["expected"]), str(h["recorded"]), str(h["missing"]),
                     str(h["crashes"]), str(h["retried"]), str(h["grader_errors"]),
                     str(h["no_code_block"]), str(h["truncated"]), str(h["usage_missing"]),
                     str(h["traces"])])
    L += _table(["arm", "expected", "recorded", "missing", "crashes (3 strikes)", "retried",
                 "grader errors", "no code block", "truncated (length)", "usage missing",
                 "traces"], rows)
    problems = [f"- {name}: crash `{e}`" for name, a in arms.items() for e in a["health"]["crash_errors"]]
    if any(a["health"]["missing"] for a in arms.values()):
        problems.append("- The run is incomplete: rerun the same command to resume it. "
                        "Metrics below use the samples recorded so far.")
    L += (problems + [""]) if problems else ["No crashes, no missing samples.", ""]
    L += [f"A crash (no answer after {config.retries} tries) counts as a failed sample in every metric.", ""]
    if config.n > 1 and config.temperature == 0:
        L += [(f"**Note:** n={config.n} at temperature 0: the samples of a task are near copies, "
              "so pass@k for k > 1 says little."), ""]

    L += ["## Arms", ""]
    L += _table(["arm", "endpoint", "model", "extra body"],
                [[a.name + (" (baseline)" if a.name == base else ""), a.base_url, f"`{a.model}`",
                  f"`{json.dumps(a.extra)}`" if a.extra else ""] for a in config.arms])
    L += [(f"Dataset `{config.dataset_path}` (sha256 `{config.dataset_sha256[:16]}...`), "
          f"temperature {config.temperature}, max_tokens {config.max_tokens}, seed {config.seed} "
          f"(sample i sends seed+i), concurrency {config.concurrency}, timeout {config.timeout_s:g} s."),
          ""]

    L += ["## pass@k (95% CI)", ""]
    ks = res["ks"]
    rows = []
    for name, a in arms.items():
        cells = [f"{_pct(p['value'])} [{_pct(p['lo'])}, {_pct(p['hi'])}]" for p in a["pass_at_k"]]
        rows.append([name, f"{a['passed']}/{a['samples']}"] + cells)
    L += _table(["arm", "passed samples"] + [f"pass@{k}" for k in ks], rows)
    methods = sorted({p["method"] for a in arms.values() for p in a["pass_at_k"] if p["method"]})
    L += [(f"Unbiased estimator of Chen et al. (2021) averaged over tasks. Intervals: "
          f"{', '.join(methods) or 'n/a'} (Wilson score over tasks when there is one sample per "
          f"task and k=1; otherwise a percentile bootstrap over tasks, 10,000 resamples, "
          f"seed {config.seed})."), ""]

    if res["paired"]:
        L += [f"## Difference vs baseline `{base}` (paired by task)", ""]
        rows = []
        for name, diffs in res["paired"].items():
            for d in diffs:
                sign = "" if d["delta"] is None else ("+" if d["delta"] >= 0 else "")
                rows.append([name, f"pass@{d['k']}",
                             "n/a" if d["delta"] is None else f"{sign}{100 * d['delta']:.1f} pp",
                             (f"[{_num(None if d['lo'] is None else 100 * d['lo'])}, "
                             f"{_num(None if d['hi'] is None else 100 * d['hi'])}] pp"),
                             d["method"] or "", str(d["tasks"]), str(d.get("only_arm", "")),
                             str(d.get("only_baseline", ""))])
        L += _table(["arm", "metric", "difference", "95% CI", "CI method", "tasks",
                     "solved only by arm", "solved only by baseline"], rows)
        L += [("tango: Tango's score interval for paired proportions (one sample per task, k=1); "
              "bootstrap: per-task differences of pass@k resampled over tasks."), ""]

    L += ["## Time and throughput", ""]
    rows = []
    for name, a in arms.items():
        lat, tts = a["latency_s"], a["time_to_solution_s"]
        rows.append([name, _num(lat["median"]), _num(lat["p90"]), _num(tts["median"]),
                     _num(tts["p90"]), _num(a["busy_s"] / 60), _num(a["samples_per_hour"]),
                     _num(a["solved_per_hour"])])
    L += _table(["arm", "latency median (s)", "latency p90 (s)", "time to solution median (s)",
                 "time to solution p90 (s)", "busy (min)", "tasks/hour", "solved/hour"], rows)
    L += [("Latency is the wall time of one request as the client saw it; time to solution is "
          "the latency of requests whose answer passed. Busy time is the union of an arm's "
          "request intervals; tasks/hour = samples / busy time."), ""]

    L += ["## Tokens and energy (estimate)", ""]
    rows = []
    for name, a in arms.items():
        rows.append([name, _num(a["prompt_tokens_mean"], "{:.0f}"),
                     _num(a["completion_tokens_mean"], "{:.0f}"),
                     f"{a['prompt_tokens_reported']}/{a['completion_tokens_reported']}",
                     _num(a["energy_wh"], "{:.2f}"), _num(a["wh_per_sample"], "{:.3f}"),
                     _num(a["tokens_per_wh"], "{:.0f}"), _num(a["passed_per_wh"], "{:.2f}")])
    L += _table(["arm", "prompt tokens/sample", "completion tokens/sample",
                 "samples with usage (prompt/completion)", "energy (Wh)", "Wh/sample",
                 "tokens/Wh", "solved/Wh"], rows)
    L += [(f"Tokens are what each endpoint reported in `usage` (an endpoint that omits a field "
          f"shows n/a). **Energy is an estimate, not a measurement:** {res['watts']:g} W "
          f"(`--watts`) x busy time. tokens/Wh counts prompt + completion tokens."), ""]

    L += ["## Cloud cost comparison", ""]
    rows = []
    for name, a in arms.items():
        for c in a["cloud"]:
            rows.append([name, c["provider"], f"${c['input_per_m']:g} / ${c['output_per_m']:g}",
                         _money(c["cost_per_sample"]), _money(a["local_cost_per_sample"]),
                         _num(c["ratio"], "{:.1f}x")])
    L += _table(["arm", "cloud model", "list price $/M in / out", "cloud cost per sample",
                 "local electricity per sample", "cloud / local"], rows)
    L += [(f"Cloud cost = this arm's mean reported tokens per sample at the cloud model's list "
          f"price (what the same tokens would be billed; a cloud model would not use the same "
          f"number). Local = estimated Wh x ${res['kwh_price']:g}/kWh (`--kwh-price`), "
          f"electricity only, no hardware. Prices: see `DEFAULT_PRICES` in "
          f"proxy/bench/metrics.py or `--prices`."), ""]

    if plots:
        L += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]

    L += ["## Prompt templates", "",
          ("Only the user-visible part of a task fills these (HumanEval `prompt`; MBPP `text` and "
          "the first assert of `test_list`). Hidden tests never enter a request."), ""]
    for name, tmpl in config.prompt_templates.items():
        L += [f"**{name}**", "", "````", tmpl, "````", ""]
    return "\n".join(L)


def render_plots(res: dict[str, Any], run_dir: Path, records_by_arm: dict[str, list[float]]) -> list[str]:
    """pass@k per arm with CI bars, and each arm's latency distribution. Skipped (with the
    report saying so) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    # k as categories, each arm shifted a little, so arms with equal scores stay visible.
    slot = {k: i for i, k in enumerate(res["ks"])}
    arms = list(res["arms"].items())
    width = 0.6 / max(len(arms), 1)
    for j, (name, a) in enumerate(arms):
        pts = [p for p in a["pass_at_k"] if p["value"] is not None]
        xs = [slot[p["k"]] + (j - (len(arms) - 1) / 2) * width for p in pts]
        vals = [100 * p["value"] for p in pts]
        err = [[100 * (p["value"] - p["lo"]) for p in pts], [100 * (p["hi"] - p["value"]) for p in pts]]
        ax.errorbar(xs, vals, yerr=err, marker="o", capsize=4, label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.5, len(res["ks"]) - 0.5)
    ax.set_xticks(range(len(res["ks"])))
    ax.set_xticklabels([str(k) for k in res["ks"]])
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("pass@k with 95% CI")
    fig.tight_layout()
    fig.savefig(run_dir / PLOT_PASS, dpi=100)
    plt.close(fig)

    names = [n for n in res["arms"] if records_by_arm.get(n)]
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(names)), 4))
    if names:
        ax.boxplot([records_by_arm[n] for n in names], showfliers=True)
        ax.set_xticks(range(1, len(names) + 1))
        ax.set_xticklabels(names, rotation=20, ha="right")
    ax.set_ylabel("request latency (s)")
    ax.set_title("Time per request")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(run_dir / PLOT_TIME, dpi=100)
    plt.close(fig)
    return [PLOT_PASS, PLOT_TIME]


def render(run_dir: Path, *, watts: float | None = None, kwh_price: float | None = None,
           prices: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Recompute and write results.json, the plots and report.md; return the results."""
    config = read_config(run_dir)
    records = read_samples(run_dir)
    res = summarize(config, records, watts=watts, kwh_price=kwh_price, prices=prices)
    res["generated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    res["config"] = msgspec.to_builtins(config)
    latencies: dict[str, list[float]] = {}
    for r in records:
        latencies.setdefault(r.arm, []).append(r.latency_s)
    plots = render_plots(res, run_dir, latencies)
    (run_dir / RESULTS_FILE).write_text(json.dumps(res, indent=2) + "\n")
    (run_dir / REPORT_FILE).write_text(render_markdown(config, res, plots))
    return res
