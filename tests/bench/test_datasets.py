"""Datasets: counts, the honest split for every bundled task, custom tasks, selection."""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from proxy.bench.datasets import (
    BUNDLED,
    DatasetError,
    load_tasks,
    select_tasks,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _raw(name: str) -> dict[str, dict]:
    path = BUNDLED[name]
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if name == "mbpp":
        return {f"MBPP/{r['task_id']}": r for r in rows}
    return {r["task_id"]: r for r in rows}


def _request_text(task) -> str:
    assert len(task.messages) == 1
    (msg,) = task.messages
    assert set(msg) == {"role", "content"} and msg["role"] == "user"
    return msg["content"]


def test_counts() -> None:
    assert len(load_tasks("humaneval")) == 164
    assert len(load_tasks("mbpp")) == 90  # validation by default
    assert len(load_tasks("mbpp", "validation")) == 90
    assert len(load_tasks("mbpp", "train")) == 374
    assert len(load_tasks("mbpp", "prompt")) == 10
    assert len(load_tasks("mbpp", "all")) == 474
    with pytest.raises(DatasetError):
        load_tasks("mbpp", "test")  # the held-out split is not bundled
    with pytest.raises(DatasetError):
        load_tasks("humaneval", "train")


def test_no_hidden_text_in_any_humaneval_request() -> None:
    raw = _raw("humaneval")
    tasks = load_tasks("humaneval")
    assert len(tasks) == len(raw) == 164
    for task in tasks:
        rec, text = raw[task.task_id], _request_text(task)
        assert rec["prompt"].strip() in text
        assert rec["canonical_solution"].strip() not in text
        assert "def check(" not in text and "METADATA" not in text
        for line in rec["test"].splitlines():
            if line.strip().startswith("assert"):
                assert line.strip() not in text, (task.task_id, line)
        # The grader has what the request lacks.
        assert task.grading.test_file and rec["test"] in task.grading.test_file
        assert f"check({rec['entry_point']})" in task.grading.test_file


def test_no_hidden_text_in_any_mbpp_request() -> None:
    raw = _raw("mbpp")
    tasks = load_tasks("mbpp", "all")
    assert len(tasks) == len(raw) == 474
    for task in tasks:
        rec, text = raw[task.task_id], _request_text(task)
        first, *others = rec["test_list"]
        assert rec["text"].strip() in text and first in text
        assert rec["code"].strip() not in text
        for hidden in others + rec["challenge_test_list"]:
            if hidden.strip() != first.strip():
                assert hidden.strip() not in text, (task.task_id, hidden)
        if rec["test_setup_code"].strip():
            assert rec["test_setup_code"].strip() not in text
        assert task.grading.tests == rec["test_list"] + rec["challenge_test_list"]
        assert task.grading.setup_code == rec["test_setup_code"]


def test_request_shape_matches_templates() -> None:
    he = load_tasks("humaneval")[0]
    assert _request_text(he).startswith("Complete the following Python function.")
    assert "```python\nfrom typing import List" in _request_text(he)
    mb = load_tasks("mbpp", "validation")[0]
    assert _request_text(mb).endswith("Write the Python function in one ```python code block.")
    assert "Your code should satisfy this example:\n```python\nassert " in _request_text(mb)


def test_humaneval_prompts_parse_alone() -> None:
    # The grader puts the prompt before the answer; that needs every prompt to be valid Python.
    for rec in _raw("humaneval").values():
        ast.parse(rec["prompt"])


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data beside the checkout")
def test_bundled_copies_are_byte_identical_to_shared() -> None:
    for path in BUNDLED.values():
        shared = SHARED / path.name
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(shared.read_bytes()).digest()


def test_any_file_in_these_formats_loads_by_path(tmp_path: Path) -> None:
    assert [t.task_id for t in load_tasks(str(BUNDLED["humaneval"]))] == [
        t.task_id for t in load_tasks("humaneval")]
    sub = tmp_path / "mbpp_two.jsonl"
    rows = list(_raw("mbpp").values())[:2]
    sub.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [t.task_id for t in load_tasks(str(sub), "prompt")] == ["MBPP/1", "MBPP/2"]
    gz = tmp_path / "he.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(json.dumps(_raw("humaneval")["HumanEval/3"]) + "\n")
    assert [t.task_id for t in load_tasks(str(gz))] == ["HumanEval/3"]


def _write(tmp_path: Path, rows: list[dict]) -> str:
    path = tmp_path / "custom.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_custom_tasks(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        {"task_id": "add", "prompt": "Write add(a, b) returning the sum.",
         "tests": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]},
        {"task_id": "echo", "prompt": "Read a line and print it reversed.",
         "io_cases": [{"stdin": "abc\n", "expected_stdout": "cba"}], "timeout_s": 5},
    ])
    add, echo = load_tasks(path)
    assert add.source == "custom" and add.task_id == "add"
    text = _request_text(add)
    assert text.startswith("Write add(a, b) returning the sum.") and "assert" not in text
    assert add.grading.tests == ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
    assert echo.grading.io_cases[0].expected_stdout == "cba" and echo.grading.timeout_s == 5
    assert "cba" not in _request_text(echo)


@pytest.mark.parametrize("row", [
    {"task_id": "x", "prompt": "p", "tests": []},  # no graded test at all
    {"task_id": "x", "prompt": "", "tests": ["assert 1"]},
    {"task_id": "x", "prompt": "p", "tests": "assert 1"},  # not a list
])
def test_custom_tasks_are_validated(tmp_path: Path, row: dict) -> None:
    with pytest.raises(DatasetError):
        load_tasks(_write(tmp_path, [row]))


def test_duplicate_ids_and_unknown_formats_are_refused(tmp_path: Path) -> None:
    row = {"task_id": "x", "prompt": "p", "tests": ["assert 1"]}
    with pytest.raises(DatasetError, match="duplicate"):
        load_tasks(_write(tmp_path, [row, row]))
    with pytest.raises(DatasetError, match="unknown task format"):
        load_tasks(_write(tmp_path, [{"question": "q"}]))
    with pytest.raises(DatasetError, match="no dataset"):
        load_tasks(str(tmp_path / "missing.jsonl"))


def test_select_tasks() -> None:
    tasks = load_tasks("humaneval")
    a = select_tasks(tasks, count=10, seed=0)
    assert [t.task_id for t in a] == [t.task_id for t in select_tasks(tasks, count=10, seed=0)]
    assert [t.task_id for t in a] != [t.task_id for t in select_tasks(tasks, count=10, seed=1)]
    assert len(a) == 10 and a == sorted(a, key=tasks.index)  # dataset order kept
    picked = select_tasks(load_tasks("mbpp"), ids=["MBPP/512", "511"])
    assert [t.task_id for t in picked] == ["MBPP/512", "MBPP/511"]
    with pytest.raises(DatasetError):
        select_tasks(tasks, ids=["HumanEval/999"])
    assert len(select_tasks(tasks, count=500)) == 164
