"""Host side of one worker slot: starts its zygote inside the isolation backend, hands it
one step at a time, enforces the wall clock and the output cap, and restarts it if a run
manages to take it down.

Per step the host passes the zygote five fds over the control socket: the request (a memfd,
so code size is not bound by the socket buffer), the report memfd, stdin (a memfd: no pipe
to feed, no deadlock), and the write ends of the stdout/stderr pipes, which are read here
with a byte cap.
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import python_runner, zygote
from .config import SandboxConfig
from .isolation import IsolationPlan, claim_uid, clean_env, kill_uid, prepare_host_dir

log = logging.getLogger("atlas.sandbox")
# One source for ``python3 -I -c``: the harness first, then the zygote that uses it.
RUNNER_SOURCE = Path(python_runner.__file__).read_text() + "\n" + Path(zygote.__file__).read_text()
KILL_GRACE_S = 5.0  # after "kill", how long the zygote gets to confirm before it is shot


@dataclass
class StepResult:
    exit_code: int | None = None
    signal: int | None = None
    killed: str | None = None  # "timeout" | "output" | "crash"
    stdout: bytes = b""
    stderr: bytes = b""
    truncated: bool = False
    records: list[dict] = field(default_factory=list)
    maxrss_kb: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    internal_error: str | None = None


class _Collector:
    """Reads stdout and stderr without blocking the loop; keeps at most ``cap`` bytes in
    total and flags the overflow so the caller can kill the run (a 1 GB print stops at the
    cap, it is never buffered)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fds: list[int], cap: int):
        self.loop, self.cap, self.total = loop, cap, 0
        self.bufs = {fd: bytearray() for fd in fds}
        self.overflow: asyncio.Future = loop.create_future()
        self.eof = {fd: loop.create_future() for fd in fds}
        for fd in fds:
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._on_read, fd)

    def _on_read(self, fd: int) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(fd)
            return
        room = self.cap - self.total
        if room > 0:
            self.bufs[fd] += data[:room]
        self.total += len(data)
        if self.total > self.cap and not self.overflow.done():
            self.overflow.set_result(None)

    def _close(self, fd: int) -> None:
        if not self.eof[fd].done():
            self.loop.remove_reader(fd)
            os.close(fd)
            self.eof[fd].set_result(None)

    @property
    def overflowed(self) -> bool:
        return self.overflow.done()

    async def finish(self, grace: float) -> None:
        # Every writer is dead once the zygote reports (it kills the whole sandbox first), so
        # EOF is immediate; the grace only guards against a bug leaving a writer behind.
        try:
            await asyncio.wait_for(asyncio.gather(*self.eof.values()), grace)
        except TimeoutError:
            for fd in list(self.eof):
                self._close(fd)


class ZygoteWorker:
    def __init__(self, slot: int, plan: IsolationPlan, cfg: SandboxConfig):
        self.slot, self.plan, self.cfg = slot, plan, cfg
        self.uid: int | None = None  # claimed on first start, kept across restarts
        self._uid_lock = -1
        self.proc: asyncio.subprocess.Process | None = None
        self.sock: socket.socket | None = None
        self.host_dir: str | None = None
        self.workdir = ""
        self._seq = 0
        self._started_seq = -1  # the zygote acknowledged forking run #seq
        self._stderr_tail: collections.deque[bytes] = collections.deque(maxlen=32)
        self.restarts = 0

    # ------------------------------------------------------------------ lifecycle
    async def ensure_started(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            return
        await self._cleanup()
        if self.plan.root and self.uid is None:
            self.uid, self._uid_lock = claim_uid(self.cfg.uid_base)
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if child.fileno() < 3:  # a host started with closed stdio: keep clear of fds 0-2
            low = child.detach()
            child = socket.socket(fileno=fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, 10))
            os.close(low)
        if self.plan.needs_host_dir():
            self.host_dir = tempfile.mkdtemp(prefix=f"atlas-sbx-{self.slot}-")
            prepare_host_dir(self.host_dir, self.uid)
        work_root = self.plan.work_root(self.host_dir)
        self.workdir = os.path.join(work_root, "run")
        zcfg = json.dumps({
            "control_fd": child.fileno(),
            "work_root": work_root,
            # bwrap: the whole tmpfs is this slot's scratch, /tmp included (a symlink into it)
            "scratch": [work_root] if self.plan.backend == "bwrap" else [],
            "dirs": [os.path.join(work_root, "tmp")] if self.plan.backend == "bwrap" else [],
            "dedicated_uid": self.uid is not None,
        })
        kw: dict = {}
        if self.uid is not None:
            kw = {"user": self.uid, "group": self.uid, "extra_groups": []}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.plan.zygote_argv(RUNNER_SOURCE, zcfg, self.cfg),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, env=clean_env(work_root), cwd="/",
                pass_fds=(child.fileno(),), start_new_session=True, **kw,
            )
        finally:
            child.close()
        parent.setblocking(False)
        self.sock = parent
        asyncio.ensure_future(self._drain_stderr(self.proc))
        try:
            msg = await asyncio.wait_for(loop.sock_recv(parent, 65536), 30)
        except TimeoutError:
            msg = b""
        if not msg:
            await self._crash()
            raise RuntimeError(f"sandbox worker {self.slot} failed to start: " + self.stderr_tail())

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            self._stderr_tail.append(line[:500])

    def stderr_tail(self) -> str:
        return b"".join(self._stderr_tail).decode(errors="replace")[-2000:]

    async def _crash(self) -> None:
        """Take the slot down hard: the bwrap/unshare monitor (its death kills the pid
        namespace), then, for a dedicated uid, anything of that uid still alive."""
        self.restarts += 1
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                log.error("sandbox worker %d did not die", self.slot)
        if self.uid is not None:
            await asyncio.to_thread(kill_uid, self.uid)
        await self._cleanup()

    async def _cleanup(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.proc = None
        if self.host_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self.host_dir, True)
            self.host_dir = None

    async def close(self) -> None:
        try:
            if self.proc is not None and self.proc.returncode is None:
                if self.sock is not None:
                    self.sock.close()  # EOF: the zygote kills its runs, wipes and exits
                    self.sock = None
                try:
                    await asyncio.wait_for(self.proc.wait(), 5)
                except TimeoutError:
                    await self._crash()
                if self.uid is not None and self.plan.backend == "none":
                    await asyncio.to_thread(kill_uid, self.uid)
        finally:
            await self._cleanup()
            if self._uid_lock >= 0:
                os.close(self._uid_lock)
                self._uid_lock, self.uid = -1, None

    # ---------------------------------------------------------------------- steps
    def wipe(self) -> None:
        """Empty the work dir now (a request that stopped early left it for a next step)."""
        if self.sock is not None:
            try:
                self.sock.send(b'{"op":"wipe"}')
            except OSError:
                pass

    async def execute(self, req: dict, stdin: bytes, timeout_s: float, max_output: int) -> StepResult:
        for attempt in range(2):
            await self.ensure_started()
            self._started_seq = -1
            res = await self._execute_once(req, stdin, timeout_s, max_output)
            if not res.internal_error or self._started_seq == self._seq or attempt == 1:
                return res
            # The zygote was gone before this run began (killed while idle): not the run's
            # doing, so it gets a fresh zygote instead of an error.
            log.warning("sandbox worker %d was dead before the run started; retrying", self.slot)
        return res

    async def _execute_once(self, req: dict, stdin: bytes, timeout_s: float, max_output: int) -> StepResult:
        assert self.sock is not None
        loop = asyncio.get_running_loop()
        self._seq += 1
        seq = self._seq
        req = dict(req, timeout_s=timeout_s)
        req_fd = _memfd("atlas-req", json.dumps(req).encode())
        rep_fd = _memfd("atlas-rep", b"")
        if req.get("kind") == "python":
            os.ftruncate(rep_fd, python_runner.REPORT_SIZE)
        in_fd = _memfd("atlas-stdin", stdin)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            socket.send_fds(self.sock, [json.dumps({"op": "run", "id": seq}).encode()],
                            [req_fd, rep_fd, in_fd, out_w, err_w])
            sent = True
        except OSError:
            sent = False
        finally:
            for fd in (req_fd, in_fd, out_w, err_w):
                os.close(fd)
        col = _Collector(loop, [out_r, err_r], max_output)
        res = StepResult()
        try:
            if not sent:
                res.killed, res.internal_error = "crash", "sandbox worker is gone"
                await self._crash()
                return res
            reply = await self._await_reply(seq, col, timeout_s, res)
            await col.finish(2.0)
            res.stdout, res.stderr = bytes(col.bufs[out_r]), bytes(col.bufs[err_r])
            res.truncated = col.overflowed
            if col.overflowed and res.killed is None:
                res.killed = "output"  # exceeded the cap even if it then exited by itself
            if reply is None:
                res.killed = res.killed or "crash"
                res.internal_error = "sandbox worker died: " + self.stderr_tail()[-300:]
                return res
            if "spawn_error" in reply:
                res.internal_error = str(reply["spawn_error"])
                return res
            res.exit_code, res.signal = reply.get("exit_code"), reply.get("signal")
            res.maxrss_kb, res.cpu_s = reply.get("maxrss_kb"), float(reply.get("cpu_s", 0.0))
            res.wall_s = float(reply.get("wall_s", 0.0))
            res.records = _read_report(rep_fd, req.get("kind") == "python")
            return res
        finally:
            await col.finish(0.5)
            os.close(rep_fd)

    async def _await_reply(self, seq: int, col: _Collector, timeout_s: float, res: StepResult) -> dict | None:
        reply_task = asyncio.ensure_future(self._recv_reply(seq))
        done, _ = await asyncio.wait([reply_task, col.overflow], timeout=timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if reply_task in done:
            return reply_task.result()
        res.killed = "output" if col.overflowed else "timeout"
        try:
            assert self.sock is not None
            self.sock.send(b'{"op":"kill"}')
            return await asyncio.wait_for(reply_task, KILL_GRACE_S)
        except (TimeoutError, OSError):
            reply_task.cancel()
            log.warning("sandbox worker %d unresponsive after kill; restarting it", self.slot)
            await self._crash()
            return {"op": "done", "id": seq, "signal": signal.SIGKILL}

    async def _recv_reply(self, seq: int) -> dict | None:
        loop = asyncio.get_running_loop()
        while True:
            if self.sock is None:
                return None
            try:
                data = await loop.sock_recv(self.sock, 65536)
            except OSError:
                data = b""
            if not data:
                await self._crash()
                return None
            try:
                msg = json.loads(data)
            except ValueError:
                continue
            if msg.get("op") == "started" and msg.get("id") == seq:
                self._started_seq = seq
            elif msg.get("op") == "done" and msg.get("id") == seq:
                self._started_seq = seq
                return msg


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_report(fd: int, python: bool) -> list[dict]:
    if python:
        hdr = os.pread(fd, 8, 0)
        end = min(int.from_bytes(hdr, "little"), python_runner.REPORT_SIZE) if len(hdr) == 8 else 0
        raw = os.pread(fd, max(0, end - 8), 8) if end > 8 else b""
    else:
        size = min(os.fstat(fd).st_size, python_runner.REPORT_SIZE)
        raw = os.pread(fd, size, 0)
    out: list[dict] = []
    for line in raw.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # junk from the program itself; the harness's own lines still parse
        if isinstance(obj, dict):
            out.append(obj)
    return out
