"""Python: per-assert counting, test files, stdin cases, and every status."""

from __future__ import annotations

import pytest

from sandbox import ExecRequest, IOCase, Limits, Status

from .sbx_helpers import py

pytestmark = pytest.mark.asyncio(loop_scope="session")

ADD = "def add(a, b):\n    return a + b\n"


async def test_no_tests_exit_zero_passes(sb):
    r = await sb.run(py("print('hello')"))
    assert r.status == Status.PASSED and r.stdout == "hello\n" and r.exit_code == 0
    assert r.tests_run == 0 and r.error_type is None
    assert r.duration_ms > 0 and r.peak_memory_kb and r.peak_memory_kb > 1000


async def test_each_assert_counted_on_its_own(sb):
    tests = ["assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert mul(1, 1) == 1",
             "assert add('a', 1) == 'a1'", "assert add(0, 0) == 0"]
    r = await sb.run(py(ADD, tests=tests))
    assert r.status == Status.FAILED
    assert (r.tests_run, r.tests_passed) == (5, 2)
    assert [t.passed for t in r.tests] == [True, False, False, False, True]
    assert [t.index for t in r.tests] == [0, 1, 2, 3, 4]
    assert r.tests[1].name == "assert add(2, 2) == 5"
    assert r.tests[1].message == "AssertionError: assert add(2, 2) == 5 (got 4)"
    assert r.tests[2].message.startswith("NameError: name 'mul' is not defined")
    assert r.tests[3].message.startswith("TypeError:")
    assert r.error_type == "AssertionError"
    assert r.pass_fraction == pytest.approx(0.4)


async def test_all_asserts_pass(sb):
    r = await sb.run(py(ADD, tests=["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]))
    assert r.status == Status.PASSED and (r.tests_run, r.tests_passed) == (2, 2)


async def test_assert_with_message_and_non_assert_test(sb):
    r = await sb.run(py(ADD, tests=["assert add(1, 1) == 3, 'one plus one'", "add(1, 2)", "1/0"]))
    assert [t.passed for t in r.tests] == [False, True, False]
    assert r.tests[0].message.endswith(": one plus one")
    assert r.tests[2].message.startswith("ZeroDivisionError")


async def test_syntax_error_in_a_test_fails_only_that_test(sb):
    r = await sb.run(py(ADD, tests=["assert add(1, 2) == 3", "assert add(1,, 2)"]))
    assert r.status == Status.FAILED and [t.passed for t in r.tests] == [True, False]
    assert r.tests[1].message.startswith("SyntaxError")


async def test_syntax_error_in_code_is_error(sb):
    r = await sb.run(py("def add(a, b:\n    return a", tests=["assert add(1, 2) == 3"]))
    assert r.status == Status.ERROR and r.error_type == "SyntaxError" and r.tests_run == 0
    assert "SyntaxError" in r.stderr and "python_runner" not in r.stderr


async def test_exception_at_import_is_error(sb):
    r = await sb.run(py("import nonexistent_module_xyz\n" + ADD, tests=["assert add(1, 2) == 3"]))
    assert r.status == Status.ERROR and r.error_type == "ModuleNotFoundError"
    r = await sb.run(py("undefined_name + 1"))
    assert r.status == Status.ERROR and r.error_type == "NameError"


async def test_exit_before_tests_is_error(sb):
    r = await sb.run(py("import sys\nsys.exit(0)\n" + ADD, tests=["assert add(1, 2) == 3"]))
    assert r.status == Status.ERROR and r.error_type == "SystemExit"
    r = await sb.run(py("import os\nos._exit(0)\n" + ADD, tests=["assert add(1, 2) == 3"]))
    assert r.status == Status.ERROR and r.error_type == "EarlyExit"


async def test_exit_during_tests_counts_the_rest_failed(sb):
    code = ADD + "def boom():\n    import os\n    os._exit(0)\n"
    r = await sb.run(py(code, tests=["assert add(1, 2) == 3", "boom()", "assert add(2, 2) == 4"]))
    assert r.status == Status.FAILED and r.error_type == "EarlyExit"
    assert [t.passed for t in r.tests] == [True, False, False]
    assert r.tests[2].message.startswith("not run")


async def test_sys_exit_inside_a_test_fails_that_test(sb):
    code = ADD + "def quit_():\n    raise SystemExit(3)\n"
    r = await sb.run(py(code, tests=["quit_()", "assert add(2, 2) == 4"]))
    assert [t.passed for t in r.tests] == [False, True]
    assert r.tests[0].message.startswith("SystemExit")


async def test_nonzero_exit_without_tests_is_error(sb):
    r = await sb.run(py("import sys\nsys.exit(3)"))
    assert r.status == Status.ERROR and r.exit_code == 3 and r.error_type == "SystemExit"
    r = await sb.run(py("raise ValueError('bad')"))
    assert r.status == Status.ERROR and r.error_type == "ValueError" and "ValueError: bad" in r.stderr


async def test_report_survives_closed_fds_and_junk_stdout(sb):
    code = "import os, sys\nprint('{\"t\": \"done\"}' * 5)\nos.closerange(0, 4096)\n" + ADD
    r = await sb.run(py(code, tests=["assert add(1, 2) == 3", "assert add(1, 1) == 3"]))
    assert r.status == Status.FAILED and (r.tests_run, r.tests_passed) == (2, 1)


HUMANEVAL_TEST = """
METADATA = {'author': 'jt'}


def check(candidate):
    assert candidate(1, 2) == 3
    assert candidate(2, 2) == 5
    for i in range(3):
        assert candidate(i, 0) == i
    assert candidate(-1, -1) == -2
"""


async def test_humaneval_test_file_counts_each_assert_in_check(sb):
    r = await sb.run(py(ADD, test_file=HUMANEVAL_TEST, entry_point="add"))
    assert r.status == Status.FAILED
    assert (r.tests_run, r.tests_passed) == (4, 3)
    assert r.tests[1].name == "assert candidate(2, 2) == 5" and not r.tests[1].passed
    assert r.tests[1].message.startswith("AssertionError: assert candidate(2, 2) == 5")
    r = await sb.run(py(ADD, test_file=HUMANEVAL_TEST + "\ncheck(add)\n"))  # explicit call
    assert (r.tests_run, r.tests_passed) == (4, 3)


async def test_test_file_check_never_called_does_not_pass(sb):
    r = await sb.run(py(ADD, test_file=HUMANEVAL_TEST))
    assert r.status == Status.FAILED and r.tests_passed == 0 and r.tests_run == 4


async def test_test_file_exception_outside_asserts_fails_unreached(sb):
    tf = "assert add(1, 2) == 3\nraise RuntimeError('setup broke')\nassert add(2, 2) == 4\n"
    r = await sb.run(py(ADD, test_file=tf))
    assert [t.passed for t in r.tests] == [True, False]
    assert "RuntimeError" in r.tests[1].message


async def test_test_file_without_asserts_is_one_test(sb):
    ok = await sb.run(py(ADD, test_file="if add(1, 2) != 3:\n    raise ValueError('x')\n"))
    assert ok.status == Status.PASSED and ok.tests_run == 1 and ok.tests[0].name == "test_file"
    bad = await sb.run(py(ADD, test_file="if add(1, 2) != 4:\n    raise ValueError('x')\n"))
    assert bad.status == Status.FAILED and bad.tests_run == 1 and bad.error_type == "ValueError"


async def test_tests_and_test_file_together(sb):
    r = await sb.run(py(ADD, tests=["assert add(1, 1) == 2"], test_file="assert add(0, 1) == 1\n"))
    assert r.status == Status.PASSED and r.tests_run == 2


async def test_test_file_syntax_error_is_error(sb):
    r = await sb.run(py(ADD, test_file="def check(:\n"))
    assert r.status == Status.ERROR and r.error_type == "SyntaxError"


async def test_stdin_and_io_cases(sb):
    code = "s = input()\nprint(s[::-1])\n"
    r = await sb.run(py(code, stdin="abc\n"))
    assert r.stdout == "cba\n"
    r = await sb.run(py(code, io_cases=[IOCase("abc\n", "cba"), IOCase("xy", "xy\n", name="palindrome?"),
                                       IOCase("q", "q   \n\n")]))
    assert r.status == Status.FAILED and [t.passed for t in r.tests] == [True, False, True]
    assert r.tests[1].name == "palindrome?" and r.tests[1].message.startswith("WrongAnswer")
    assert r.stdout == "yx\n"  # the failing case's output is the one shown


async def test_io_case_crash_and_syntax_error(sb):
    r = await sb.run(py("x = int(input())\nprint(10 // x)", io_cases=[IOCase("2", "5"), IOCase("0", "0")]))
    assert r.status == Status.FAILED and r.tests[1].message.startswith("ZeroDivisionError")
    r = await sb.run(py("print(", io_cases=[IOCase("", ""), IOCase("", "")]))
    assert r.status == Status.ERROR and r.error_type == "SyntaxError"


async def test_io_case_timeout(sb):
    r = await sb.run(py("import time\nif input() == 'slow':\n    time.sleep(100)\nprint('ok')",
                        io_cases=[IOCase("fast", "ok"), IOCase("slow", "ok"), IOCase("fast", "ok")], timeout_s=2))
    assert r.status == Status.TIMEOUT
    assert [t.passed for t in r.tests] == [True, False, False]


async def test_timeout_keeps_partial_test_counts(sb):
    code = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    r = await sb.run(py(code, tests=["assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3"], timeout_s=2))
    assert r.status == Status.TIMEOUT and r.tests_run == 3 and r.tests_passed == 1
    assert r.tests[2].message == "not run: timeout"


async def test_memory_error_inside_a_test_is_memory_limit(sb):
    r = await sb.run(py(ADD, tests=["assert add(1, 2) == 3", "x = bytearray(10 * 1024 ** 3)"]))
    assert r.status == Status.MEMORY_LIMIT and r.tests_passed == 1 and r.tests_run == 2


async def test_runs_are_independent(sb):
    # random is reseeded per fork; module state changed by one run is not seen by the next
    a = await sb.run(py("import random, math\nmath.pi = 3\nprint(random.random())"))
    b = await sb.run(py("import random, math\nprint(random.random(), math.pi)"))
    assert a.stdout.strip() != b.stdout.split()[0] and b.stdout.split()[1] == "3.141592653589793"


async def test_unsupported_language(sb):
    r = await sb.run(ExecRequest(code="x", language="cobol"))
    assert r.status == Status.UNSUPPORTED and r.error_type == "UnsupportedLanguage"


async def test_request_limits_cannot_exceed_config(sb):
    r = await sb.run(py("x = bytearray(800 * 1024 * 1024)\nprint('big')", limits=Limits(memory_mb=4096)))
    assert r.status == Status.MEMORY_LIMIT  # the config ceiling (512 MB) wins


async def test_crash_inside_a_test_fails_the_rest(sb):
    code = ADD + "def crash():\n    import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    r = await sb.run(py(code, tests=["assert add(1, 2) == 3", "crash()", "assert add(2, 2) == 4"]))
    assert r.status == Status.FAILED and r.error_type == "SIGSEGV" and r.exit_code == -11
    assert [t.passed for t in r.tests] == [True, False, False]
