"""LocalSandbox: the in-process implementation of the Sandbox protocol.

A request becomes one or more steps (compile, run, one run per stdin case) on one worker
slot; slots are handed out first come, first served from a FIFO, at most ``workers`` at a
time, with at most ``queue_max`` requests waiting. A request that finds the queue full gets
``status=error, error_type="QueueFull"`` immediately (a result, not an exception, so a burst
degrades into scored failures instead of crashing the caller's pipeline).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from . import languages
from .classify import build_result, fail
from .config import SandboxConfig
from .isolation import IsolationPlan, clean_env, probe
from .types import ExecRequest, ExecResult, Limits, Status
from .worker import StepResult, ZygoteWorker

log = logging.getLogger("atlas.sandbox")


class LocalSandbox:
    def __init__(self, cfg: SandboxConfig | None = None):
        self.cfg = cfg or SandboxConfig()
        self.plan: IsolationPlan | None = None
        self.langs: dict[str, languages.Language] = {}
        self.workers: list[ZygoteWorker] = []
        self._free: asyncio.Queue[ZygoteWorker] | None = None
        self._waiting = 0
        self._start_lock: asyncio.Lock | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._free is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._free is not None:
                return
            self._loop = asyncio.get_running_loop()
            # Probing runs real sandboxes (subprocesses): keep it off the event loop.
            self.plan = await asyncio.to_thread(probe, self.cfg)
            self.langs = languages.detect(self.plan.visible_prefixes)
            n = self.cfg.workers if self.cfg.workers > 0 else (os.cpu_count() or 1)
            self.workers = [ZygoteWorker(i, self.plan, self.cfg) for i in range(n)]
            free: asyncio.Queue[ZygoteWorker] = asyncio.Queue()
            for w in self.workers:
                free.put_nowait(w)
            self._free = free
            log.info("sandbox ready: %d workers, languages=%s", n, ",".join(self.langs))

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.gather(*(w.close() for w in self.workers), return_exceptions=True)

    async def languages(self) -> list[str]:
        await self.start()
        return sorted(self.langs)

    async def health(self) -> dict[str, object]:
        await self.start()
        assert self.plan is not None and self._free is not None
        h = self.plan.health()
        refusing = self.cfg.require_isolation and bool(self.plan.missing)
        h.update({
            "status": "refusing" if refusing else ("degraded" if self.plan.missing else "ok"),
            "require_isolation": self.cfg.require_isolation,
            "workers": len(self.workers),
            "busy": len(self.workers) - self._free.qsize(),
            "queued": self._waiting,
            "queue_max": self.cfg.queue_max,
            "languages": sorted(self.langs),
            "worker_restarts": sum(w.restarts for w in self.workers),
        })
        return h

    # ------------------------------------------------------------------------ run
    async def run(self, request: ExecRequest) -> ExecResult:
        t0 = time.monotonic()
        await self.start()
        assert self.plan is not None and self._free is not None
        if asyncio.get_running_loop() is not self._loop:
            # its queue, subprocesses and sockets belong to the loop it started on
            return fail(Status.ERROR, "SandboxError", t0,
                        "LocalSandbox used from another event loop than the one it started on")
        lang = languages.resolve(request.language)
        if lang is None or lang.name not in self.langs:
            return fail(Status.UNSUPPORTED, "UnsupportedLanguage", t0,
                        f"language {request.language!r} is not available on this host; "
                        f"available: {', '.join(sorted(self.langs))}")
        if self.cfg.require_isolation and self.plan.missing:
            return fail(Status.UNSUPPORTED, "IsolationUnavailable", t0,
                        "refusing to run: isolation layers missing: " + ", ".join(self.plan.missing))
        if self._closed:
            return fail(Status.ERROR, "SandboxClosed", t0, "sandbox is closed")
        if self._waiting >= self.cfg.queue_max:
            return fail(Status.ERROR, "QueueFull", t0, "sandbox queue is full")
        self._waiting += 1
        try:
            worker = await self._free.get()
        finally:
            self._waiting -= 1
        try:
            return await self._run_on(worker, lang, request, t0)
        except Exception as e:  # a sandbox fault must not look like a candidate's failure
            log.exception("sandbox internal error")
            return fail(Status.ERROR, "SandboxError", t0, f"internal sandbox error: {e}")
        finally:
            self._free.put_nowait(worker)

    def _limits(self, req: ExecRequest) -> tuple[Limits, float]:
        lim = req.limits
        mem = max(16, min(lim.memory_mb, self.cfg.memory_mb))
        timeout = req.timeout_s if req.timeout_s > 0 else self.cfg.default_timeout_s
        timeout = min(timeout, self.cfg.max_timeout_s)
        cpu = max(0.1, min(lim.cpu_s, self.cfg.max_timeout_s))
        return Limits(memory_mb=mem, cpu_s=cpu, max_processes=max(1, lim.max_processes),
                      max_file_mb=max(0, lim.max_file_mb), max_open_files=max(16, lim.max_open_files),
                      max_output_bytes=max(0, lim.max_output_bytes)), timeout

    def _step_req(self, w: ZygoteWorker, st: languages.Step, lim: Limits, fresh: bool, wipe: bool) -> dict:
        assert self.plan is not None
        limits = {
            "memory_mb": st.memory_mb or lim.memory_mb, "cpu_s": lim.cpu_s,
            "max_processes": lim.max_processes, "max_file_mb": lim.max_file_mb,
            "max_open_files": lim.max_open_files, "nproc": self.plan.layers["nproc_limit"],
        }
        if st.compile:
            limits["cpu_s"] = self.cfg.compile_timeout_s
            limits["max_file_mb"] = max(lim.max_file_mb, 64)
        return {
            "kind": st.kind, "argv": st.argv, "files": st.files, "env": clean_env(w.workdir),
            "limits": limits, "fresh": fresh, "wipe": wipe, "extra_procs": 1,
            "code": st.code, "tests": st.tests, "test_file": st.test_file, "entry_point": st.entry_point,
        }

    async def _run_on(self, w: ZygoteWorker, lang: languages.Language, req: ExecRequest, t0: float) -> ExecResult:
        lim, timeout = self._limits(req)
        await w.ensure_started()
        deadline = time.monotonic() + timeout
        has_tests = bool(req.tests) or req.test_file is not None
        cmb = self.cfg.compile_memory_mb
        # Plan: [compile] + one run with the tests (unless there are only stdin cases) +
        # one run per stdin case, all in the same work dir, wiped after the last.
        steps = lang.steps(req, True, cmb, lim.memory_mb)
        build, test_step = steps[:-1], steps[-1]
        io_step = lang.steps(req, False, cmb, lim.memory_mb)[-1]
        runs: list[tuple[languages.Step, bytes]] = []
        if has_tests or not req.io_cases:
            runs.append((test_step, req.stdin.encode()))
        runs += [(io_step, c.stdin.encode()) for c in req.io_cases]
        total, k = len(build) + len(runs), 0
        main: StepResult | None = None
        io: list[StepResult] = []
        try:
            for st in build:
                r = await w.execute(self._step_req(w, st, lim, k == 0, k == total - 1), b"",
                                    self.cfg.compile_timeout_s, lim.max_output_bytes)
                k += 1
                if r.killed or r.signal or r.exit_code != 0 or r.internal_error:
                    return _compile_failure(r, t0)
            for st, stdin in runs:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r = await w.execute(self._step_req(w, st, lim, k == 0, k == total - 1), stdin,
                                    left, lim.max_output_bytes)
                k += 1
                if st is test_step and main is None and (has_tests or not req.io_cases):
                    main = r
                    if r.killed or r.internal_error:
                        break
                    continue
                io.append(r)
                if r.killed or r.internal_error or _is_compile_error(r):
                    break
        finally:
            if k < total:  # stopped early: the last step ran with wipe=False
                w.wipe()
        return build_result(req, main, io, lim, t0, lang.oom_patterns)

def _is_compile_error(r: StepResult) -> bool:
    return any(rec.get("t") == "error" and rec.get("type") == "SyntaxError" for rec in r.records)


def _compile_failure(r: StepResult, t0: float) -> ExecResult:
    if r.killed == "timeout" or r.signal in (signal.SIGXCPU,):
        st, et = Status.TIMEOUT, "CompileTimeout"
    elif r.internal_error:
        st, et = Status.ERROR, "SandboxError"
    else:
        st, et = Status.ERROR, "CompileError"
    return ExecResult(
        status=st, error_type=et, stdout=r.stdout.decode(errors="replace"),
        stderr=r.stderr.decode(errors="replace") or (r.internal_error or ""),
        truncated=r.truncated, exit_code=r.exit_code if r.signal is None else -r.signal,
        duration_ms=(time.monotonic() - t0) * 1000, peak_memory_kb=r.maxrss_kb,
    )
