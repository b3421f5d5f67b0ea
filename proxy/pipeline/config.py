"""Pipeline knobs: the ``[pipeline]`` table of config.toml, overridable per request through the
request body's ``atlas`` object (merged into a copy, never into shared state).

``k`` counts every candidate, the greedy probe included: ``k = 5`` is the probe plus four
candidates, each with a different approach hint, sampled at ``temperature_diversity = 0.8``.
The defaults were chosen on the default 0.5B model (MBPP train tasks, checked on the
validation split; docs/pipeline.md "Where the gains are"): sampled candidates *beside the
greedy probe* solve tasks greedy does not, while PlanSearch's plans and the PR-CoT critique
cost more than they returned. Both stay a knob away for larger models.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from proxy.errors import InvalidRequest

ThinkingLevel = Literal["auto", "none", "light", "standard", "hard", "extreme"]


class PipelineConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    # Run the pipeline on the plain model id too (not only on the `atlas*` ids).
    default: bool = False
    # "auto": a cheap classifier decides code task vs plain chat; "always"/"never" force it.
    route: Literal["auto", "always", "never"] = "auto"
    # Candidates in all, the greedy probe included.
    k: int = 5
    probe: bool = True
    # Answer at once when the probe passes the trustworthy checks (the prompt's own examples,
    # or the self-tests when the prompt has none).
    early_exit: bool = True
    # What the probe must pass to exit early: "examples" (the prompt's own, when it has any;
    # cheapest, trusted) or "all" (also the model-written self-tests: one more call, catches
    # probes that fit the examples but not the task, at the price of noisy tests).
    exit_checks: Literal["examples", "all"] = "examples"
    # Observations -> plans -> code (PlanSearch); off by default: see the module docstring.
    plansearch: bool = False
    diversity: bool = True
    # Of the candidates after the probe, this many are plain samples: the user's request as
    # it came (the probe's prompt) at ``temperature_diversity``, each with its own seed; the
    # rest get approach hints. 0 = hints only. 2, because on HumanEval-shaped MBPP stubs
    # 2 samples + 1 hint covered more tasks than 3 hints (docs/pipeline.md).
    plain_samples: int = 2
    selftests: bool = True
    n_selftests: int = 5
    # A candidate "passes" at this fraction of the (filtered) model-written tests, and all of
    # the prompt's own examples.
    pass_threshold: float = 0.6
    # Weight of the prompt's own examples in a candidate's score (model tests get the rest).
    example_weight: float = 0.7
    lens: bool = True
    repair: bool = True
    # PR-CoT critique before each repair (one call); false: the repair works from the
    # execution feedback alone, one call cheaper.
    critique: bool = False
    # Repair a failing probe right after its feedback exists, before more candidates: one
    # targeted fix is the cheapest rescue (it counts against the limits below).
    repair_probe_first: bool = True
    repair_rounds: int = 2
    max_repairs: int = 3
    # When nothing passes after the k candidates and their repairs: this many more approach
    # candidates (new hints), stopping once one passes. 0 = off. Spends only on hard tasks.
    more_candidates: int = 0
    budget_forcing: bool = True
    thinking_budget: ThinkingLevel = "auto"
    temperature_probe: float = 0.0
    temperature_constraints: float = 0.7
    temperature_plans: float = 0.4
    temperature_code: float = 0.2
    temperature_diversity: float = 0.8
    temperature_selftests: float = 0.3
    temperature_critique: float = 0.3
    temperature_repair: float = 0.4
    # Per-call cap on generated tokens (thinking excluded; budget forcing adds its own).
    max_tokens: int = 768
    # Whole-request budgets: when one runs out, the best answer so far is returned.
    budget_s: float = 300.0
    budget_tokens: int = 30000
    sandbox_timeout_s: float = 10.0
    # Languages the pipeline takes on; code tasks in others pass straight through.
    languages: tuple[str, ...] = ("python",)
    # Return the trace in the response (``atlas_trace``); it is always logged at debug level.
    trace: bool = False
    # Append every trace as one JSON line here ("" = off). Not settable per request.
    trace_file: str = ""


# Knobs a request may not set: they touch the server's files or its routing defaults.
SERVER_ONLY = frozenset({"trace_file", "default", "languages"})

# Model ids the pipeline serves beside the plain one, with the knobs each one changes.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "atlas": (
        "test-time compute for code: probe, plans, self-tests, repair",
        {},
    ),
    "atlas-fast": (
        "cheaper test-time compute: probe, self-tests, one repair round, no plans",
        {"k": 2, "plansearch": False, "repair_rounds": 1, "max_repairs": 1},
    ),
}


def _check(cfg: PipelineConfig) -> PipelineConfig:
    bad = []
    if cfg.k < 1 or cfg.k > 16:
        bad.append(("k", "between 1 and 16"))
    if cfg.more_candidates < 0 or cfg.more_candidates > 16:
        bad.append(("more_candidates", "between 0 and 16"))
    if cfg.plain_samples < 0 or cfg.plain_samples > 16:
        bad.append(("plain_samples", "between 0 and 16"))
    if not 0.0 <= cfg.pass_threshold <= 1.0:
        bad.append(("pass_threshold", "between 0 and 1"))
    if not 0.0 <= cfg.example_weight <= 1.0:
        bad.append(("example_weight", "between 0 and 1"))
    if cfg.n_selftests < 0 or cfg.n_selftests > 20:
        bad.append(("n_selftests", "between 0 and 20"))
    if cfg.repair_rounds < 0 or cfg.max_repairs < 0:
        bad.append(("repair_rounds" if cfg.repair_rounds < 0 else "max_repairs", ">= 0"))
    if cfg.max_tokens < 16:
        bad.append(("max_tokens", ">= 16"))
    if cfg.budget_s <= 0 or cfg.budget_tokens <= 0 or cfg.sandbox_timeout_s <= 0:
        bad.append(("budget_s/budget_tokens/sandbox_timeout_s", "> 0"))
    for name in PipelineConfig.__struct_fields__:
        if name.startswith("temperature_") and not 0.0 <= getattr(cfg, name) <= 2.0:
            bad.append((name, "between 0 and 2"))
    if bad:
        key, rule = bad[0]
        raise InvalidRequest(f"atlas.{key}: must be {rule}", param=f"atlas.{key}")
    return cfg


def merged(base: PipelineConfig, overrides: dict[str, Any] | None) -> PipelineConfig:
    """A copy of ``base`` with ``overrides`` applied, validated; raises ``InvalidRequest``
    naming the first bad key. ``base`` is never mutated."""
    if not overrides:
        return base
    if not isinstance(overrides, dict):
        raise InvalidRequest("atlas: must be an object", param="atlas")
    for key in overrides:
        if key not in PipelineConfig.__struct_fields__:
            raise InvalidRequest(f"atlas.{key}: unknown pipeline setting", param=f"atlas.{key}")
        if key in SERVER_ONLY:
            raise InvalidRequest(
                f"atlas.{key}: a server setting, not settable per request", param=f"atlas.{key}"
            )
    data = msgspec.to_builtins(base)
    data.update(overrides)
    try:
        cfg = msgspec.convert(data, PipelineConfig, strict=True)
    except msgspec.ValidationError as exc:
        # msgspec says "Expected `int`, got `str` - at `$.k`": name the key the user wrote.
        msg = str(exc)
        key = msg.rsplit("$.", 1)[-1].rstrip("`") if "$." in msg else "?"
        raise InvalidRequest(
            f"atlas.{key}: {msg.split(' - at')[0]}", param=f"atlas.{key}"
        ) from None
    return _check(cfg)
