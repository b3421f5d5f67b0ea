"""The process that lives *inside* the sandbox: a pre-forked runner ("zygote").

Why a zygote: starting an interpreter (and, with bubblewrap, a set of namespaces) costs
more than most candidate programs take to run. One zygote per worker slot is started once,
inside the namespaces and as the slot's unprivileged uid; each run is a fork of it, so a run
costs a fork, not an exec of python + bwrap. The fork gets its own session, fresh rlimits and
a fresh work dir; after the run every other process in the sandbox is killed (the zygote is
pid 1 of its pid namespace, or a subreaper running as a dedicated uid), so nothing a run
starts can outlive it.

Stdlib only: python_runner.py (the harness) and this file are sent as one source to the
sandbox's interpreter with ``python3 -I -c``; the host package is not visible in there.

Protocol (SOCK_SEQPACKET control socket, one JSON message per packet):
  host -> zygote  {"op":"run","id":N}  + fds [request memfd, report memfd, stdin, stdout, stderr]
  host -> zygote  {"op":"kill"}        abort the current run
  host -> zygote  {"op":"wipe"}        empty the work dir now (a request that stopped early)
  zygote -> host  {"op":"ready"} once, then per run {"op":"started","id":N} (forked: a
                  death before it is not the run's doing) and {"op":"done","id":N,...}
Exec'd programs append their report lines to fd 3 (the report memfd); the Python harness
writes through a shared mapping of it (python_runner.py).
"""

import json
import mmap
import os
import resource
import select
import signal
import socket
import stat
import sys
import time

if "Harness" not in globals():  # imported as a package module; in the sandbox it is one source
    from .python_runner import REPORT_SIZE, Harness
# Warm the modules candidate programs import most, so forks inherit them for free.
_PREIMPORT = (
    "math re collections itertools functools heapq bisect string typing random statistics "
    "fractions decimal operator copy json hashlib datetime io traceback dataclasses enum "
    "numbers array struct textwrap unicodedata"
).split()


def _libc_prctl(*args):
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(*args)
    except Exception:
        return -1


# ----------------------------------------------------------------------------- zygote


class Zygote:
    def __init__(self, cfg):
        self.cfg = cfg
        self.sock = socket.socket(fileno=cfg["control_fd"])
        self.work_root = cfg["work_root"]
        self.workdir = os.path.join(self.work_root, "run")
        self.scratch = cfg.get("scratch", [])  # private tmpfs (bwrap): emptied after each run
        self.dirs = [self.workdir] + cfg.get("dirs", [])  # recreated before each run
        self.pid1 = os.getpid() == 1

    def setup(self):
        # pid 1 of a pid namespace ignores signals from inside the namespace unless it has a
        # handler, so drop Python's SIGINT handler: a run must not be able to kill us.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        _libc_prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid escalation, ever
        _libc_prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE=0: runs (same uid) cannot ptrace us
        if not self.pid1:
            _libc_prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: daemons reparent to us
        for name in _PREIMPORT:
            try:
                __import__(name)
            except Exception:
                pass
        os.makedirs(self.work_root, exist_ok=True)

    def serve(self):
        self.setup()
        self.send({"op": "ready", "pid1": self.pid1, "uid": os.getuid()})
        while True:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 8)
            except OSError:
                break
            if not msg:
                break
            try:
                req = json.loads(msg)
            except ValueError:
                req = {}
            if req.get("op") == "run" and len(fds) == 5:
                try:
                    self.run(req, fds)
                except Exception as e:  # a zygote bug must cost one run, not the slot
                    self.kill_all()
                    self.send({"op": "done", "id": req.get("id"), "spawn_error": repr(e)})
            elif req.get("op") == "wipe":
                self.wipe()
            else:
                for fd in fds:
                    os.close(fd)  # a stale "kill" arriving after its run finished lands here
        self.kill_all()
        self.wipe()

    def send(self, obj):
        self.sock.send(json.dumps(obj).encode())

    def run(self, msg, fds):
        req_fd, rep_fd, in_fd, out_fd, err_fd = fds
        try:
            req = json.loads(_read_all(req_fd))
        except ValueError:
            req = None
        os.close(req_fd)
        if req is None:
            for fd in fds[1:]:
                os.close(fd)
            self.send({"op": "done", "id": msg.get("id"), "spawn_error": "bad request"})
            return
        if req.get("fresh", True):
            self.wipe()
        for d in self.dirs:
            os.makedirs(d, mode=0o700, exist_ok=True)
        try:
            for name, text in req.get("files", {}).items():
                with open(os.path.join(self.workdir, os.path.basename(name)), "w") as f:
                    f.write(text)
        except OSError as e:
            self.send({"op": "done", "id": msg.get("id"), "spawn_error": repr(e)})
            return
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                _child(req, self.workdir, rep_fd, in_fd, out_fd, err_fd)
            finally:
                os._exit(121)
        for fd in (rep_fd, in_fd, out_fd, err_fd):
            os.close(fd)
        self.send({"op": "started", "id": msg.get("id")})
        killed = self.wait(pid, t0 + float(req.get("timeout_s", 10)) + 2.0)
        try:
            _, status, ru = os.wait4(pid, 0)
        except ChildProcessError:  # cannot happen (nobody else reaps it); never die of it
            status, ru = 9, resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.monotonic() - t0
        self.kill_all()
        if req.get("wipe", True):
            self.wipe()
        out = {"op": "done", "id": msg.get("id"), "killed": killed, "wall_s": wall}
        out["maxrss_kb"] = ru.ru_maxrss
        out["cpu_s"] = ru.ru_utime + ru.ru_stime
        if os.WIFSIGNALED(status):
            out["signal"] = os.WTERMSIG(status)
        else:
            out["exit_code"] = os.WEXITSTATUS(status)
        self.send(out)

    def wait(self, pid, backstop):
        """Wait for the run's main process; honour "kill" from the host meanwhile. The host
        keeps the real wall clock; ``backstop`` only matters if the host stops talking."""
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        killed = None
        try:
            while True:
                rl = [self.sock] + ([pidfd] if pidfd is not None else [])
                tmo = 0.01 if pidfd is None else max(0.0, backstop - time.monotonic())
                r, _, _ = select.select(rl, [], [], tmo)
                if pidfd is None and os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    return killed
                if pidfd is not None and pidfd in r:
                    return killed
                if self.sock in r:
                    data = self.sock.recv(65536)
                    if not data:  # host is gone: take everything down with us
                        self.kill_all(pid)
                        killed = killed or "host_gone"
                    elif b'"kill"' in data:
                        self.kill_all(pid)
                        killed = killed or "host"
                elif time.monotonic() >= backstop and killed is None:
                    self.kill_all(pid)
                    killed = "backstop"
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def kill_all(self, pid=None):
        """SIGKILL every process of the run, however it tried to detach (setsid, double
        fork). As pid 1 of the namespace, or as the only other process of a dedicated uid,
        kill(-1) reaches exactly the run's processes and never the zygote itself."""
        if self.pid1 or self.cfg.get("dedicated_uid"):
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        elif pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)  # shared uid: only the run's own session
            except OSError:
                pass
        if pid is not None:
            return  # the caller reaps the main child first: it needs its status and rusage
        # Reap whatever was reparented to us (pid 1 / subreaper) until nothing is left.
        deadline = time.monotonic() + 5.0
        while True:
            try:
                got, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if got == 0:
                # Only a live process we could not kill (shared uid, other session) stays.
                if not self._has_children() or time.monotonic() > deadline:
                    return
                time.sleep(0.001)

    def _has_children(self):
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            return True
        except ChildProcessError:
            return False

    def wipe(self):
        _force_rmtree(self.workdir)
        for d in self.scratch:
            try:
                for name in os.listdir(d):
                    _force_rmtree(os.path.join(d, name))
            except OSError:
                pass


def _force_rmtree(path):
    # A run may chmod 000 its own dirs to make cleanup fail; we are the same uid, so undo it.
    try:
        st = os.lstat(path)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    try:
        names = os.listdir(path)
    except OSError:
        names = []
    for name in names:
        _force_rmtree(os.path.join(path, name))
    try:
        os.rmdir(path)
    except OSError:
        pass


def _read_all(fd):
    os.lseek(fd, 0, 0)
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


# ------------------------------------------------------------------------------ child


def _child(req, workdir, rep_fd, in_fd, out_fd, err_fd):
    os.setsid()
    for src, dst in ((in_fd, 0), (out_fd, 1), (err_fd, 2)):
        os.dup2(src, dst)
    kind = req.get("kind", "exec")
    if kind == "exec":
        os.dup2(rep_fd, 3)  # exec'd harnesses append report lines to fd 3
        os.closerange(4, 1 << 16)
    else:
        report = mmap.mmap(rep_fd, REPORT_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.closerange(3, 1 << 16)  # also drops the control socket: runs cannot talk to us
    os.chdir(workdir)
    lim = req.get("limits", {})
    _set_limits(lim, req.get("extra_procs", 1))
    env = req.get("env", {})
    if kind == "exec":
        # Python ignores SIGPIPE/SIGXFSZ; ignored dispositions survive exec, so reset them.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        argv = req["argv"]
        try:
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            os.write(2, ("exec failed: %s\n" % e).encode())
            os._exit(127)
    # Runs inherit the zygote's non-dumpable flag; give it back so a program can read its
    # own /proc/self (the zygote stays non-dumpable; RLIMIT_CORE=0 still stops core dumps).
    _libc_prctl(4, 1, 0, 0, 0)
    Harness(report, req, env, workdir).main()


def _set_limits(lim, extra_procs):
    def cap(res, soft, hard=None):
        try:
            resource.setrlimit(res, (soft, soft if hard is None else hard))
        except (ValueError, OSError):
            pass

    mb = 1 << 20
    cap(resource.RLIMIT_AS, int(lim.get("memory_mb", 512)) * mb)
    cpu = max(1, int(float(lim.get("cpu_s", 10)) + 0.999))
    cap(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU first, SIGKILL a second later
    if lim.get("nproc", True):
        cap(resource.RLIMIT_NPROC, int(lim.get("max_processes", 64)) + extra_procs)
    cap(resource.RLIMIT_FSIZE, int(lim.get("max_file_mb", 16)) * mb)
    cap(resource.RLIMIT_NOFILE, int(lim.get("max_open_files", 256)))
    cap(resource.RLIMIT_CORE, 0)


if __name__ == "__main__":
    Zygote(json.loads(sys.argv[1])).serve()
