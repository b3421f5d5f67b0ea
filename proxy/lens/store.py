"""Weights on disk: one ``<name>.npz`` per model plus its ``<name>.json`` card, found by the
model's fingerprint (the GGUF sha256 for the default model).

A card is written only by training (``lens train``), after the weights it describes; it
holds the npz's sha256, and loading refuses weights whose bytes, shapes or values do not
match their card. There is no code path that builds a Lens from anything but a card and its
npz: no weights means no Lens, never random ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from proxy.lens.model import LensModel, layer_count, param_names

CARD_FORMAT = 1


class WeightsError(ValueError):
    """Weights or card unusable; the message says which file and why."""


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-") or "model"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(model: LensModel, card: dict[str, Any], out_dir: Path, name: str) -> Path:
    """Write ``name.npz`` then ``name.json`` (the card gains weights_file and its sha256,
    and the embedding dim). Returns the card's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    npz = out_dir / f"{slug(name)}.npz"
    arrays = {k: np.asarray(model.params[k], dtype=np.float32)
              for k in param_names(layer_count(model.params))}
    arrays["mean"] = model.mean.astype(np.float32)
    arrays["std"] = model.std.astype(np.float32)
    arrays["platt"] = np.asarray(model.platt if model.platt else [], dtype=np.float64)
    arrays["normalise"] = np.asarray(model.normalise)
    tmp = npz.with_name(npz.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(npz)
    card = {
        "format": CARD_FORMAT,
        **card,
        "weights_file": npz.name,
        "weights_sha256": _sha256(npz),
    }
    card.setdefault("embedding", {})["dim"] = model.dim
    path = out_dir / f"{slug(name)}.json"
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path


def read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path}: unreadable card: {exc}") from exc
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise WeightsError(f"{path}: not a Lens card (format {CARD_FORMAT})")
    for key in ("fingerprint", "weights_file", "weights_sha256", "training"):
        if not card.get(key):
            raise WeightsError(f"{path}: card has no {key!r}")
    return card


def find_card(weights_dir: Path, fingerprint: str) -> Path | None:
    """The card whose ``fingerprint`` (or one of its ``aliases``) matches; None if none."""
    if not fingerprint or not weights_dir.is_dir():
        return None
    for path in sorted(weights_dir.glob("*.json")):
        try:
            card = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(card, dict):
            continue
        if fingerprint == card.get("fingerprint") or fingerprint in (card.get("aliases") or []):
            return path
    return None


def load(card_path: Path) -> tuple[LensModel, dict[str, Any]]:
    """The model a card describes, after checking the npz against it."""
    card = read_card(card_path)
    npz = card_path.parent / card["weights_file"]
    if not npz.is_file():
        raise WeightsError(f"{card_path}: weights file {npz.name} is missing")
    if _sha256(npz) != card["weights_sha256"]:
        raise WeightsError(f"{npz}: sha256 does not match its card (weights changed or corrupt)")
    with np.load(npz, allow_pickle=False) as data:
        n_layers = layer_count(data.files)
        names = param_names(n_layers)
        missing = [k for k in (*names, "mean", "std") if k not in data]
        if n_layers == 0 or missing:
            raise WeightsError(f"{npz}: missing arrays {missing or ['W1']}")
        params = {k: data[k].astype(np.float64) for k in names}
        mean = data["mean"].astype(np.float64)
        std = data["std"].astype(np.float64)
        platt = None
        if "platt" in data and data["platt"].size == 2:
            platt = (float(data["platt"][0]), float(data["platt"][1]))
        normalise = bool(data["normalise"]) if "normalise" in data else True
    dim = int(params["W1"].shape[0])
    expected = card.get("embedding", {}).get("dim")
    if expected is not None and int(expected) != dim:
        raise WeightsError(f"{npz}: input dim {dim} but the card says {expected}")
    widths = [dim] + [params[f"W{i}"].shape[1] for i in range(1, n_layers + 1)]
    shapes_ok = (
        all(params[f"W{i}"].shape == (widths[i - 1], widths[i])
            and params[f"b{i}"].shape == (widths[i],) for i in range(1, n_layers + 1))
        and widths[-1] == 1
        and mean.shape == (dim,)
        and std.shape == (dim,)
    )
    if not shapes_ok:
        raise WeightsError(f"{npz}: array shapes do not form a d->...->1 network")
    if not all(np.isfinite(a).all() for a in (*params.values(), mean, std)) or (std <= 0).any():
        raise WeightsError(f"{npz}: non-finite weights or non-positive std")
    model = LensModel(params=params, mean=mean, std=std, platt=platt, normalise=normalise)
    return model, card
