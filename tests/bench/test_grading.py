"""Code extraction, and grading of known-good and known-bad answers in the real sandbox."""

from __future__ import annotations

import asyncio
import gzip
import json

import msgspec
import pytest

from proxy.bench.datasets import BUNDLED, GradingSpec, load_tasks
from proxy.bench.grading import assemble, extract_code, grade

from .conftest import with_sandbox


@pytest.mark.parametrize(
    ("text", "code", "found"),
    [
        ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n", True),
        ("intro\n```py\nx = 1\n```\nbye", "x = 1\n", True),
        # The longest python block, not a short usage example after it.
        ("```python\ndef f(a):\n    return a + 1\n```\nUsage:\n```python\nprint(f(1))\n```",
         "def f(a):\n    return a + 1\n", True),
        # Equal lengths: the last one (a corrected version usually comes last).
        ("```python\nx = 1\n```\n```python\nx = 2\n```", "x = 2\n", True),
        # Tagged python wins over a longer untagged or other-language block.
        ("```\nsome long untagged text here\n```\n```python\ny = 2\n```", "y = 2\n", True),
        ("```bash\npip install numpy pandas scipy\n```\n```python\nz = 3\n```", "z = 3\n", True),
        ("```\nuntagged = True\n```", "untagged = True\n", True),
        # A truncated answer: the unterminated fence runs to the end.
        ("```python\ndef f():\n    return 1", "def f():\n    return 1\n", True),
        # A fence inside the code (not at a line start) does not close the block.
        ('```python\ns = "use ```python fences"\nt = 1\n```', 's = "use ```python fences"\nt = 1\n', True),
        ("def f():\n    return 1\n", "def f():\n    return 1\n", False),
        ("", "\n", False),
    ],
)
def test_extract_code(text: str, code: str, found: bool) -> None:
    assert extract_code(text) == (code, found)


def test_assemble() -> None:
    he = GradingSpec(test_file="...", prefix="def f(x):\n    '''doc'''\n", entry_point="f")
    # A full function: after the prompt, so the prompt's imports and helpers exist.
    assert assemble(he, "def f(x):\n    return x\n") == "def f(x):\n    '''doc'''\n\n\ndef f(x):\n    return x\n"
    # A bare body continues the prompt's signature.
    assert assemble(he, "    return x\n") == "def f(x):\n    '''doc'''\n    return x\n"
    mbpp = GradingSpec(tests=["assert g() == 1"], setup_code="obj = G()")
    assert assemble(mbpp, "class G: ...\n") == "class G: ...\n\n\nobj = G()\n"


def test_every_reference_solution_passes(references: dict[str, str]) -> None:
    """All 164 HumanEval and 474 MBPP reference solutions, answered as a model would (in a
    fence), grade as passed: the grader has no false negatives on known-good code."""
    tasks = load_tasks("humaneval") + load_tasks("mbpp", "all")

    async def run(sb):
        return await asyncio.gather(*(
            grade(sb, t.grading, f"Sure.\n```python\n{references[t.task_id]}\n```") for t in tasks))

    results = with_sandbox(run)
    failed = [(t.task_id, g.status, g.message) for t, (_, g) in zip(tasks, results) if not g.passed]
    assert failed == []
    assert all(g.tests_run >= 1 and g.tests_passed == g.tests_run for _, g in results)


def _humaneval_raw(task_id: str) -> dict:
    with gzip.open(BUNDLED["humaneval"], "rt") as fh:
        return next(r for r in map(json.loads, fh) if r["task_id"] == task_id)


def test_humaneval_answers_without_prompt_imports_or_as_body_pass(references: dict[str, str]) -> None:
    task = load_tasks("humaneval")[0]  # uses List from the prompt's typing import
    raw = _humaneval_raw(task.task_id)
    function_only = references[task.task_id].split("from typing import List\n\n\n", 1)[1]
    assert "import" not in function_only

    async def run(sb):
        return [await grade(sb, task.grading, f"```python\n{function_only}```"),
                await grade(sb, task.grading, raw["canonical_solution"])]

    (_, a), (_, b) = with_sandbox(run)
    assert a.passed and b.passed and not b.code_found


def test_known_bad_humaneval_answers_fail(references: dict[str, str]) -> None:
    task = load_tasks("humaneval")[0]
    good = references[task.task_id]
    bad = {
        "wrong": good.replace("return True", "return False"),
        "syntax": "```python\ndef has_close_elements(numbers, threshold)\n    return True\n```",
        "missing": "I cannot solve this.",
        "exits_early": "```python\nimport sys\nsys.exit(0)\n```",
        "raises": "```python\ndef has_close_elements(numbers, threshold):\n    raise ValueError\n```",
    }
    assert bad["wrong"] != good

    async def run(sb):
        return {name: (await grade(sb, task.grading, ans))[1] for name, ans in bad.items()}

    grades = with_sandbox(run)
    assert not any(g.passed for g in grades.values()), grades
    assert grades["wrong"].status == "failed" and grades["wrong"].tests_passed < grades["wrong"].tests_run
    assert grades["syntax"].error_type == "SyntaxError"


def test_known_bad_mbpp_answers_fail() -> None:
    task = next(t for t in load_tasks("mbpp") if t.task_id == "MBPP/511")  # find_Min_Sum
    shown = task.messages[0]["content"]
    assert "assert find_Min_Sum(12) == 7" in shown
    # Satisfies the example in the request but not the hidden asserts.
    overfit = "```python\ndef find_Min_Sum(n):\n    return 7\n```"
    timeout_spec = msgspec.structs.replace(task.grading, timeout_s=2.0)
    loops = "```python\ndef find_Min_Sum(n):\n    while True:\n        pass\n```"

    async def run(sb):
        return (await grade(sb, task.grading, overfit))[1], (await grade(sb, timeout_spec, loops))[1]

    overfit_grade, loop_grade = with_sandbox(run)
    assert not overfit_grade.passed and overfit_grade.tests_passed == 1
    assert overfit_grade.tests_run == 3
    assert not loop_grade.passed and loop_grade.status == "timeout"


def test_mbpp_setup_code_runs_after_the_answer(references: dict[str, str]) -> None:
    task = next(t for t in load_tasks("mbpp", "all") if t.grading.setup_code)
    assert "Node(" in task.grading.setup_code

    async def run(sb):
        return (await grade(sb, task.grading, f"```python\n{references[task.task_id]}\n```"))[1]

    assert with_sandbox(run).passed


def test_a_broken_sandbox_is_a_grader_error_not_a_crash() -> None:
    class Broken:
        async def run(self, request):
            raise OSError("sandbox is down")

    task = load_tasks("humaneval")[0]
    code, g = asyncio.run(grade(Broken(), task.grading, "```python\nx = 1\n```"))
    assert code == "x = 1\n" and not g.passed and g.status == "grader_error"
    assert "sandbox is down" in g.message
