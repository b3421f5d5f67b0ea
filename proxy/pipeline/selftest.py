"""Self-tests: the prompt's own examples plus model-written cases, run in the sandbox.

Two kinds of tests with different trust (design point a): the prompt's examples are the
user's word and are trusted; the model's tests are noisy (a 0.5B model gets many expected
values wrong), so they are (1) dropped when they contradict a prompt example on the same
input, and (2) set aside after the run when most candidates that pass every prompt example
fail them: then the test is more likely wrong than the code.
"""

from __future__ import annotations

import ast
import re

import msgspec

from proxy.pipeline import prompts
from proxy.pipeline.codeblocks import fenced_blocks
from proxy.pipeline.generate import Generation, Generator
from proxy.pipeline.problem import CLOSE_HELPER, Example, Problem, call_key, make_assert
from sandbox.types import ExecRequest, ExecResult, Sandbox, Status

MAX_FEEDBACK = 5


class CheckReport(msgspec.Struct, kw_only=True):
    """One candidate against the tests; the first ``n_examples`` results are the prompt's."""

    status: str
    n_examples: int
    passed: list[bool] = []
    messages: list[str] = []
    error: str | None = None  # why the tests could not be judged (syntax error, timeout, ...)
    stderr_tail: str = ""
    duration_ms: float = 0.0

    @property
    def examples_passed(self) -> int:
        return sum(self.passed[: self.n_examples])

    def model_passed(self, keep: list[bool] | None = None) -> tuple[int, int]:
        results = self.passed[self.n_examples :]
        if keep is not None:
            results = [r for r, k in zip(results, keep) if k]
        return sum(results), len(results)


def parse_asserts(text: str, entry: str | None) -> list[tuple[str, str, str]]:
    """(assert line, call, expected) of every usable assert in model output."""
    bodies = [b for _, b in fenced_blocks(text)] or [text]
    out: list[tuple[str, str, str]] = []
    for body in bodies:
        for line in body.splitlines():
            line = line.strip()
            if not line.startswith("assert ") or (entry and entry not in line):
                continue
            try:
                node = ast.parse(line).body[0]
            except (SyntaxError, ValueError, IndexError):
                continue
            test = node.test  # type: ignore[attr-defined]
            if not (
                isinstance(test, ast.Compare)
                and len(test.ops) == 1
                and isinstance(test.ops[0], (ast.Eq, ast.Is))
            ):
                continue
            call, expected = ast.unparse(test.left), ast.unparse(test.comparators[0])
            # A test whose expected side calls the function checks nothing.
            if entry and re.search(rf"\b{re.escape(entry)}\s*\(", expected):
                continue
            out.append((line, call, expected))
    return out


def filter_model_tests(
    parsed: list[tuple[str, str, str]], problem: Problem, n: int
) -> tuple[list[Example], list[str]]:
    """Drop duplicates of prompt examples and tests that contradict them; keep ``n``.
    Returns (kept, reasons for the dropped)."""
    known = {call_key(e.call): e.expected for e in problem.examples}
    kept: list[Example] = []
    dropped: list[str] = []
    seen: set[str] = set()
    for line, call, expected in parsed:
        key = call_key(call)
        if key in seen:
            continue
        seen.add(key)
        if key in known:
            if _same(known[key], expected):
                continue  # already tested, by the more trusted copy
            dropped.append(f"{line}  (contradicts the prompt's example = {known[key]})")
            continue
        kept.append(Example(make_assert(call, expected), call, expected, "model"))
        if len(kept) >= n:
            break
    return kept, dropped


def _same(a: str, b: str) -> bool:
    try:
        return ast.literal_eval(a) == ast.literal_eval(b)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return a.replace(" ", "") == b.replace(" ", "")


async def write_tests(
    generate: Generator, problem: Problem, n: int, temperature: float, max_tokens: int
) -> tuple[list[Example], list[str], Generation]:
    prompt = prompts.selftests(problem, generate.chat, n)
    gen = await generate(
        prompt, stage="selftests", temperature=temperature, max_tokens=min(max_tokens, 80 + 60 * n)
    )
    kept, dropped = filter_model_tests(parse_asserts(gen.text, problem.entry_point), problem, n)
    return kept, dropped, gen


def exec_request(code: str, tests: list[Example], timeout_s: float) -> ExecRequest:
    # The float helper goes after the candidate (line numbers in tracebacks stay the model's).
    helper = CLOSE_HELPER if any("_atlas_close(" in t.test for t in tests) else ""
    return ExecRequest(
        code=code + "\n" + helper,
        language="python",
        tests=[t.test for t in tests],
        timeout_s=timeout_s,
    )


async def run_tests(
    sandbox: Sandbox,
    code: str,
    examples: list[Example],
    model_tests: list[Example],
    timeout_s: float,
) -> CheckReport:
    tests = examples + model_tests
    try:
        result: ExecResult = await sandbox.run(exec_request(code, tests, timeout_s))
    except Exception as exc:  # the sandbox failing must degrade, not fail the request
        return CheckReport(
            status="sandbox_error",
            n_examples=len(examples),
            passed=[False] * len(tests),
            error=f"sandbox: {type(exc).__name__}: {exc}",
        )
    passed = [False] * len(tests)
    messages = [""] * len(tests)
    for outcome in result.tests:
        if 0 <= outcome.index < len(tests):
            passed[outcome.index] = outcome.passed
            messages[outcome.index] = outcome.message
    error = None
    if result.status not in (Status.PASSED, Status.FAILED):
        error = f"{result.status.value}: {result.error_type or ''}".rstrip(": ")
    tail = "\n".join(result.stderr.strip().splitlines()[-8:])
    return CheckReport(
        status=result.status.value,
        n_examples=len(examples),
        passed=passed,
        messages=messages,
        error=error,
        stderr_tail=tail,
        duration_ms=result.duration_ms,
    )


def suspect_tests(reports: list[CheckReport], n_model: int) -> list[bool]:
    """Which model tests to keep: drop one that most candidates passing every prompt example
    fail (needs at least two such candidates to outvote a test)."""
    keep = [True] * n_model
    clean = [
        r for r in reports if r.n_examples and r.examples_passed == r.n_examples and r.error is None
    ]
    if len(clean) < 2:
        return keep
    for j in range(n_model):
        fails = sum(not r.passed[r.n_examples + j] for r in clean)
        if fails * 2 > len(clean):
            keep[j] = False
    return keep


def score(
    report: CheckReport, keep: list[bool], example_weight: float, threshold: float
) -> tuple[float, bool]:
    """(score in [0, 1], passes?). Examples weigh ``example_weight``; a candidate passes with
    every prompt example and at least ``threshold`` of the kept model tests."""
    ex_total = report.n_examples
    ex_frac = report.examples_passed / ex_total if ex_total else None
    m_pass, m_total = report.model_passed(keep)
    m_frac = m_pass / m_total if m_total else None
    if report.error and report.status in ("error", "sandbox_error") and not any(report.passed):
        return 0.0, False
    if ex_frac is not None and m_frac is not None:
        value = example_weight * ex_frac + (1 - example_weight) * m_frac
    else:
        value = ex_frac if ex_frac is not None else (m_frac if m_frac is not None else 0.0)
    passes = (ex_frac in (None, 1.0)) and (m_frac is None or m_frac >= threshold)
    if ex_frac is None and m_frac is None:
        passes = report.error is None  # nothing to check: it at least loads
    return value, passes


def failures(
    report: CheckReport, tests: list[Example], keep: list[bool] | None = None
) -> list[str]:
    """Execution feedback for repair: the failing asserts with what the code actually did,
    prompt examples first (they are trusted), then the traceback of a crash."""
    lines: list[str] = []
    for i, test in enumerate(tests):
        if i >= len(report.passed) or report.passed[i]:
            continue
        if i >= report.n_examples and keep is not None and not keep[i - report.n_examples]:
            continue
        msg = report.messages[i] if i < len(report.messages) else ""
        got = re.search(r"\(got (.*)$", msg, re.S)  # the sandbox's "(got VALUE)", maybe cut
        shown = f"assert {test.call} == {test.expected}"
        if got:
            lines.append(f"{shown}  ->  got {got.group(1).rstrip().removesuffix(')')}")
        elif msg and not msg.startswith("AssertionError"):
            lines.append(f"{shown}  ->  raised {msg}")
        else:
            lines.append(f"{shown}  ->  failed")
        if len(lines) >= MAX_FEEDBACK:
            break
    if report.error:
        lines.insert(
            0,
            f"the program failed to run ({report.error})"
            + (f":\n{report.stderr_tail}" if report.stderr_tail else ""),
        )
    return lines
