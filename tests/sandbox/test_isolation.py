"""Each isolation layer, observed from inside a run; the degraded backends; refusing to run
when a layer is missing and the config says so."""

from __future__ import annotations

import ast
import os

import pytest

from sandbox import Limits, LocalSandbox, Status
from sandbox.isolation import claim_uid

from .sbx_helpers import CANARY, assert_clean, layer, make_cfg, py

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_health_reports_layers(sb):
    h = await sb.health()
    assert h["backend"] in ("bwrap", "unshare", "none")
    assert set(h["layers"]) >= {"rlimits", "network_namespace", "readonly_fs", "dedicated_uid", "pid_namespace"}
    assert h["missing"] == [k for k, v in h["layers"].items() if not v]
    assert h["status"] == ("ok" if not h["missing"] else "degraded")
    print("\nactive isolation layers:", sorted(k for k, v in h["layers"].items() if v),
          "| missing:", h["missing"] or "none", "| backend:", h["backend"])


async def test_clean_environment(sb):
    r = await sb.run(py("import os\nprint(dict(os.environ))"))
    env = ast.literal_eval(r.stdout)
    assert CANARY not in r.stdout
    allowed = {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "USER", "PYTHONDONTWRITEBYTECODE", "PWD", "LC_CTYPE"}
    assert set(env) <= allowed
    assert env["HOME"] == env["TMPDIR"]


async def test_fresh_workdir_and_home_per_run(sb):
    code = ("import os\nprint(os.getcwd() == os.environ['HOME'], sorted(os.listdir('.')))\n"
            "open('left-behind.txt', 'w').write('x')\nos.makedirs(os.path.expanduser('~/.cache/x'))\n")
    for _ in range(4):  # both workers, twice each
        r = await sb.run(py(code))
        assert r.status == Status.PASSED and r.stdout == "True ['main.py']\n", r.stderr
    await assert_clean(sb)


async def test_limits_applied_by_the_kernel(sb):
    code = ("import resource as r\n"
            "res = (r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_FSIZE, r.RLIMIT_NOFILE, r.RLIMIT_CORE)\n"
            "print([r.getrlimit(x)[0] for x in res])")
    r = await sb.run(py(code, limits=Limits(memory_mb=256, cpu_s=3, max_file_mb=2, max_open_files=64)))
    assert r.stdout.strip() == str([256 << 20, 3, 2 << 20, 64, 0])


async def test_too_many_open_files(sb):
    r = await sb.run(py("fs = [open('/dev/null') for _ in range(10000)]", limits=Limits(max_open_files=64)))
    assert r.status == Status.ERROR and r.error_type == "OSError" and "Too many open files" in r.stderr


async def test_unprivileged_uid_no_capabilities(sb):
    code = ("import os\nst = open('/proc/self/status').read()\n"
            "print(os.getuid(), os.geteuid(), [l for l in st.splitlines() if l.startswith(('CapEff', 'NoNewPrivs'))])")
    r = await sb.run(py(code))
    uid, euid, lines = r.stdout.split(" ", 2)
    assert int(uid) != 0 and int(euid) != 0
    assert "CapEff:\\t0000000000000000" in lines
    assert "NoNewPrivs:\\t1" in lines
    if layer(sb, "dedicated_uid"):
        assert int(uid) in {w.uid for w in sb.workers}


async def test_read_only_view(sb):
    if not layer(sb, "readonly_fs"):
        pytest.skip("read-only file system view inactive on this host (no bubblewrap)")
    code = ("import os\nprint(sorted(os.listdir('/')))\n"
            "print(os.path.exists(%r), os.path.exists('/root'), os.path.exists('/home'))\n" % str(os.getcwd()))
    r = await sb.run(py(code))
    top, hidden = r.stdout.splitlines()
    assert set(ast.literal_eval(top)) <= {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
                                          "proc", "dev", "tmp", "sandbox", "opt"}
    assert hidden == "False False False"  # the project tree, /root and /home are not there
    for path in ("/usr/lib/x", "/x", "/dev/x", "/dev/shm/x"):  # only the capped tmpfs is writable
        r = await sb.run(py(f"open({path!r}, 'w')"))
        assert r.status == Status.ERROR and r.error_type in ("OSError", "PermissionError"), path


async def test_private_tmp(sb):
    if not layer(sb, "private_tmp"):
        pytest.skip("private /tmp inactive on this host")
    r = await sb.run(py("import os\nprint(os.listdir('/tmp'))\nopen('/tmp/mine', 'w').write('x')"))
    assert r.stdout == "[]\n" and not os.path.exists("/tmp/mine")
    r = await sb.run(py("import os\nprint(os.listdir('/tmp'))"))
    assert r.stdout == "[]\n"


async def test_uid_claims_are_exclusive():
    a, fa = claim_uid(64000)
    b, fb = claim_uid(64000)
    assert a != b
    os.close(fa)
    c, fc = claim_uid(64000)
    assert c == a
    os.close(fb)
    os.close(fc)


@pytest.mark.parametrize("backend", ["unshare", "none"])
async def test_degraded_backends_still_run_and_report(backend):
    box = LocalSandbox(make_cfg(isolation=backend, uid_base=62100, workers=1))
    try:
        h = await box.health()
        assert h["backend"] == backend and h["status"] == "degraded"
        assert "readonly_fs" in h["missing"]
        assert ("network_namespace" in h["missing"]) == (backend == "none")
        r = await box.run(py("def f(): return 1", tests=["assert f() == 1", "assert f() == 2"]))
        assert r.status == Status.FAILED and (r.tests_run, r.tests_passed) == (2, 1)
        daemon = "import os\nif os.fork() == 0:\n    os.setsid()\n    import time; time.sleep(60)\nprint('ok')"
        r = await box.run(py(daemon))
        assert r.status == Status.PASSED
        r = await box.run(py("while True: pass", timeout_s=1))
        assert r.status == Status.TIMEOUT
        r = await box.run(py("x = bytearray(10 * 1024 ** 3)"))
        assert r.status == Status.MEMORY_LIMIT
        await assert_clean(box)
        dirs = [w.host_dir for w in box.workers if w.host_dir]
        assert dirs
    finally:
        await box.aclose()
    assert not any(os.path.exists(d) for d in dirs)


async def test_require_isolation_refuses_when_degraded():
    box = LocalSandbox(make_cfg(isolation="none", require_isolation=True, uid_base=62200, workers=1))
    try:
        h = await box.health()
        assert h["status"] == "refusing"
        r = await box.run(py("print('should not run')"))
        assert r.status == Status.UNSUPPORTED and r.error_type == "IsolationUnavailable"
        assert "network_namespace" in r.stderr and r.stdout == ""
    finally:
        await box.aclose()


async def test_require_isolation_runs_when_complete(sb):
    if (await sb.health())["missing"]:
        pytest.skip("this host lacks an isolation layer")
    box = LocalSandbox(make_cfg(require_isolation=True, uid_base=62300, workers=1))
    try:
        assert (await box.run(py("print(1)"))).status == Status.PASSED
    finally:
        await box.aclose()


async def test_worker_recovers_when_its_zygote_dies_while_idle():
    import signal

    from .sbx_helpers import _proc_table

    box = LocalSandbox(make_cfg(workers=1, uid_base=62600))
    try:
        assert (await box.run(py("print(1)"))).status == Status.PASSED
        w = box.workers[0]
        assert w.proc is not None
        victims = [pid for pid, ppid, _, _ in _proc_table() if ppid == w.proc.pid] or [w.proc.pid]
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        for _ in range(3):
            r = await box.run(py("print(2)"))
            assert r.status == Status.PASSED and r.stdout == "2\n", r
        await assert_clean(box)
    finally:
        await box.aclose()
