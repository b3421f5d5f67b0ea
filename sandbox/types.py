"""Wire and API types of the sandbox: one request in, one result out.

The same structs travel in process (``sandbox.run``) and over HTTP (``POST /execute``),
so a proxy configured for a remote sandbox sees exactly what an in-process one returns.
"""

from __future__ import annotations

import enum
from typing import Protocol

import msgspec


class Status(str, enum.Enum):
    PASSED = "passed"  # ran to completion and every test passed (or no tests and exit 0)
    FAILED = "failed"  # ran, but at least one test failed
    ERROR = "error"  # could not run the tests at all: syntax error, crash at import, bad exit
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    UNSUPPORTED = "unsupported"  # language not available on this host, or isolation refused


class IOCase(msgspec.Struct, frozen=True):
    """A stdin -> expected stdout case (compared after stripping trailing whitespace)."""

    stdin: str
    expected_stdout: str
    name: str | None = None


class Limits(msgspec.Struct, frozen=True):
    memory_mb: int = 512
    cpu_s: float = 10.0
    max_processes: int = 64
    max_file_mb: int = 16
    max_open_files: int = 256
    max_output_bytes: int = 1_000_000


class ExecRequest(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    language: str = "python"
    # Python: assert lines, each counted on its own (one failing assert does not hide the
    # others). Other languages: a test program appended after the code.
    tests: list[str] = []
    # A whole test file run after the code (e.g. HumanEval's ``check`` function): counted
    # as one test unless it contains top-level asserts, which are then counted one by one.
    test_file: str | None = None
    # Python test_file only: when the file defines ``check`` but never calls it (HumanEval's
    # layout), the harness calls ``check(<entry_point>)``.
    entry_point: str | None = None
    io_cases: list[IOCase] = []
    stdin: str = ""
    timeout_s: float = 10.0
    limits: Limits = Limits()


class TestOutcome(msgspec.Struct, frozen=True):
    index: int
    passed: bool
    name: str = ""
    message: str = ""  # e.g. "AssertionError: assert f(2) == 4 (got 5)"


class ExecResult(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    tests_run: int = 0
    tests_passed: int = 0
    tests: list[TestOutcome] = []
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    exit_code: int | None = None
    error_type: str | None = None  # SyntaxError, AssertionError, NameError, Timeout, ...
    duration_ms: float = 0.0
    peak_memory_kb: int | None = None

    @property
    def pass_fraction(self) -> float:
        return self.tests_passed / self.tests_run if self.tests_run else 0.0


class Sandbox(Protocol):
    """The only door to code execution. Real implementations: in process, over HTTP."""

    async def run(self, request: ExecRequest) -> ExecResult: ...

    async def languages(self) -> list[str]: ...

    async def health(self) -> dict[str, object]: ...

    async def aclose(self) -> None: ...
