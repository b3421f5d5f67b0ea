"""Reading harness runs, the task-id splits, de-duplication, the embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from proxy.backends.base import ModelInfo
from proxy.backends.fake import ScriptedFakeBackend
from proxy.lens.dataset import (
    DataError,
    EmbeddingCache,
    code_sha,
    dedupe,
    for_training,
    read_runs,
    split_of,
)
from tests.lens.runs import write_run


def test_split_of_task_ids() -> None:
    assert split_of("MBPP/1") == split_of("MBPP/10") == "train"
    assert split_of("MBPP/601") == split_of("MBPP/974") == "train"
    assert split_of("MBPP/511") == split_of("MBPP/600") == "validation"
    assert split_of("MBPP/11") == split_of("MBPP/510") == "heldout"  # MBPP test
    assert split_of("MBPP/975") == "heldout"
    assert split_of("HumanEval/0") == "heldout"
    assert split_of("fizz-1") == "heldout"


def test_read_runs_keeps_graded_samples_with_code(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", [("MBPP/601", 0, "def f(): return 1\n", True),
                                     ("MBPP/601", 1, "   \n", False),
                                     ("MBPP/511", 0, "def g(): pass\n", False)],
                    temperature=0.6)
    cands = read_runs([run])
    assert [(c.task_id, c.sample, c.passed) for c in cands] == [("MBPP/511", 0, False),
                                                               ("MBPP/601", 0, True)]
    assert cands[0].temperature == 0.6 and cands[0].arm == "plain"


def test_training_refuses_humaneval(tmp_path: Path) -> None:
    run = write_run(tmp_path / "he", [("HumanEval/0", 0, "def f(): pass\n", True)],
                    dataset="humaneval", split=None)
    with pytest.raises(DataError, match="refusing to train.*HumanEval/0"):
        for_training(read_runs([run]))


def test_training_refuses_mbpp_test_ids(tmp_path: Path) -> None:
    run = write_run(tmp_path / "t", [("MBPP/601", 0, "a = 1\n", True),
                                     ("MBPP/11", 0, "b = 1\n", True)])
    with pytest.raises(DataError, match="MBPP/11"):
        for_training(read_runs([run]))


def test_for_training_splits_and_dedupes(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", [
        ("MBPP/601", 0, "x = 1\n", True), ("MBPP/601", 1, "x = 1\n", True),  # duplicate
        ("MBPP/601", 2, "x = 2\n", False),
        ("MBPP/602", 0, "y = 1\n", True), ("MBPP/602", 1, "y = 1\n", False),  # flaky
        ("MBPP/520", 0, "z = 1\n", False),
    ])
    train, val, stats = for_training(read_runs([run]))
    assert [(c.task_id, c.code) for c in train] == [("MBPP/601", "x = 1\n"),
                                                    ("MBPP/601", "x = 2\n")]
    assert [c.task_id for c in val] == ["MBPP/520"]
    assert stats["train"]["duplicates_dropped"] == 1
    assert stats["train"]["conflicting_label_samples_dropped"] == 2
    assert stats["train"]["tasks_mixed"] == 1


def test_dedupe_keeps_same_code_in_different_tasks() -> None:
    from proxy.lens.dataset import Candidate

    a = Candidate("MBPP/601", 0, "x\n", True, "r", "plain", 0.0)
    b = Candidate("MBPP/602", 0, "x\n", False, "r", "plain", 0.0)
    out, _ = dedupe([a, b])
    assert out == [a, b]


class CountingBackend(ScriptedFakeBackend):
    def __init__(self, fingerprint: str = "fp") -> None:
        super().__init__([], info=ModelInfo(id="toy", context_length=4096,
                                            fingerprint=fingerprint))
        self.embedded: list[str] = []

    async def embed(self, texts):
        self.embedded.extend(texts)
        return await super().embed(texts)


async def test_cache_embeds_each_code_once_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "cache.npz"
    backend = CountingBackend()
    cache = EmbeddingCache(path, "fp")
    codes = ["a", "bb", "a", "ccc"]
    v1 = await cache.embed(backend, codes, batch=2)
    assert backend.embedded == ["a", "bb", "ccc"]
    assert v1.shape == (4, 3) and np.array_equal(v1[0], v1[2])
    again = EmbeddingCache(path, "fp")
    assert len(again) == 3
    v2 = await again.embed(backend, ["ccc", "a", "dddd"], batch=8)
    assert backend.embedded[3:] == ["dddd"]
    assert np.array_equal(v2[0], v1[3])
    assert code_sha("a") in again._vectors


def test_cache_of_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.npz"
    cache = EmbeddingCache(path, "fp-a")
    cache._vectors["k"] = np.zeros(3, np.float32)
    cache.save()
    with pytest.raises(DataError, match="embeddings of model"):
        EmbeddingCache(path, "fp-b")
