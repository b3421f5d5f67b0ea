"""benchmarks/mbpp_stubs.py: MBPP as HumanEval-shaped stubs, honest and gradable."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from proxy.bench.datasets import BUNDLED, load_tasks
from proxy.bench.grading import grade
from tests.bench.conftest import with_sandbox

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "mbpp_stubs.py"
_spec = importlib.util.spec_from_file_location("mbpp_stubs", _PATH)
mbpp_stubs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mbpp_stubs)


def _raw() -> dict[str, dict]:
    rows = [json.loads(line) for line in BUNDLED["mbpp"].read_text().splitlines() if line]
    return {f"MBPP-stub/{r['task_id']}": r for r in rows}


@pytest.fixture(scope="module")
def stub_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stubs") / "mbpp-validation-stubs.jsonl"
    assert mbpp_stubs.main(["--split", "validation", "--out", str(out)]) == 0
    return out


def test_example_parsing() -> None:
    assert mbpp_stubs.example_of("assert f(1, [2]) == 3") == ("f", 2, "f(1, [2])", "3")
    assert mbpp_stubs.example_of("assert int(f(5, 3)) == 35") is None  # builtin outside
    assert mbpp_stubs.example_of("assert math.isclose(f(1), 2.0)") is None
    assert mbpp_stubs.example_of("assert f(1) != 3") is None
    assert mbpp_stubs.example_of("not python (") is None


def test_stubs_show_only_text_and_first_assert(stub_file: Path) -> None:
    raw = _raw()
    tasks = load_tasks(str(stub_file))  # read back as an ordinary custom task file
    assert 85 <= len(tasks) <= 90 and all(t.source == "custom" for t in tasks)
    for task in tasks:
        rec, text = raw[task.task_id], task.messages[0]["content"]
        assert 600 >= int(rec["task_id"]) >= 511  # validation only
        assert text.startswith(mbpp_stubs.HEADER) and "def " in text and ">>> " in text
        assert rec["code"].strip() not in text
        for hidden in rec["test_list"][1:] + rec["challenge_test_list"]:
            assert hidden not in text
        assert task.grading.tests == rec["test_list"] + rec["challenge_test_list"]


def test_reference_solutions_pass_and_a_stub_fails_in_the_real_sandbox(stub_file: Path) -> None:
    raw = _raw()
    tasks = load_tasks(str(stub_file))[:8]

    async def run(sb):
        good = [await grade(sb, t.grading, f"```python\n{raw[t.task_id]['code']}\n```")
                for t in tasks]
        # The stub as its own answer (a docstring, no body) must fail the grading tests.
        stub = tasks[0].messages[0]["content"].split("```python\n")[1].split("```")[0]
        bad = await grade(sb, tasks[0].grading, f"```python\n{stub}    pass\n```")
        return good, bad

    good, bad = with_sandbox(run)
    assert all(g.passed for _, g in good), [g.message for _, g in good if not g.passed]
    assert not bad[1].passed
