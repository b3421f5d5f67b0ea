"""Weights on disk: round trip, integrity, and the Lens off when nothing matches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from proxy.backends.base import ModelInfo
from proxy.backends.fake import ScriptedFakeBackend
from proxy.lens import LensScorer, load_lens
from proxy.lens.store import WeightsError, load, save

FP = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def _backend(fingerprint: str = FP) -> ScriptedFakeBackend:
    return ScriptedFakeBackend([], info=ModelInfo(id="toy", context_length=4096,
                                                  fingerprint=fingerprint))


def _card(**extra) -> dict:
    return {"model": "toy", "fingerprint": FP, "training": {"data": "synthetic"},
            "created": "2026-11-27T00:00:00+00:00",
            "metrics": {"validation": {"auc": 0.9}}, **extra}


def test_weights_whose_card_warns_stay_off_unless_allowed(tmp_path: Path, small_model) -> None:
    warning = "on validation pools the Lens picks a passing candidate no more often than the probe"
    save(small_model, _card(warnings=[warning]), tmp_path, "toy")
    scorer, status = load_lens(_backend(), tmp_path)
    assert scorer is None and status["enabled"] is False
    assert "no more often" in status["reason"] and "allow_warnings" in status["reason"]
    scorer, status = load_lens(_backend(), tmp_path, allow_warnings=True)
    assert isinstance(scorer, LensScorer) and status["warnings"]


def test_notes_alone_leave_the_lens_on_and_show_in_health(tmp_path: Path, small_model) -> None:
    note = "validation AUC 0.7 is below the 0.80 target"
    save(small_model, _card(warnings=[], notes=[note]), tmp_path, "toy")
    scorer, status = load_lens(_backend(), tmp_path)
    assert isinstance(scorer, LensScorer) and status["enabled"] is True
    assert status["notes"] == [note] and status["warnings"] == []


def test_round_trip(tmp_path: Path, small_model) -> None:
    model = small_model.rounded()
    card_path = save(model, _card(), tmp_path, "toy")
    loaded, card = load(card_path)
    v = np.random.default_rng(0).normal(size=(5, 3))
    assert np.array_equal(loaded.energy(v), model.energy(v))
    assert loaded.platt == model.platt
    assert card["embedding"]["dim"] == 3
    assert card["weights_file"] == "toy.npz"


def test_load_lens_by_fingerprint(tmp_path: Path, small_model) -> None:
    save(small_model, _card(), tmp_path, "toy")
    scorer, status = load_lens(_backend(), tmp_path)
    assert isinstance(scorer, LensScorer)
    assert status["enabled"] is True and status["weights"] == "toy" and status["auc"] == 0.9


def test_in_context_weights_need_a_backend_that_embeds_in_context(tmp_path: Path,
                                                                   small_model) -> None:
    save(small_model, _card(embedding={"context": "request"}), tmp_path, "toy")
    scorer, status = load_lens(_backend(), tmp_path)  # an upstream-like backend: cannot
    assert scorer is None and "in-context" in status["reason"]
    able = ScriptedFakeBackend([], info=ModelInfo(id="toy", context_length=4096,
                                                  fingerprint=FP, in_context_embeddings=True))
    scorer, status = load_lens(able, tmp_path)
    assert scorer is not None and scorer.in_context and status["enabled"]


def test_alias_fingerprint(tmp_path: Path, small_model) -> None:
    save(small_model, _card(aliases=["upstream:qwen"]), tmp_path, "toy")
    scorer, status = load_lens(_backend("upstream:qwen"), tmp_path)
    assert scorer is not None and status["enabled"]


def test_fingerprint_mismatch_turns_the_lens_off(tmp_path: Path, small_model) -> None:
    save(small_model, _card(), tmp_path, "toy")
    scorer, status = load_lens(_backend("0" * 64), tmp_path)
    assert scorer is None
    assert status["enabled"] is False and "0" * 64 in status["reason"]


def test_no_weights_dir_turns_the_lens_off(tmp_path: Path) -> None:
    scorer, status = load_lens(_backend(), tmp_path / "missing")
    assert scorer is None and status["enabled"] is False


def test_changed_weights_are_refused(tmp_path: Path, small_model) -> None:
    card_path = save(small_model, _card(), tmp_path, "toy")
    npz = tmp_path / "toy.npz"
    data = bytearray(npz.read_bytes())
    data[-100] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load(card_path)
    scorer, status = load_lens(_backend(), tmp_path)
    assert scorer is None and "sha256" in status["reason"]


def test_card_without_training_record_is_refused(tmp_path: Path, small_model) -> None:
    card_path = save(small_model, _card(), tmp_path, "toy")
    card = json.loads(card_path.read_text())
    del card["training"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="training"):
        load(card_path)


def test_missing_npz_is_refused(tmp_path: Path, small_model) -> None:
    save(small_model, _card(), tmp_path, "toy")
    (tmp_path / "toy.npz").unlink()
    scorer, status = load_lens(_backend(), tmp_path)
    assert scorer is None and "missing" in status["reason"]


def test_shipped_weights_if_any_load() -> None:
    """Every card in lens_weights/ must load (sha, shapes, finite values)."""
    root = Path(__file__).resolve().parents[2] / "lens_weights"
    for card_path in sorted(root.glob("*.json")):
        model, card = load(card_path)
        assert model.dim == card["embedding"]["dim"]
        assert card["metrics"]["validation"]["auc"] is not None


def test_alias_command_keeps_the_weights_loadable(tmp_path: Path, small_model) -> None:
    from proxy.lens import cli

    card_path = save(small_model, _card(), tmp_path, "toy")
    assert cli.main(["alias", str(card_path), "upstream:qwen"]) == 0
    load(card_path)
    scorer, _ = load_lens(_backend("upstream:qwen"), tmp_path)
    assert scorer is not None
