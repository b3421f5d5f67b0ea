"""Every language this host can run: a program, per-test counting, a compile/syntax error,
a stdin case. Skipped with a reason where the toolchain is missing."""

from __future__ import annotations

import pytest

from sandbox import ExecRequest, IOCase, Status

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def need(sb, lang):
    if lang not in await sb.languages():
        pytest.skip(f"{lang} toolchain not installed on this host")


async def test_languages_listed(sb):
    langs = await sb.languages()
    assert "python" in langs
    assert langs == sorted(langs)


async def test_javascript(sb):
    await need(sb, "javascript")
    r = await sb.run(ExecRequest(language="javascript", code="console.log([1,2,3].map(x => x * 2).join(','))"))
    assert r.status == Status.PASSED and r.stdout == "2,4,6\n"
    code = "function add(a, b) { return a + b; }"
    tests = ["const assert = require('assert'); assert.strictEqual(add(1, 2), 3)",
             "require('assert').strictEqual(add(2, 2), 5)", "add(", "if (add(0, 0) !== 0) throw new Error('zero')"]
    r = await sb.run(ExecRequest(language="js", code=code, tests=tests))
    assert r.status == Status.FAILED and (r.tests_run, r.tests_passed) == (4, 2)
    assert [t.passed for t in r.tests] == [True, False, False, True]
    assert r.tests[1].message.startswith("AssertionError") and r.tests[2].message.startswith("SyntaxError")
    r = await sb.run(ExecRequest(language="javascript", code="function ( {"))
    assert r.status == Status.ERROR and r.error_type == "SyntaxError"
    r = await sb.run(ExecRequest(language="javascript", code="undefinedThing()"))
    assert r.status == Status.ERROR and r.error_type == "ReferenceError"
    r = await sb.run(ExecRequest(language="javascript", io_cases=[IOCase("5\n", "10")],
                                 code="const n = +require('fs').readFileSync(0, 'utf8'); console.log(n * 2)"))
    assert r.status == Status.PASSED


async def test_javascript_memory_limit(sb):
    await need(sb, "javascript")
    code = "const a = []; while (true) a.push(new Array(1e6).fill(1.5));"
    r = await sb.run(ExecRequest(language="javascript", code=code, timeout_s=30))
    assert r.status == Status.MEMORY_LIMIT and r.error_type == "MemoryError"


async def test_bash(sb):
    await need(sb, "bash")
    r = await sb.run(ExecRequest(language="bash", code="echo \"sum=$((2 + 3))\""))
    assert r.status == Status.PASSED and r.stdout == "sum=5\n"
    code = "add() { echo $(($1 + $2)); }"
    r = await sb.run(ExecRequest(language="bash", code=code,
                                 tests=['[ "$(add 1 2)" = 3 ]', '[ "$(add 1 2)" = 4 ]', "exit 0"]))
    assert r.status == Status.FAILED and [t.passed for t in r.tests] == [True, False, True]
    r = await sb.run(ExecRequest(language="bash", code="exit 4"))
    assert r.status == Status.ERROR and r.exit_code == 4 and r.error_type == "NonZeroExit"
    r = await sb.run(ExecRequest(language="sh", code="read x; echo $((x * x))", io_cases=[IOCase("7", "49")]))
    assert r.status == Status.PASSED


async def test_c(sb):
    await need(sb, "c")
    r = await sb.run(ExecRequest(language="c", code="#include <stdio.h>\n#include <math.h>\n"
                                 "int main(void) { printf(\"%.0f\\n\", sqrt(49.0)); return 0; }"))
    assert r.status == Status.PASSED and r.stdout == "7\n"
    code = "int add(int a, int b) { return a + b; }"
    r = await sb.run(ExecRequest(language="c", code=code,
                                 tests=["assert(add(1, 2) == 3);", "assert(add(2, 2) == 5);", "int *p = 0; *p = 1;",
                                        "assert(add(0, 0) == 0);"]))
    assert r.status == Status.FAILED and [t.passed for t in r.tests] == [True, False, False, True]
    assert "SIGABRT" in r.tests[1].message and "signal 11" in r.tests[2].message
    r = await sb.run(ExecRequest(language="c", code="int main(void) { return undeclared; }"))
    assert r.status == Status.ERROR and r.error_type == "CompileError" and "undeclared" in r.stderr
    r = await sb.run(ExecRequest(language="c", code="int main(void) { int *p = 0; return *p; }"))
    assert r.status == Status.ERROR and r.error_type == "SIGSEGV" and r.exit_code == -11


async def test_c_memory_and_fork_bomb(sb):
    await need(sb, "c")
    code = ("#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\nint main(void) {\n"
            "  for (;;) { char *p = malloc(1 << 26); if (!p) { fprintf(stderr, \"out of memory\\n\"); return 3; }"
            " memset(p, 1, 1 << 26); }\n}")
    r = await sb.run(ExecRequest(language="c", code=code, timeout_s=20))
    assert r.status == Status.MEMORY_LIMIT
    bomb = "#include <unistd.h>\nint main(void) { for (;;) fork(); }"
    r = await sb.run(ExecRequest(language="c", code=bomb, timeout_s=3))
    assert r.status == Status.TIMEOUT


async def test_cpp(sb):
    await need(sb, "cpp")
    code = ("#include <iostream>\n#include <vector>\nint main() { std::vector<int> v{3, 1, 2}; long s = 0;"
            " for (int x : v) s += x; std::string w; std::cin >> w; std::cout << w << s << std::endl; }")
    r = await sb.run(ExecRequest(language="c++", code=code, io_cases=[IOCase("n=", "n=6"), IOCase("m=", "m=7")]))
    assert r.status == Status.FAILED and [t.passed for t in r.tests] == [True, False]
    code = "#include <string>\nstd::string twice(const std::string &s) { return s + s; }"
    r = await sb.run(ExecRequest(language="cpp", code=code, tests=['assert(twice("ab") == "abab");']))
    assert r.status == Status.PASSED and r.tests_run == 1
    # The test needs <vector>, the candidate did not include it: the prelude supplies it.
    code = "int total(const int *xs, int n) { int s = 0; for (int i = 0; i < n; i++) s += xs[i]; return s; }"
    r = await sb.run(ExecRequest(language="cpp", code=code,
                                 tests=["std::vector<int> v{1, 2, 3}; assert(total(v.data(), 3) == 6);"]))
    assert r.status == Status.PASSED and r.tests_run == 1
    r = await sb.run(ExecRequest(language="cpp", code="#include <vector>\nint main() {"
                                 " std::vector<long> v; for (;;) v.resize(v.size() * 2 + 1024); }", timeout_s=20))
    assert r.status == Status.MEMORY_LIMIT


async def test_perl(sb):
    await need(sb, "perl")
    r = await sb.run(ExecRequest(language="perl", code='print "hi\\n";',))
    assert r.status == Status.PASSED and r.stdout == "hi\n"
    r = await sb.run(ExecRequest(language="perl", code="sub add { return $_[0] + $_[1]; }",
                                 tests=['die "no" unless add(1, 2) == 3;',
                                        'die "no \\"quoted\\"" unless add(1, 1) == 3;']))
    assert r.status == Status.FAILED and [t.passed for t in r.tests] == [True, False]
