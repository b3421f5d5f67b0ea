"""Benchmark tasks: loading, the user-visible request, and the grading spec kept apart.

Every task is split once, here, into two things that never mix:

* ``Task.messages``: exactly what a real user would send. HumanEval: the ``prompt`` (its
  docstring examples are fair). MBPP: ``text`` plus the FIRST assert of ``test_list`` as a
  usage example. Custom: the task's ``prompt``.
* ``Task.grading``: what the grader runs in the sandbox (HumanEval ``test`` +
  ``check(entry_point)``; MBPP every assert of ``test_list`` and ``challenge_test_list`` after
  ``test_setup_code``; custom ``tests`` / ``test_file`` / ``io_cases``).

The runner sends only ``messages``; ``tests/bench/test_datasets.py`` checks for every bundled
task that no hidden test, reference solution or setup text appears in them.

Custom task format (JSONL, one object a line; ``.jsonl.gz`` also read)::

    {"task_id": "fizz-1",                      # unique string
     "prompt": "Write a function fizz(n) ...",  # what the user asks, sent verbatim
     "language": "python",                      # optional, default python
     "tests": ["assert fizz(3) == 'Fizz'"],     # graded asserts (python) or a test program
     "test_file": null,                         # optional whole test file run after the code
     "setup_code": "",                          # optional, run after the code, before tests
     "io_cases": [{"stdin": "3\\n", "expected_stdout": "Fizz"}],   # optional
     "entry_point": null,                       # optional, informative
     "timeout_s": 10}                           # optional

At least one of ``tests``, ``test_file`` or ``io_cases`` is required: a task without graded
tests would count any program that exits 0 as a pass.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import msgspec

from sandbox.types import IOCase

DATA_DIR = Path(__file__).parent / "data"
BUNDLED = {"humaneval": DATA_DIR / "HumanEval.jsonl.gz", "mbpp": DATA_DIR / "mbpp_public.jsonl"}

# MBPP's official id ranges (Austin et al. 2021). The bundled file has no "test" split: it is
# the project's held-out set, but a full mbpp.jsonl given by path can still select it.
MBPP_SPLITS = {
    "prompt": range(1, 11),
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 975),
}

# The prompt templates, in one place; every run writes them into its run.json so a report
# always says exactly what the model was asked.
PROMPT_TEMPLATES: dict[str, str] = {
    "humaneval": (
        "Complete the following Python function. Return the whole function in one "
        "```python code block.\n\n```python\n{prompt}\n```"
    ),
    "mbpp": (
        "{text}\nYour code should satisfy this example:\n```python\n{first_assert}\n```\n"
        "Write the Python function in one ```python code block."
    ),
    "custom": "{prompt}\n\nReturn the complete solution in one ```{language} code block.",
}


class GradingSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the sandbox runs to grade an answer. Never sent to a model."""

    language: str = "python"
    tests: list[str] = []
    test_file: str | None = None
    # Run after the answer's code and before the tests (MBPP test_setup_code builds objects
    # from classes the answer defines, so it cannot go first).
    setup_code: str = ""
    io_cases: list[IOCase] = []
    # HumanEval: the prompt (user-visible) is put before the answer so that the prompt's
    # imports and helper functions exist; the answer's own definitions come later and win.
    # An answer that is only a function body continues the prompt's signature.
    prefix: str = ""
    entry_point: str | None = None
    timeout_s: float = 10.0


class Task(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    source: str  # humaneval | mbpp | custom
    messages: list[dict[str, str]]  # the user-visible request, sent verbatim
    grading: GradingSpec


class DatasetError(ValueError):
    pass


def _user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def split_humaneval(rec: dict[str, Any]) -> tuple[list[dict[str, str]], GradingSpec]:
    """HumanEval record -> (request messages, grading spec)."""
    messages = _user(PROMPT_TEMPLATES["humaneval"].format(prompt=rec["prompt"].strip("\n")))
    spec = GradingSpec(
        test_file=f"{rec['test']}\n\ncheck({rec['entry_point']})\n",
        prefix=rec["prompt"],
        entry_point=rec["entry_point"],
    )
    return messages, spec


def split_mbpp(rec: dict[str, Any]) -> tuple[list[dict[str, str]], GradingSpec]:
    """MBPP record -> (request messages, grading spec). Only the first assert is shown."""
    asserts = list(rec["test_list"])
    if not asserts:
        raise DatasetError(f"MBPP task {rec['task_id']} has no test_list")
    content = PROMPT_TEMPLATES["mbpp"].format(text=rec["text"].strip(), first_assert=asserts[0])
    spec = GradingSpec(
        tests=asserts + list(rec.get("challenge_test_list") or []),
        setup_code=rec.get("test_setup_code") or "",
    )
    return _user(content), spec


def split_custom(rec: dict[str, Any]) -> tuple[list[dict[str, str]], GradingSpec]:
    try:
        spec = msgspec.convert(
            {
                "language": rec.get("language", "python"),
                "tests": rec.get("tests") or [],
                "test_file": rec.get("test_file"),
                "setup_code": rec.get("setup_code") or "",
                "io_cases": rec.get("io_cases") or [],
                "entry_point": rec.get("entry_point"),
                "timeout_s": rec.get("timeout_s", 10.0),
            },
            GradingSpec,
        )
    except msgspec.ValidationError as exc:
        raise DatasetError(f"custom task {rec.get('task_id')!r}: {exc}") from exc
    if not (spec.tests or spec.test_file or spec.io_cases):
        raise DatasetError(f"custom task {rec.get('task_id')!r} has no tests, test_file or io_cases")
    prompt = rec.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DatasetError(f"custom task {rec.get('task_id')!r} has no prompt")
    content = PROMPT_TEMPLATES["custom"].format(prompt=prompt.strip(), language=spec.language)
    return _user(content), spec


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = []
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{lineno}: not JSON: {exc}") from exc
    if not rows:
        raise DatasetError(f"{path}: no records")
    return rows


def detect_format(rec: dict[str, Any]) -> str:
    if {"prompt", "test", "entry_point"} <= rec.keys():
        return "humaneval"
    if {"text", "test_list"} <= rec.keys():
        return "mbpp"
    if "prompt" in rec and ({"tests", "test_file", "io_cases"} & rec.keys()):
        return "custom"
    raise DatasetError(f"unknown task format with keys {sorted(rec)}")


def resolve_path(dataset: str) -> Path:
    if dataset in BUNDLED:
        return BUNDLED[dataset]
    path = Path(dataset).expanduser()
    if not path.is_file():
        raise DatasetError(f"no dataset {dataset!r}: use humaneval, mbpp or a JSONL path")
    return path


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_tasks(dataset: str, split: str | None = None) -> list[Task]:
    """All tasks of a dataset (name or path), in file order. ``split`` applies to MBPP only:
    prompt | validation | train | test | all; default validation."""
    path = resolve_path(dataset)
    rows = _read_jsonl(path)
    fmt = detect_format(rows[0])
    if fmt == "mbpp":
        split = split or "validation"
        if split != "all":
            if split not in MBPP_SPLITS:
                raise DatasetError(f"unknown MBPP split {split!r}: {sorted(MBPP_SPLITS)} or all")
            rows = [r for r in rows if int(r["task_id"]) in MBPP_SPLITS[split]]
            if not rows:
                raise DatasetError(f"{path} has no tasks in MBPP split {split!r}")
    elif split not in (None, "all"):
        raise DatasetError(f"--split applies to MBPP only, not to a {fmt} file")
    splitter = {"humaneval": split_humaneval, "mbpp": split_mbpp, "custom": split_custom}[fmt]
    tasks, seen = [], set()
    for rec in rows:
        if detect_format(rec) != fmt:
            raise DatasetError(f"{path}: mixed task formats ({fmt} and {detect_format(rec)})")
        raw_id = rec.get("task_id")
        if raw_id is None:
            raise DatasetError(f"{path}: a record has no task_id")
        task_id = f"MBPP/{raw_id}" if fmt == "mbpp" else str(raw_id)
        if task_id in seen:
            raise DatasetError(f"{path}: duplicate task_id {task_id!r}")
        seen.add(task_id)
        messages, spec = splitter(rec)
        tasks.append(Task(task_id=task_id, source=fmt, messages=messages, grading=spec))
    return tasks


def select_tasks(
    tasks: list[Task], *, count: int | None = None, ids: list[str] | None = None, seed: int = 0
) -> list[Task]:
    """Pick tasks by id (``MBPP/511`` or just ``511``) or a seeded random sample of ``count``
    (the first N of HumanEval are easier than the rest, so a prefix would flatter)."""
    if ids:
        by_id = {t.task_id: t for t in tasks}
        by_suffix = {t.task_id.rsplit("/", 1)[-1]: t for t in tasks}
        picked = []
        for i in ids:
            task = by_id.get(i) or by_suffix.get(i)
            if task is None:
                raise DatasetError(f"no task {i!r} in this dataset/split")
            picked.append(task)
        return picked
    if count is None or count >= len(tasks):
        return list(tasks)
    if count < 1:
        raise DatasetError("--tasks must be at least 1")
    chosen = set(random.Random(seed).sample(range(len(tasks)), count))
    return [t for i, t in enumerate(tasks) if i in chosen]
