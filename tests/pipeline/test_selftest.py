from proxy.pipeline.problem import extract
from proxy.pipeline.selftest import (
    CheckReport,
    failures,
    filter_model_tests,
    parse_asserts,
    run_tests,
    score,
    suspect_tests,
)
from tests.pipeline.conftest import ADD_STUB, user


def test_parse_and_filter_model_tests():
    problem = extract(user(ADD_STUB))
    text = (
        "```python\nassert add(2, 2) == 4\nassert add(1, 2) == 4\nassert add(1,2) == 3\n"
        "assert add(2, 2) == 5\nassert add(3, 3) == add(3, 3)\nassert add(\nprint(1)\n```"
    )
    parsed = parse_asserts(text, "add")
    assert [p[0] for p in parsed] == [
        "assert add(2, 2) == 4",
        "assert add(1, 2) == 4",
        "assert add(1,2) == 3",
        "assert add(2, 2) == 5",
    ]
    kept, dropped = filter_model_tests(parsed, problem, 5)
    # add(1, 2) == 4 contradicts the prompt; add(1,2) == 3 repeats it; the second add(2, 2)
    # is the same input again.
    assert [t.test for t in kept] == ["assert add(2, 2) == 4"]
    assert len(dropped) == 1 and "contradicts" in dropped[0]


def test_suspect_tests_are_outvoted_by_candidates_passing_the_examples():
    good = CheckReport(status="failed", n_examples=2, passed=[True, True, True, False])
    also = CheckReport(status="failed", n_examples=2, passed=[True, True, True, False])
    bad = CheckReport(status="failed", n_examples=2, passed=[False, True, False, True])
    keep = suspect_tests([good, also, bad], 2)
    assert keep == [True, False]
    assert score(good, keep, 0.7, 0.6) == (1.0, True)
    assert score(bad, keep, 0.7, 0.6)[1] is False
    # Without two clean candidates nothing can be outvoted.
    assert suspect_tests([good, bad], 2) == [True, True]


def test_score_without_examples_uses_the_threshold():
    r = CheckReport(status="failed", n_examples=0, passed=[True, True, True, False, False])
    assert score(r, [True] * 5, 0.7, 0.6) == (0.6, True)
    r = CheckReport(status="failed", n_examples=0, passed=[True, False, False])
    assert score(r, [True] * 3, 0.7, 0.6)[1] is False


async def test_real_sandbox_feedback_carries_actual_values(sandbox):
    problem = extract(user(ADD_STUB))
    report = await run_tests(sandbox, "def add(a, b):\n    return 3", problem.examples, [], 10)
    assert report.passed == [True, False] and report.examples_passed == 1
    assert failures(report, problem.examples) == ["assert add(-1, 1) == 0  ->  got 3"]
    crash = await run_tests(sandbox, "def add(a, b):\n    return a +", problem.examples, [], 10)
    assert crash.error and crash.passed == [False, False]
    assert "SyntaxError" in failures(crash, problem.examples)[0]
    raises = await run_tests(sandbox, "def add(a, b):\n    return [][a]", problem.examples, [], 10)
    assert "raised IndexError" in failures(raises, problem.examples)[0]
