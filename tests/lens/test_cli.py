"""`atlas-proxy lens train|eval|collect` end to end on harness-format runs, with the real
model's embeddings (cached by test_train's fixture, so nothing is embedded twice)."""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from proxy.lens import cli, load_lens, verdict
from proxy.lens.store import load
from tests.lens.runs import write_run
from tests.lens.snippets import PAIRS


class Borrowed:
    """The session's real backend, lent to the CLI (which would close its own)."""

    def __init__(self, backend) -> None:
        self._b = backend

    def __getattr__(self, name):
        return getattr(self._b, name)

    async def aclose(self) -> None:
        return None


@pytest.fixture
def lent_backend(real_backend, monkeypatch):
    async def make(_config):
        return Borrowed(real_backend)

    monkeypatch.setattr(cli, "make_backend", make)
    return real_backend


def _rows(ids: list[str], pairs: list[tuple[str, str]]) -> list[tuple[str, int, str, bool]]:
    rows = []
    for n, (tid, (good, bad)) in enumerate(zip(ids, pairs)):
        # Alternate which sample comes first, so "first candidate" is a fair baseline.
        first, second = ((good, True), (bad, False)) if n % 2 else ((bad, False), (good, True))
        rows += [(tid, 0, *first), (tid, 1, *second)]
    return rows


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    return {
        "train": write_run(tmp_path / "train", _rows([f"MBPP/{601 + i}" for i in range(14)],
                                                     PAIRS[:14])),
        "val": write_run(tmp_path / "val", _rows([f"MBPP/{511 + i}" for i in range(6)],
                                                 PAIRS[14:]), split="validation"),
        "he": write_run(tmp_path / "he", _rows([f"HumanEval/{i}" for i in range(6)],
                                               PAIRS[14:]), dataset="humaneval", split=None),
    }


def test_train_then_load_then_eval(tmp_path, runs, lent_backend, snippet_embeddings,
                                   capsys) -> None:
    _, _, cache = snippet_embeddings
    out = tmp_path / "weights"
    rc = cli.main(["train", "--runs", str(runs["train"]), str(runs["val"]), "--out", str(out),
                   "--cache", str(cache), "--epochs", "20", "--quiet", "--hidden", "none"])
    assert rc == 0
    card_path = out / "qwen2.5-coder-0.5b-instruct.json"
    model, card = load(card_path)
    assert sorted(model.params) == ["W1", "b1"] and card["architecture"].startswith("d->1,")
    assert card["fingerprint"] == lent_backend.info.fingerprint
    assert card["embedding"]["dim"] == 896 and card["embedding"]["pooling"] == "mean"
    data = card["training"]["data"]
    assert data["train"]["candidates"] == 28 and data["validation"]["candidates"] == 12
    assert card["training"]["command"].startswith("atlas-proxy lens train")
    assert [r["split"] for r in card["training"]["runs"]] == ["train", "validation"]
    val = card["metrics"]["validation"]
    assert val["candidates"] == 12 and val["selection"]["k"] == 3
    assert 0.0 <= val["auc"] <= 1.0
    assert (val["auc"] < 0.8) == any("0.80 target" in n for n in card["notes"])
    base = card["metrics"]["baselines"]
    length = base["code_length_validation_auc"]
    assert 0.0 <= length <= 1.0
    assert (length > val["auc"] + 0.02) == any("code length" in n for n in card["notes"])
    length_within = base["code_length_validation_within_task_auc"]
    assert ((length_within > val["within_task_auc"] + 0.02)
            == any("code length" in w for w in card["warnings"]))

    # The app's path: weights found by the backend's fingerprint, k=3 energies.
    scorer, status = load_lens(lent_backend, out, allow_warnings=True)
    assert status["enabled"] and status["dim"] == 896
    energies = asyncio.run(scorer.score([g for g, _ in PAIRS[:3]]))
    assert len(energies) == 3 and all(np.isfinite(energies))

    capsys.readouterr()
    rc = cli.main(["eval", "--runs", str(runs["he"]), "--weights", str(card_path),
                   "--cache", str(cache), "--k", "2", "--update-card"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["candidates"] == 12 and result["selection"]["tasks"] == 6
    assert "warning" not in result
    assert 0.0 <= result["baselines"]["code_length_auc"] <= 1.0
    assert json.loads(card_path.read_text())["metrics"]["heldout"]["auc"] == result["auc"]
    load(card_path)  # the npz still matches its card

    rc = cli.main(["eval", "--runs", str(runs["val"]), "--weights", str(card_path),
                   "--cache", str(cache), "--update-card"])
    assert rc == 1  # validation data is not held out: the card is left alone
    assert "not held out" in capsys.readouterr().out


def test_verdict_blocks_only_on_worse_choices() -> None:
    good = {"auc": 0.70, "within_task_auc": 0.78,
            "selection_vs_probe": {"lens_mixed": 0.82, "probe_mixed": 0.79}}
    base = {"logistic_probe_validation_auc": 0.74,
            "logistic_probe_validation_within_task_auc": 0.77,
            "code_length_validation_auc": 0.68, "code_length_validation_within_task_auc": 0.62}
    warnings, notes = verdict.verdict(good, base)
    assert warnings == []  # below the AUC target and a rival's global AUC: notes only
    assert any("0.80 target" in n for n in notes) and any("linear probe" in n for n in notes)

    worse_than_probe = {**good, "selection_vs_probe": {"lens_mixed": 0.61, "probe_mixed": 0.79}}
    assert any("greedy probe" in w for w in verdict.verdict(worse_than_probe, base)[0])
    length_ranks_better = {**base, "code_length_validation_within_task_auc": 0.85}
    assert any("code length" in w for w in verdict.verdict(good, length_ranks_better)[0])


def test_heldout_pools_can_veto_weights_that_passed_validation() -> None:
    worse = {"selection_vs_probe": {"lens_mixed": 0.478, "probe_mixed": 0.556}}
    better = {"selection_vs_probe": {"lens_mixed": 0.613, "probe_mixed": 0.556}}
    vetoed = verdict.with_heldout_verdict(["from validation"], worse)
    assert vetoed[0] == "from validation" and vetoed[1].startswith("on held-out pools")
    assert verdict.with_heldout_verdict(vetoed, better) == ["from validation"]  # re-evaluated
    assert verdict.with_heldout_verdict([], {}) == []  # no greedy probe held out: no verdict


def test_pipeline_ablation_can_veto_weights_that_passed_everything_else() -> None:
    # The pairwise head of 2026-12-03 on the 68 slow HumanEval traces: lost 9 and 116.
    runs = {"humaneval-68p-ps2": {"consulted": 36, "gained": [],
                                  "lost": ["HumanEval/9", "HumanEval/116"]}}
    vetoed = verdict.with_pipeline_verdict(["earlier"], runs)
    assert vetoed[0] == "earlier" and "lost 2 task(s) and gained 0" in vetoed[1]
    runs["another"] = {"consulted": 10, "gained": ["a", "b"], "lost": []}
    assert verdict.with_pipeline_verdict(vetoed, runs) == ["earlier"]  # summed: 2 vs 2


def test_heldout_veto_needs_more_than_beating_the_probe() -> None:
    # The linear head of 2026-12-02 held out: better than the probe, worse than chance.
    measured = {"within_task_auc": 0.4885, "selection_vs_probe": {
        "lens_mixed": 0.358, "probe_mixed": 0.24, "random_mixed": 0.4062}}
    vetoed = verdict.with_heldout_verdict([], measured)
    assert len(vetoed) == 2 and all(w.startswith("on held-out") for w in vetoed)
    assert "a random pick (0.358 vs 0.406)" in vetoed[0] and "chance" in vetoed[1]
    good = {"within_task_auc": 0.61, "selection_vs_probe": {
        "lens_mixed": 0.52, "probe_mixed": 0.24, "random_mixed": 0.4062}}
    assert verdict.with_heldout_verdict(vetoed, good) == []
    # On validation the same pool rule applies.
    assert any("random pick" in w for w in verdict.verdict(measured, {})[0])


def test_hidden_sizes_parse() -> None:
    assert cli._hidden("512,128") == (512, 128) and cli._hidden("none") == ()
    with pytest.raises(Exception, match="positive"):
        cli._hidden("512,0")


def test_train_refuses_humaneval_runs(tmp_path, runs, capsys) -> None:
    rc = cli.main(["train", "--runs", str(runs["train"]), str(runs["he"]),
                   "--out", str(tmp_path / "w")])
    assert rc == 2
    assert "refusing to train" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_collect_prints_the_bench_commands(capsys) -> None:
    assert cli.main(["collect", "--url", "http://h:1/v1", "--heldout", "--plan", "full"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("atlas-proxy bench run --dataset mbpp --split train --arm "
                        "plain=http://h:1/v1,model=auto --n 1 --temperature 0.0 --seed 0 "
                        "--max-tokens 512 --no-progress --out runs/lens/mbpp-train-t0.0")
    assert sum("--split validation" in line for line in lines) == 3
    assert sum("--dataset humaneval" in line for line in lines) == 3


def _options(command: str) -> dict[str, str]:
    """A bench command's options, order-free ('--no-progress' -> '')."""
    words = shlex.split(command.split("bench run", 1)[1])
    out = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            out[word] = "" if nxt.startswith("--") else nxt
    return out


def test_collect_shipped_plan_is_the_runs_named_in_the_card(capsys) -> None:
    # The card of the shipped weights lists the bench commands of its runs; the default plan
    # must print the same ones, so `lens collect --execute` reproduces the training data.
    card = Path(__file__).resolve().parents[2] / "lens_weights" / "qwen2.5-coder-0.5b-instruct.json"
    assert cli.main(["collect", "--url", "http://127.0.0.1:8080/v1", "--heldout"]) == 0
    lines = capsys.readouterr().out.splitlines()
    printed = [_options(line) for line in lines if " bench run " in line]
    printed_lines = [line.split(" --out ")[0] for line in lines]
    runs = json.loads(card.read_text())["training"]["runs"]
    assert runs
    for run in runs:
        if "derived" in run:  # graded pipeline traces: the lens traces command made them
            assert run["derived"].split(" --out ")[0] in printed_lines, run["derived"]
        else:
            assert _options(run["command"]) in printed, run["command"]


def test_train_and_eval_in_context(tmp_path, lent_backend, capsys) -> None:
    """`--context request`: each snippet read after its task's real request (from the MBPP
    and HumanEval files), a pairwise head cross-validated over tasks, held-out numbers."""
    train = write_run(tmp_path / "train", _rows([f"MBPP/{601 + i}" for i in range(6)],
                                                PAIRS[:6]))
    val = write_run(tmp_path / "val", _rows([f"MBPP/{511 + i}" for i in range(2)],
                                            PAIRS[6:8]), split="validation")
    he = write_run(tmp_path / "he", _rows([f"HumanEval/{i}" for i in range(3)], PAIRS[8:11]),
                   dataset="humaneval", split=None)
    out, cache = tmp_path / "weights", tmp_path / "ic.npz"
    rc = cli.main(["train", "--context", "request", "--runs", str(train), str(val),
                   "--out", str(out), "--cache", str(cache), "--folds", "4"])
    assert rc == 0
    card_path = out / "qwen2.5-coder-0.5b-instruct.json"
    model, card = load(card_path)
    assert card["embedding"]["context"] == "request" and card["embedding"]["dim"] == 896
    assert sorted(model.params) == ["W1", "b1"] and model.dim == 896
    assert card["training"]["config"]["lambda"] in (0.003, 0.01, 0.03, 0.1, 0.3)
    assert card["training"]["data"]["embedded"] == {"candidates": 16, "tasks": 8,
                                                    "passing": 8}
    metrics = card["metrics"]["validation"]
    assert metrics["candidates"] == 16 and 0.0 <= metrics["within_task_auc"] <= 1.0
    # Every snippet's request here is a real task prompt: the examples it shows were run.
    visible = metrics["visible"]
    assert visible["failing"] == 8 and 0 <= visible["failing_that_pass_examples"] <= 8
    assert (tmp_path / "visible-examples.json").is_file()
    assert json.loads(capsys.readouterr().out)["validation"]["candidates"] == 16

    # The app's path: found by fingerprint; scores k codes after the request they answer.
    scorer, status = load_lens(lent_backend, out, allow_warnings=True)
    assert status["enabled"] and scorer.in_context
    messages = [{"role": "user", "content": "Write a function that reverses a string."}]
    energies = asyncio.run(scorer.score([g for g, _ in PAIRS[:3]], messages))
    assert len(energies) == 3 and all(np.isfinite(energies))

    capsys.readouterr()  # the log lines of load_lens
    rc = cli.main(["eval", "--runs", str(he), "--weights", str(card_path),
                   "--cache", str(cache), "--k", "2", "--update-card"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["candidates"] == 6 and result["auc_over"].startswith("candidates of tasks")
    assert json.loads(card_path.read_text())["metrics"]["heldout"]["within_task_auc"] == \
        result["within_task_auc"]


def test_train_pairwise_code_only(tmp_path, runs, lent_backend, snippet_embeddings,
                                  capsys) -> None:
    """`--fit pairwise` (the shipped kind): code-only embeddings from the shared cache, the
    pairwise head cross-validated over train + validation tasks, then held out."""
    _, _, cache = snippet_embeddings
    out = tmp_path / "weights"
    rc = cli.main(["train", "--fit", "pairwise", "--runs", str(runs["train"]), str(runs["val"]),
                   "--out", str(out), "--cache", str(cache)])
    assert rc == 0
    card_path = out / "qwen2.5-coder-0.5b-instruct.json"
    model, card = load(card_path)
    assert card["training"]["fit"] == "pairwise" and card["embedding"]["context"] == "none"
    assert card["training"]["data"]["embedded"]["tasks"] == 20  # every task has both classes
    assert card["metrics"]["validation"]["candidates"] == 40
    # The snippet pairs are easy: a head that never saw a task still ranks its pair.
    assert card["metrics"]["validation"]["within_task_auc"] > 0.6
    scorer, status = load_lens(lent_backend, out, allow_warnings=True)
    assert status["enabled"] and not scorer.in_context
    capsys.readouterr()
    rc = cli.main(["eval", "--runs", str(runs["he"]), "--weights", str(card_path),
                   "--cache", str(cache), "--update-card"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["candidates"] == 12 and result["within_task_auc"] is not None
