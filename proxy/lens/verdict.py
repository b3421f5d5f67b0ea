"""The card's verdict on trained weights: warnings keep them off, notes only inform.

Warnings are reasons the weights would make the pipeline choose worse (``load_lens`` leaves
warned weights off); notes are targets missed without harm (shown in ``/health``).
"""

from __future__ import annotations

from typing import Any

HELDOUT = "on held-out"  # how the card's held-out warnings begin


def verdict(m: dict[str, Any], baselines: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(warnings, notes), in words, for the card and the log.

    Warnings are reasons the weights would make the pipeline choose worse, and keep them off
    (``load_lens``): on validation pools the Lens picks a passing candidate no more often
    than the pipeline's own tie-break (the greedy probe) or than a random pick, or a simpler
    ranking (code length, a linear probe) orders candidates *of one task* better, which is
    all selection ever compares. Notes are targets missed that do not make choices worse: the 0.80 AUC target,
    a simpler ranking's better AUC across tasks (it also rewards telling easy tasks from
    hard ones, which selection never needs)."""
    warnings, notes = [], []
    auc, within = m.get("auc"), m.get("within_task_auc")
    if auc is None or auc < 0.8:
        notes.append(f"validation AUC {auc if auc is None else round(auc, 3)} is below "
                     "the 0.80 target")
    warnings += pool_warnings("on validation", m.get("selection_vs_probe") or {})
    for name, key in (("a linear probe", "logistic_probe"), ("code length", "code_length")):
        rival = baselines.get(f"{key}_validation_within_task_auc")
        if rival is not None and within is not None and rival > within + 0.02:
            warnings.append(f"{name} ranks candidates within a task better on validation "
                            f"(within-task AUC {rival:.3f} vs {within:.3f})")
        rival = baselines.get(f"{key}_validation_auc")
        if rival is not None and auc is not None and rival > auc + 0.02:
            notes.append(f"{name} has the better validation AUC across tasks "
                         f"({rival:.3f} vs {auc:.3f})")
    return warnings, notes


def with_heldout_verdict(warnings: list[str], heldout: dict[str, Any]) -> list[str]:
    """The card's warnings after ``lens eval --update-card``: any earlier held-out warning
    replaced by this evaluation's. Validation chose the stopping epoch (and whatever settings
    were tried on it), so held-out data gets a veto: weights that beat the greedy probe and a
    random pick only on validation stay off, and so do weights that order one task's
    held-out candidates no better than chance (within-task AUC <= 0.5), since ordering
    one task's candidates is all selection asks of them.

    Beating the probe alone is not enough: where the pipeline has several candidates the
    probe has usually failed its self-checks, so the probe is a weak rival in those pools
    (measured: a head that beat it held out, 0.358 vs 0.240, lost to a random pick, 0.406)."""
    kept = [w for w in warnings if not w.startswith(HELDOUT)]
    found = pool_warnings(HELDOUT, heldout.get("selection_vs_probe") or {})
    within = heldout.get("within_task_auc")
    if within is not None and within <= 0.5:
        found.append(f"{HELDOUT} tasks the Lens orders a task's candidates no better than "
                     f"chance (within-task AUC {within:.3f})")
    return kept + found


def pool_warnings(where: str, pools: dict[str, Any]) -> list[str]:
    """Warnings, if on these probe pools (``metrics.selection_vs_probe``: tasks with both
    classes) the Lens picks a passing candidate no more often than the pipeline's own
    tie-break, the greedy probe, or than a random pick (the expected pass rate of a pool)."""
    if pools.get("lens_mixed") is None:
        return []
    lens, found = pools["lens_mixed"], []
    for rival, key in (("the greedy probe", "probe_mixed"), ("a random pick", "random_mixed")):
        if pools.get(key) is not None and lens <= pools[key]:
            found.append(f"{where} pools the Lens picks a passing candidate no more often "
                         f"than {rival} ({lens:.3f} vs {pools[key]:.3f})")
    return found


PIPELINE = "in the pipeline"  # how the card's pipeline warnings begin


def with_pipeline_verdict(warnings: list[str], runs: dict[str, dict[str, Any]]) -> list[str]:
    """The card's warnings after ``benchmarks/pipeline_traces.py --lens CARD --update-card``:
    the most direct test of all. The Lens re-breaks the ties of real pipeline requests on
    held-out tasks (traces made without it), and each changed choice is graded. Pick rates
    over sampled pools can favour a head whose choices in the pipeline's own ties (where
    every candidate passed the same self-tests) are worse; if, summed over every run
    recorded, it loses more tasks than it gains, it stays off."""
    kept = [w for w in warnings if not w.startswith(PIPELINE)]
    gained = sum(len(r.get("gained") or []) for r in runs.values())
    lost = sum(len(r.get("lost") or []) for r in runs.values())
    if lost > gained:
        consulted = sum(r.get("consulted", 0) for r in runs.values())
        kept.append(f"{PIPELINE} (held-out traces, {consulted} requests where it broke a tie) "
                    f"the Lens lost {lost} task(s) and gained {gained}")
    return kept
