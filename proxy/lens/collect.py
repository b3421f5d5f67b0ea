"""The bench runs that make the Lens's labelled data: plans, and the exact commands.

``atlas-proxy lens collect [--plan NAME] [--heldout]`` prints (or runs) them. The card of
weights trained on a plan's runs lists the same commands, so anyone can regenerate the data.
"""

from __future__ import annotations

from typing import NamedTuple


# Data plans. Several temperatures so that both classes appear on many tasks; T=0 is the
# greedy answer the pipeline probes first. HumanEval runs are held out: only `lens eval`
# reads them.
class Run(NamedTuple):
    dataset: str
    split: str | None
    temperature: float
    n: int  # samples per task
    tasks: int | None  # a seeded sample of this many; None = all
    max_tokens: int | None = None  # None = the plan's


class Plan(NamedTuple):
    max_tokens: int
    runs: list[Run]
    heldout: list[Run]
    heldout_seed_offset: int = 0  # draw the held-out sample apart from a default bench run
    # Committed bench runs whose pipeline traces `lens traces` turns into labelled runs:
    # the candidates the Lens ranks in production (probe, approach samples, repairs).
    traces: tuple[str, ...] = ()
    heldout_traces: tuple[str, ...] = ()


COLLECT_PLANS = {
    # The plan to use with time to spare: ~3,300 MBPP candidates, ~4-5 h on 2 cores.
    "full": Plan(512, [Run("mbpp", split, temp, n, None)
                       for split in ("train", "prompt", "validation")
                       for temp, n in ((0.0, 1), (0.6, 3), (1.0, 3))],
                 [Run("humaneval", None, temp, n, None)
                  for temp, n in ((0.0, 1), (0.6, 3), (1.0, 3))]),
    # The data in lens_weights/data/ (the weights' card names the runs it was trained on):
    # ~1,770 sampled candidates, ~2 h of generation (the greedy train run is the first run
    # of "full"), and the graded candidates of the pipeline runs in docs/benchmarks/.
    "shipped": Plan(400, [Run("mbpp", "validation", 0.0, 1, 60),
                          Run("mbpp", "prompt", 0.8, 4, None),
                          Run("mbpp", "train", 0.8, 4, 90),
                          Run("mbpp", "validation", 0.8, 3, 60),
                          Run("mbpp", "train", 0.0, 1, None, max_tokens=512),
                          Run("mbpp", "train", 0.6, 3, 250, max_tokens=512)],
                    [Run("humaneval", None, 0.8, 3, 16)], heldout_seed_offset=1,
                    traces=tuple(f"docs/benchmarks/{name}" for name in (
                        "mbpp-train-40-repair-vs-sampling", "mbpp-train-hard-second-wave",
                        "mbpp-validation-ablation", "mbpp-val-30-sampling")),
                    heldout_traces=tuple(f"docs/benchmarks/{name}" for name in (
                        "humaneval-40-defaults", "humaneval-30b-defaults",
                        "humaneval-94c-defaults"))),
}
HELDOUT_MAX_TOKENS = 512  # HumanEval answers run longer than MBPP's


def bench_command(url: str, out_root: str, run: Run, seed: int, max_tokens: int,
                  prefix: str = "") -> list[str]:
    dataset, split, temp, n, tasks, own_max = run
    max_tokens = own_max or max_tokens
    name = prefix + (f"{dataset}-{split}-t{temp}" if split else f"{dataset}-t{temp}")
    return [
        "atlas-proxy", "bench", "run", "--dataset", dataset,
        *(["--split", split] if split else []),
        *(["--tasks", str(tasks)] if tasks else []),
        "--arm", f"plain={url},model=auto", "--n", str(n), "--temperature", str(temp),
        "--seed", str(seed), "--max-tokens", str(max_tokens), "--no-progress",
        "--out", f"{out_root}/{name}",
    ]


def traces_command(source: str, out_root: str) -> list[str]:
    return ["atlas-proxy", "lens", "traces", source,
            "--out", f"{out_root}/traces-{source.rstrip('/').rsplit('/', 1)[-1]}"]


def collect_commands(url: str, out_root: str, seed: int, heldout: bool,
                     plan: str = "shipped") -> list[list[str]]:
    spec = COLLECT_PLANS[plan]
    cmds = [bench_command(url, out_root, run, seed, spec.max_tokens) for run in spec.runs]
    cmds += [traces_command(source, out_root) for source in spec.traces]
    if heldout:
        cmds += [bench_command(url, out_root, run, seed + spec.heldout_seed_offset,
                               HELDOUT_MAX_TOKENS, prefix="heldout-")
                 for run in spec.heldout]
        cmds += [traces_command(source, out_root) for source in spec.heldout_traces]
    return cmds
