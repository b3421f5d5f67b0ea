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
    than the pipeline's own tie-break (the greedy probe), or a simpler ranking (code length,
    a linear probe) orders candidates *of one task* better, which is all selection ever
    compares. Notes are targets missed that do not make choices worse: the 0.80 AUC target,
    a simpler ranking's better AUC across tasks (it also rewards telling easy tasks from
    hard ones, which selection never needs)."""
    warnings, notes = [], []
    auc, within = m.get("auc"), m.get("within_task_auc")
    if auc is None or auc < 0.8:
        notes.append(f"validation AUC {auc if auc is None else round(auc, 3)} is below "
                     "the 0.80 target")
    warnings += loses_to_probe("on validation", m.get("selection_vs_probe") or {})
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
    were tried on it), so the held-out pools get a veto: weights that beat the greedy probe
    only on validation stay off."""
    kept = [w for w in warnings if not w.startswith(HELDOUT)]
    return kept + loses_to_probe(HELDOUT, heldout.get("selection_vs_probe") or {})


def loses_to_probe(where: str, pools: dict[str, Any]) -> list[str]:
    """The warning, if on these probe pools (``metrics.selection_vs_probe``) the Lens picks a
    passing candidate no more often than the pipeline's own tie-break, the greedy probe."""
    if pools.get("lens_mixed") is None or pools["lens_mixed"] > pools["probe_mixed"]:
        return []
    return [f"{where} pools the Lens picks a passing candidate no more often than the greedy "
            f"probe ({pools['lens_mixed']:.3f} vs {pools['probe_mixed']:.3f})"]
