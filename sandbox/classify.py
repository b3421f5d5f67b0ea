"""Turn what the steps did (exit, signal, kill reason, report records, output) into one
ExecResult. Kept apart from the runner so the status rules read in one place:

  timeout / memory_limit / output_limit  a limit hit, whatever the tests said so far (tests
                                          that never ran count as failed)
  error    the tests could not be judged: syntax error, exception or exit while loading the
           code, crash by signal, nonzero exit with no tests
  failed   the tests ran and at least one failed
  passed   every test passed, or no tests and exit 0
"""

from __future__ import annotations

import re
import signal
import time

from .languages import error_type_from_stderr
from .types import ExecRequest, ExecResult, Limits, Status, TestOutcome
from .worker import StepResult

_RESOURCE = (Status.TIMEOUT, Status.MEMORY_LIMIT, Status.OUTPUT_LIMIT)


def _kind(message: str) -> str:
    head = message.split(":", 1)[0].strip()
    return head if re.fullmatch(r"[A-Za-z_][\w.]*", head) else "TestFailed"


def fail(status: Status, error_type: str, t0: float, message: str = "") -> ExecResult:
    return ExecResult(status=status, error_type=error_type, stderr=message,
                      duration_ms=(time.monotonic() - t0) * 1000)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"SIG{sig}"


def _has(r: StepResult, t: str) -> dict | None:
    return next((rec for rec in r.records if rec.get("t") == t), None)


def limit_hit(r: StepResult, lim: Limits, oom: tuple[str, ...]) -> tuple[Status, str] | None:
    """A resource status, or a crash of the sandbox itself; None if the step ended by itself."""
    if r.internal_error:
        return Status.ERROR, "SandboxError"
    if r.killed == "timeout":
        return Status.TIMEOUT, "Timeout"
    if r.killed == "output":
        return Status.OUTPUT_LIMIT, "OutputLimit"
    if r.signal == signal.SIGXCPU or (r.signal == signal.SIGKILL and r.cpu_s >= lim.cpu_s - 0.05):
        return Status.TIMEOUT, "CPUTimeLimit"
    if r.signal == signal.SIGXFSZ or _has(r, "filesize"):
        return Status.OUTPUT_LIMIT, "FileSizeLimit"
    err = _has(r, "error")
    if _has(r, "memory") or (err and err.get("type") == "MemoryError"):
        return Status.MEMORY_LIMIT, "MemoryError"
    if (r.signal is not None or r.exit_code) and oom:
        tail = r.stderr[-4096:].decode(errors="replace")
        if any(p in tail for p in oom):
            return Status.MEMORY_LIMIT, "MemoryError"
    return None


def _exit(r: StepResult) -> int | None:
    return -r.signal if r.signal is not None else r.exit_code


def _main_part(req: ExecRequest, r: StepResult, lim: Limits, oom) -> tuple[Status, str | None, list[TestOutcome]]:
    has_tests = bool(req.tests) or req.test_file is not None
    plan = _has(r, "plan")
    done = _has(r, "done")
    err = _has(r, "error")
    outcomes: list[TestOutcome] = []
    if plan is not None:
        names = plan.get("names") or []
        n = len(names) if names else int(plan.get("n", 0))
        default = [t.strip()[:200] for t in req.tests] + (["test_file"] if req.test_file is not None else [])
        names = names or default + [""] * max(0, n - len(default))
        seen: dict[int, dict] = {}
        for rec in r.records:
            if rec.get("t") == "test" and isinstance(rec.get("i"), int) and rec["i"] not in seen:
                seen[rec["i"]] = rec
        why = "timeout" if r.killed == "timeout" else f"process ended (exit {_exit(r)})"
        for i in range(n):
            rec = seen.get(i)
            if rec is None:
                outcomes.append(TestOutcome(i, False, names[i], f"not run: {why}"))
            else:
                outcomes.append(TestOutcome(i, bool(rec.get("ok")), names[i], str(rec.get("msg") or "")))
    hit = limit_hit(r, lim, oom)
    if hit is not None:
        return hit[0], hit[1], outcomes
    if err is not None:
        return Status.ERROR, str(err.get("type") or "Error"), []
    if r.signal is not None and plan is None:  # crashed before its tests could run
        return Status.ERROR, _signame(r.signal), []
    if r.signal is not None and done is None:  # crashed inside a test: the rest count failed
        return Status.FAILED, _signame(r.signal), outcomes
    stderr_type = error_type_from_stderr(r.stderr[-8192:].decode(errors="replace"))
    if not has_tests:
        if r.exit_code == 0:
            return Status.PASSED, None, []
        kind = "SystemExit" if done is not None else (stderr_type or "NonZeroExit")
        return Status.ERROR, kind, []
    if plan is None:  # exited (sys.exit / os._exit / crash) before the tests could run
        return Status.ERROR, stderr_type or "EarlyExit", []
    if done is None:
        return Status.FAILED, "EarlyExit", outcomes
    bad = next((o for o in outcomes if not o.passed), None)
    if bad is None:
        return Status.PASSED, None, outcomes
    return Status.FAILED, _kind(bad.message), outcomes


def _norm(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.rstrip().splitlines())


def _io_part(req: ExecRequest, io: list[StepResult], lim: Limits, oom, base: int):
    outcomes: list[TestOutcome] = []
    status: tuple[Status, str] | None = None
    for n, case in enumerate(req.io_cases):
        name = case.name or f"io case {n}"
        if n >= len(io):
            outcomes.append(TestOutcome(base + n, False, name, "not run: timeout"))
            status = status or (Status.TIMEOUT, "Timeout")
            continue
        r = io[n]
        hit = limit_hit(r, lim, oom)
        err = _has(r, "error")
        out = r.stdout.decode(errors="replace")
        if hit is not None:
            msg = hit[1]
            status = status or hit
        elif err is not None:
            msg = str(err.get("msg") or err.get("type"))
            if n == 0 and err.get("type") == "SyntaxError":
                status = status or (Status.ERROR, "SyntaxError")
        elif r.signal is not None or r.exit_code != 0:
            et = error_type_from_stderr(r.stderr[-8192:].decode(errors="replace"))
            msg = et or (f"killed by {_signame(r.signal)}" if r.signal else f"exit status {r.exit_code}")
        elif _norm(out) != _norm(case.expected_stdout):
            msg = "WrongAnswer: expected %r, got %r" % (case.expected_stdout[:100], out[:100])
        else:
            msg = ""
        outcomes.append(TestOutcome(base + n, not msg, name, msg))
    return status, outcomes


def build_result(req: ExecRequest, main: StepResult | None, io: list[StepResult], lim: Limits,
                 t0: float, oom: tuple[str, ...]) -> ExecResult:
    steps = ([main] if main is not None else []) + io
    tests: list[TestOutcome] = []
    status, et = Status.PASSED, None
    if main is not None:
        status, et, tests = _main_part(req, main, lim, oom)
    if req.io_cases and status in (Status.PASSED, Status.FAILED):
        io_status, io_tests = _io_part(req, io, lim, oom, len(tests))
        tests += io_tests
        if io_status is not None:
            status, et = io_status
        elif any(not t.passed for t in tests):
            bad = next(t for t in tests if not t.passed)
            status, et = Status.FAILED, et or _kind(bad.message)
        else:
            status, et = Status.PASSED, None
    # Show the run that explains the verdict: the tests' run, else the first failing case.
    shown = main
    if shown is None and io:
        io_tests = tests[len(tests) - len(req.io_cases):]
        bad = [n for n, t in enumerate(io_tests) if not t.passed and n < len(io)]
        shown = io[bad[0]] if bad else io[-1]
    peaks = [s.maxrss_kb for s in steps if s.maxrss_kb is not None]
    return ExecResult(
        status=status,
        tests_run=len(tests),
        tests_passed=sum(t.passed for t in tests),
        tests=tests,
        stdout=shown.stdout.decode(errors="replace") if shown else "",
        stderr=(shown.stderr.decode(errors="replace") or (shown.internal_error or "")) if shown else "",
        truncated=any(s.truncated for s in steps),
        exit_code=_exit(shown) if shown else None,
        error_type=et,
        duration_ms=(time.monotonic() - t0) * 1000,
        peak_memory_kb=max(peaks) if peaks else None,
    )
