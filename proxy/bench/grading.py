"""Grading: pull the code out of a chat answer and run the hidden tests in the sandbox.

This is the only place graded tests are used, and they are used only through ``Sandbox.run``.
"""

from __future__ import annotations

import re

import msgspec

from sandbox.types import ExecRequest, Sandbox, Status

from .datasets import GradingSpec

# A block closes only at a fence that starts a line, so ``` inside a string in the code
# (a docstring showing markdown, say) does not cut the block short.
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_ALIASES = {"python": {"python", "py", "python3"}}


class Grade(msgspec.Struct, frozen=True, kw_only=True):
    passed: bool
    status: str  # sandbox Status value, or "grader_error" when the sandbox itself failed
    tests_run: int = 0
    tests_passed: int = 0
    error_type: str | None = None
    message: str = ""  # first failing test or stderr tail, for reading a run, not for grading
    duration_ms: float = 0.0
    code_found: bool = True  # False: no fenced block, the raw text was graded


def extract_code(text: str, language: str = "python") -> tuple[str, bool]:
    """The answer's code: the longest fenced block tagged with the language (the last one on a
    tie), else the longest untagged block, else the raw text. An unterminated fence (a
    truncated answer) counts up to the end. Returns (code, found_a_fence)."""
    names = _ALIASES.get(language, {language})
    tagged, untagged = [], []
    for match in _FENCE.finditer(text or ""):
        tag = match.group(1).lower()
        if tag in names:
            tagged.append(match.group(2))
        elif not tag:
            untagged.append(match.group(2))
    for blocks in (tagged, untagged):
        if blocks:
            # max() keeps the first of equal lengths; reversed() makes that the last one.
            return max(reversed(blocks), key=len).strip("\n") + "\n", True
    # Strip blank lines only: a bare function body keeps its indentation.
    return (text or "").strip("\n").rstrip() + "\n", False


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def assemble(spec: GradingSpec, code: str) -> str:
    """The program the sandbox runs before the tests."""
    program = code
    if spec.prefix:
        if spec.entry_point and not _defines(code, spec.entry_point):
            # A bare function body: it continues the prompt's signature and docstring.
            program = spec.prefix + code
        else:
            program = spec.prefix + "\n\n" + code
    if spec.setup_code:
        program = program + "\n\n" + spec.setup_code + "\n"
    return program


def exec_request(spec: GradingSpec, code: str) -> ExecRequest:
    return ExecRequest(
        code=assemble(spec, code),
        language=spec.language,
        tests=list(spec.tests),
        test_file=spec.test_file,
        io_cases=list(spec.io_cases),
        timeout_s=spec.timeout_s,
    )


async def grade(sandbox: Sandbox, spec: GradingSpec, answer: str) -> tuple[str, Grade]:
    """Grade one answer. Returns (extracted code, grade). A sandbox failure is reported as
    ``grader_error`` (not passed) rather than raised, so one broken run cannot stop a
    benchmark; the report lists these under run health."""
    code, found = extract_code(answer, spec.language)
    try:
        result = await sandbox.run(exec_request(spec, code))
    except Exception as exc:  # noqa: BLE001 - any sandbox failure is a grader error
        return code, Grade(
            passed=False, status="grader_error", message=f"{type(exc).__name__}: {exc}"[:500],
            code_found=found,
        )
    failing = next((t.message for t in result.tests if not t.passed and t.message), "")
    message = failing or (result.stderr[-500:] if result.status != Status.PASSED else "")
    # Belt and braces: a pass must have run tests, all of them passing, whenever the spec has
    # tests (an answer that ends the process early must never read as a pass).
    has_tests = bool(spec.tests or spec.test_file or spec.io_cases)
    ran_all = result.tests_run > 0 and result.tests_passed == result.tests_run
    return code, Grade(
        passed=result.status == Status.PASSED and (ran_all or not has_tests),
        status=result.status.value,
        tests_run=result.tests_run,
        tests_passed=result.tests_passed,
        error_type=result.error_type,
        message=message[:500],
        duration_ms=result.duration_ms,
        code_found=found,
    )
