"""Which isolation layers this host can give, probed once, and how to launch a worker slot's
zygote inside them.

Layers (see docs/sandbox.md for what each protects):
  bwrap:   user+net+pid+ipc+uts namespaces, a read-only view of /usr and /etc only (the
           project tree, /home, /root, host /tmp are not there), private size-capped tmpfs
           for the work dir and /tmp, no capabilities, no_new_privs, no nested userns.
  unshare: user+net+pid namespaces only (the file system is the host's, guarded by uid).
  none:    no namespaces; still a dedicated uid when root, rlimits and session kill.
Every backend gets the rlimits, the per-run session, fresh work dir and clean environment,
which the zygote applies itself (python_runner.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .config import SandboxConfig

log = logging.getLogger("atlas.sandbox")

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
BWRAP_WORK_ROOT = "/sandbox"
_SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ALL_LAYERS = (
    "fresh_workdir", "clean_env", "session_kill", "orphan_kill", "rlimits", "nproc_limit",
    "dedicated_uid", "no_new_privs", "user_namespace", "network_namespace", "pid_namespace",
    "readonly_fs", "private_tmp",
)


@dataclass
class IsolationPlan:
    backend: str  # "bwrap" | "unshare" | "none"
    python: str
    root: bool
    layers: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    visible_prefixes: tuple[str, ...] | None = None  # None: the whole host fs is visible

    @property
    def missing(self) -> list[str]:
        return [k for k in _ALL_LAYERS if not self.layers.get(k)]

    def work_root(self, host_dir: str | None) -> str:
        return BWRAP_WORK_ROOT if self.backend == "bwrap" else str(host_dir)

    def needs_host_dir(self) -> bool:
        return self.backend != "bwrap"

    def zygote_argv(self, source: str, zcfg: str, cfg: SandboxConfig) -> list[str]:
        py = [self.python, "-I", "-c", source, zcfg]
        if self.backend == "bwrap":
            return bwrap_prefix(cfg.scratch_mb, self.python) + py
        if self.backend == "unshare":
            return unshare_prefix() + py
        return py

    def health(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "layers": dict(self.layers),
            "missing": self.missing,
            "notes": list(self.notes),
            "python": self.python,
        }


_BWRAP_HELP: str | None = None


def _bwrap_supports(flag: str) -> bool:
    """Older bubblewraps (e.g. 0.6 on Ubuntu 22.04) lack --size and --disable-userns; use
    what this one has rather than failing over to a weaker backend."""
    global _BWRAP_HELP
    if _BWRAP_HELP is None:
        try:
            p = subprocess.run([shutil.which("bwrap") or "bwrap", "--help"], capture_output=True, timeout=10)
            _BWRAP_HELP = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        except (OSError, subprocess.SubprocessError):
            _BWRAP_HELP = ""
    return flag in _BWRAP_HELP


def bwrap_prefix(scratch_mb: int, python: str) -> list[str]:
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user"]
    if _bwrap_supports("--disable-userns"):
        argv.append("--disable-userns")  # no nested user namespaces: less kernel to attack
    argv += ["--die-with-parent", "--new-session", "--as-pid-1"]
    for d in _visible_dirs(python):
        if os.path.islink(d):  # merged-/usr hosts: /bin -> usr/bin etc.
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += ["--ro-bind", d, d]
    argv += [
        "--proc", "/proc",
        # bwrap's /dev is an uncapped tmpfs the run's uid owns: make it read-only (the
        # device nodes bound into it stay usable)
        "--dev", "/dev", "--remount-ro", "/dev",
        # the only writable place: one size-capped tmpfs holding the work dir and /tmp
        *(["--size", str(max(16, scratch_mb) << 20)] if _bwrap_supports("--size") else []),
        "--tmpfs", BWRAP_WORK_ROOT,
        "--symlink", BWRAP_WORK_ROOT + "/tmp", "/tmp",
        "--chdir", BWRAP_WORK_ROOT, "--clearenv",
        "--setenv", "PATH", SANDBOX_PATH, "--setenv", "HOME", BWRAP_WORK_ROOT,
        "--setenv", "LANG", "C.UTF-8",
        "--remount-ro", "/",  # the new root is a tmpfs too: no writing next to /usr
        "--",
    ]
    return argv


def _visible_dirs(python: str) -> list[str]:
    dirs = [d for d in _SYSTEM_DIRS if os.path.lexists(d)]
    # An interpreter outside /usr (e.g. /opt/python) must be visible too, but only its prefix.
    real = os.path.realpath(python)
    if not any(real.startswith(d + "/") for d in dirs):
        dirs.append(str(Path(real).parent.parent))
    return dirs


def unshare_prefix() -> list[str]:
    return [
        shutil.which("unshare") or "unshare",
        "--user", "--map-current-user", "--net", "--pid", "--fork",
        "--kill-child", "--mount", "--mount-proc",
    ]


def clean_env(home: str) -> dict[str, str]:
    """The whole environment a run sees: nothing of the parent's leaks (no keys, tokens)."""
    return {
        "PATH": SANDBOX_PATH,
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "sandbox",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _candidate_pythons(cfg: SandboxConfig) -> list[str]:
    cands = [cfg.python] if cfg.python else []
    cands += ["/usr/bin/python3", "/usr/local/bin/python3"]
    for p in (shutil.which("python3"), sys.executable, getattr(sys, "_base_executable", None)):
        if p:
            cands.append(p)
    seen: list[str] = []
    for c in cands:
        if c and c not in seen and os.path.exists(c):
            seen.append(c)
    return seen


def claim_uid(base: int) -> tuple[int, int]:
    """A uid no other sandbox on this host uses right now, as (uid, lock fd): hold the fd
    as long as the uid is in use. Two sandboxes sharing a uid would share RLIMIT_NPROC
    counts and, without a pid namespace, kill each other's runs."""
    for d in ("/run/atlas-sandbox", os.path.join(tempfile.gettempdir(), "atlas-sandbox-uids")):
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            break
        except OSError:
            continue
    for uid in range(base, base + 4096):
        fd = os.open(os.path.join(d, f"uid-{uid}.lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return uid, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError(f"sandbox: no free uid in [{base}, {base + 4096})")


def _try(argv: list[str], uid: int | None) -> tuple[bool, str]:
    kw: dict = {}
    if uid is not None:
        kw = {"user": uid, "group": uid, "extra_groups": []}
    try:
        p = subprocess.run(argv, capture_output=True, timeout=20, env={"PATH": SANDBOX_PATH},
                           stdin=subprocess.DEVNULL, cwd="/", **kw)
    except (OSError, subprocess.SubprocessError) as e:
        return False, str(e)
    return p.returncode == 0 and b"ok" in p.stdout, p.stderr.decode(errors="replace")[-300:]


_PROBE = "import os,sys; sys.stdout.write('ok %d' % os.getuid())"


def probe(cfg: SandboxConfig) -> IsolationPlan:
    """Try the backends in order of strength, with the interpreters we could use, exactly as
    a worker slot will be launched (same uid), and keep the first that works."""
    root = os.geteuid() == 0
    uid, lock = claim_uid(cfg.uid_base) if root else (None, -1)
    try:
        return _probe(cfg, root, uid)
    finally:
        if lock >= 0:
            os.close(lock)


def _probe(cfg: SandboxConfig, root: bool, uid: int | None) -> IsolationPlan:
    order = ["bwrap", "unshare", "none"] if cfg.isolation == "auto" else [cfg.isolation]
    notes: list[str] = []
    for backend in order:
        if backend != "none" and not shutil.which(backend):
            notes.append(f"{backend}: not installed")
            continue
        for py in _candidate_pythons(cfg):
            cmd = [py, "-I", "-c", _PROBE]
            if backend == "bwrap":
                cmd = bwrap_prefix(cfg.scratch_mb, py) + cmd
            elif backend == "unshare":
                cmd = unshare_prefix() + cmd
            ok, err = _try(cmd, uid)
            if ok:
                return _plan(backend, py, root, notes, cfg)
            notes.append(f"{backend} with {py}: {err.strip() or 'failed'}")
    raise RuntimeError("sandbox: no usable Python interpreter / backend: " + "; ".join(notes))


def _plan(backend: str, py: str, root: bool, notes: list[str], cfg: SandboxConfig) -> IsolationPlan:
    ns = backend in ("bwrap", "unshare")
    layers = {
        "fresh_workdir": True,
        "clean_env": True,
        "session_kill": True,
        # kill(-1) from pid 1 of the namespace, or from the only process of a dedicated uid
        "orphan_kill": ns or root,
        "rlimits": True,
        # RLIMIT_NPROC counts per uid (per user namespace): useless for a shared uid
        "nproc_limit": ns or root,
        "dedicated_uid": root,
        "no_new_privs": True,
        "user_namespace": ns,
        "network_namespace": ns,
        "pid_namespace": ns,
        "readonly_fs": backend == "bwrap",
        "private_tmp": backend == "bwrap",
    }
    vis = tuple(_visible_dirs(py)) if backend == "bwrap" else None
    plan = IsolationPlan(backend, py, root, layers, list(notes), vis)
    if not root:
        plan.notes.append("not root: runs share this user's uid (no dedicated uid)")
    if backend == "bwrap" and not _bwrap_supports("--size"):
        plan.notes.append("bwrap without --size: the scratch tmpfs is not size-capped")
        layers["private_tmp"] = False
    if plan.missing:
        log.warning("sandbox isolation degraded: backend=%s missing=%s%s", backend,
                    ",".join(plan.missing), " (refusing to run: require_isolation)"
                    if cfg.require_isolation else "")
    else:
        log.info("sandbox isolation: backend=%s, all layers active", backend)
    return plan


def prepare_host_dir(path: str, uid: int | None) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    if uid is not None:
        os.chown(path, uid, uid)
        os.chmod(path, 0o700)


def kill_uid(uid: int) -> None:
    """Last-resort cleanup when a zygote without a pid namespace died: every process of the
    slot's dedicated uid goes (kill -1 as that uid cannot reach anything else)."""
    try:
        subprocess.run(["kill", "-9", "-1"], user=uid, group=uid, extra_groups=[], timeout=10,
                       env={"PATH": SANDBOX_PATH}, capture_output=True)
    except (OSError, subprocess.SubprocessError):
        pass
