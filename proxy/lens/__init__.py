"""The Geometric Lens: an energy MLP over the model's own mean-pooled embeddings of candidate
code (alone, or read after the request it answers: ``in_context.py``), trained on graded
candidates (``atlas-proxy lens train``); lower energy = more likely correct. See
``docs/lens.md``.

``load_lens(backend, weights_dir)`` is what the app calls at start: it finds the weights
whose card carries the backend's fingerprint, or answers (None, why-not) with one log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from proxy.backends.base import Backend
from proxy.lens.model import LensModel
from proxy.lens.scorer import LensScorer
from proxy.lens.store import WeightsError, find_card, load

__all__ = ["LensModel", "LensScorer", "WeightsError", "load_lens"]

log = structlog.get_logger("atlas.lens")


def load_lens(
    backend: Backend, weights_dir: Path, allow_warnings: bool = False
) -> tuple[LensScorer | None, dict[str, Any]]:
    """(scorer, status for /health). No matching or unusable weights: (None, reason).

    Weights whose card carries warnings (``lens train`` writes them when, on validation, the
    Lens picks a passing candidate no more often than the greedy probe, or a simpler ranking
    orders a task's candidates better; ``lens eval --update-card`` when it picks no better
    than the probe on held-out pools) stay off unless ``allow_warnings``: a scorer that
    chooses worse than the pipeline's own tie-break would make answers worse. The card's
    notes (targets missed, e.g. AUC under 0.80) do not turn it off; /health shows them."""
    fingerprint = backend.info.fingerprint
    weights_dir = Path(weights_dir)
    card_path = find_card(weights_dir, fingerprint)
    if card_path is None:
        reason = f"no weights for fingerprint {fingerprint or '(none)'} in {weights_dir}"
        status = {"enabled": False, "reason": reason}
        log.info("lens_off", model=backend.info.id, reason=status["reason"])
        return None, status
    try:
        model, card = load(card_path)
    except WeightsError as exc:
        status = {"enabled": False, "reason": str(exc)}
        log.warning("lens_off", model=backend.info.id, reason=status["reason"])
        return None, status
    if ((card.get("embedding") or {}).get("context") == "request"
            and not backend.info.in_context_embeddings):
        status = {"enabled": False, "weights": card_path.stem,
                  "reason": "these weights read code after its request, which this backend "
                            "cannot embed (in-context embeddings need the embedded backend)"}
        log.info("lens_off", model=backend.info.id, reason=status["reason"])
        return None, status
    val = (card.get("metrics") or {}).get("validation") or {}
    heldout = (card.get("metrics") or {}).get("heldout") or {}
    warnings = list(card.get("warnings") or [])
    if warnings and not allow_warnings:
        status = {
            "enabled": False, "weights": card_path.stem,
            "reason": f"the weights failed their own checks ({'; '.join(warnings)}); "
                      "[lens] allow_warnings = true uses them anyway",
        }
        log.info("lens_off", model=backend.info.id, reason=status["reason"])
        return None, status
    status = {
        "enabled": True,
        "weights": card_path.stem,
        "model": card.get("model"),
        "dim": model.dim,
        "trained": card.get("created"),
        "auc": heldout.get("auc", val.get("auc")),
        "auc_split": "heldout" if "auc" in heldout else "validation",
        "warnings": warnings,
        "notes": list(card.get("notes") or []),
    }
    log.info("lens_loaded", **status)
    return LensScorer(backend=backend, model=model, card=card), status
