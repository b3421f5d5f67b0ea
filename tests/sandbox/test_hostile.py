"""Hostile programs. Each asserts the exact classified outcome, a bounded wall time, and a
clean host afterwards (no process of the run left, work dir and /tmp wiped).

Wall bounds are generous (the machine may be busy compiling or serving a model); they
prove "bounded", not "fast".
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid

import pytest

from sandbox import Limits, Status

from .sbx_helpers import CANARY, PROJECT_ROOT, assert_clean, layer, py

pytestmark = pytest.mark.asyncio(loop_scope="session")

SLACK_S = 15.0  # on top of the run's own timeout


async def timed(sb, req):
    t = time.monotonic()
    r = await sb.run(req)
    took = time.monotonic() - t
    assert took < req.timeout_s + SLACK_S, f"took {took:.1f}s"
    return r, took


async def test_fork_bomb(sb):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    r, _ = await timed(sb, py(code, timeout_s=3))
    assert r.status == Status.TIMEOUT and r.error_type == "Timeout"
    await assert_clean(sb)


async def test_shell_fork_bomb(sb):
    if "bash" not in await sb.languages():
        pytest.skip("bash not installed")
    from sandbox import ExecRequest

    # the classic bomb, then wait for it for good: contained by RLIMIT_NPROC, killed at the end
    r, _ = await timed(sb, ExecRequest(language="bash", code=":(){ :|:& };:\nsleep 1000", timeout_s=3))
    assert r.status == Status.TIMEOUT and r.error_type == "Timeout"
    await assert_clean(sb)


async def test_ten_gb_allocation(sb):
    r, _ = await timed(sb, py("x = bytearray(10 * 1024 ** 3)\nprint('allocated')"))
    assert r.status == Status.MEMORY_LIMIT and r.error_type == "MemoryError"
    assert "allocated" not in r.stdout
    await assert_clean(sb)


async def test_gradual_allocation(sb):
    r, _ = await timed(sb, py("xs = []\nwhile True:\n    xs.append(bytearray(16 * 1024 * 1024))"))
    assert r.status == Status.MEMORY_LIMIT and r.error_type == "MemoryError"
    assert r.peak_memory_kb is not None and r.peak_memory_kb <= 600 * 1024
    await assert_clean(sb)


async def test_infinite_loop(sb):
    r, took = await timed(sb, py("while True:\n    pass", timeout_s=2))
    assert r.status == Status.TIMEOUT and r.error_type == "Timeout" and took >= 2
    await assert_clean(sb)


async def test_cpu_seconds_limit(sb):
    # wall timeout far away: the kernel's RLIMIT_CPU stops it first
    r, _ = await timed(sb, py("while True:\n    pass", timeout_s=30, limits=Limits(cpu_s=1)))
    assert r.status == Status.TIMEOUT and r.error_type == "CPUTimeLimit"
    await assert_clean(sb)


async def test_sleep_forever(sb):
    r, took = await timed(sb, py("import time\ntime.sleep(10 ** 6)", timeout_s=2))
    assert r.status == Status.TIMEOUT and r.error_type == "Timeout" and took < 2 + SLACK_S
    await assert_clean(sb)


async def test_one_gb_to_stdout(sb):
    code = "import sys\nb = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(b)\n"
    r, _ = await timed(sb, py(code, timeout_s=30))
    assert r.status == Status.OUTPUT_LIMIT and r.error_type == "OutputLimit" and r.truncated
    assert 0 < len(r.stdout) + len(r.stderr) <= Limits().max_output_bytes
    await assert_clean(sb)


async def test_stderr_flood_counts_too(sb):
    code = "import os\nwhile True:\n    os.write(2, b'e' * 65536)\n"
    r, _ = await timed(sb, py(code, timeout_s=30, limits=Limits(max_output_bytes=10_000)))
    assert r.status == Status.OUTPUT_LIMIT and r.truncated and len(r.stderr) <= 10_000
    await assert_clean(sb)


async def test_write_into_project_tree(sb):
    target = PROJECT_ROOT / f"PWNED-{uuid.uuid4().hex}"
    r, _ = await timed(sb, py(f"open({str(target)!r}, 'w').write('owned')"))
    assert r.status == Status.ERROR
    assert r.error_type in ({"FileNotFoundError"} if layer(sb, "readonly_fs") else {"PermissionError"})
    assert not target.exists()
    await assert_clean(sb)


async def test_write_to_etc(sb):
    r, _ = await timed(sb, py("open('/etc/atlas-pwned', 'w').write('owned')"))
    assert r.status == Status.ERROR
    # read-only bind: EROFS (OSError); without it the unprivileged uid gets EACCES
    assert r.error_type in ({"OSError"} if layer(sb, "readonly_fs") else {"PermissionError"})
    assert not os.path.exists("/etc/atlas-pwned")
    r, _ = await timed(sb, py("open('/etc/passwd', 'a').write('x::0:0::/:/bin/sh\\n')"))
    assert r.status == Status.ERROR and "x::0:0" not in open("/etc/passwd").read()
    await assert_clean(sb)


async def test_canary_secret_does_not_leak(sb):
    code = (
        "import os, glob\n"
        "print(dict(os.environ))\n"
        "for p in ['/proc/self/environ', '/proc/1/environ', '/proc/%d/environ' % " + str(os.getpid()) + "]:\n"
        "    try:\n        print(open(p, 'rb').read())\n"
        "    except OSError as e:\n        print(p, type(e).__name__)\n"
        "for p in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n        print(open(p, 'rb').read())\n"
        "    except OSError:\n        pass\n"
    )
    r, _ = await timed(sb, py(code))
    assert r.status == Status.PASSED, r.stderr
    assert CANARY not in r.stdout and "OPENAI_API_KEY" not in r.stdout
    await assert_clean(sb)


async def test_no_network_to_host_listener(sb):
    if not layer(sb, "network_namespace"):
        pytest.skip("network namespace layer inactive on this host: a run could connect")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    port = srv.getsockname()[1]
    try:
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('connected')"
        r, _ = await timed(sb, py(code))
        assert r.status == Status.ERROR
        assert r.error_type in ("ConnectionRefusedError", "OSError")  # bwrap: lo up; unshare: lo down
        with pytest.raises(BlockingIOError):
            srv.accept()
    finally:
        srv.close()
    await assert_clean(sb)


async def test_daemonised_child_does_not_outlive_the_run(sb):
    marker = f"/tmp/atlas-daemon-{uuid.uuid4().hex}"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.closerange(0, 3)\n"
        f"        time.sleep(3)\n        open({marker!r}, 'w').write('alive')\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    r, took = await timed(sb, py(code, timeout_s=10))
    assert r.status == Status.PASSED and r.stdout == "parent done\n" and took < 10
    await assert_clean(sb)  # checked right away: the daemon is already gone
    await asyncio.sleep(3.5)
    assert not os.path.exists(marker)


async def test_killing_the_parent(sb):
    code = ("import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\n"
            "time.sleep(0.3)\nprint('survived')\n")
    r, _ = await timed(sb, py(code))
    if layer(sb, "pid_namespace"):
        # the zygote is pid 1 of the namespace: the kernel drops the signal
        assert r.status == Status.PASSED and r.stdout == "survived\n"
    else:
        assert r.status == Status.ERROR and r.error_type == "SandboxError"
    again = await sb.run(py("print('still serving')"))
    assert again.status == Status.PASSED
    await assert_clean(sb)


async def test_killing_every_process_it_can(sb):
    r, _ = await timed(sb, py("import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('x')"))
    assert r.status == Status.ERROR
    if layer(sb, "pid_namespace"):
        # nothing in its namespace it may signal: not itself, not pid 1 (the zygote)
        assert r.error_type == "ProcessLookupError"
    else:  # same uid as its zygote, which dies; the worker is restarted
        assert r.error_type == "SandboxError"
    assert (await sb.run(py("print('still serving')"))).status == Status.PASSED
    await assert_clean(sb)


async def test_deep_recursion(sb):
    r, _ = await timed(sb, py("def f(n):\n    return f(n + 1)\nf(0)"))
    assert r.status == Status.ERROR and r.error_type == "RecursionError"
    # limit lifted and recursion through C: the C stack overflows -> SIGSEGV, no core dump
    code = "import sys\nsys.setrecursionlimit(10 ** 8)\nl = []\nfor _ in range(10 ** 6):\n    l = [l]\nrepr(l)\n"
    r, _ = await timed(sb, py(code, timeout_s=10))
    assert r.status == Status.ERROR and r.error_type == "SIGSEGV" and r.exit_code == -11
    await assert_clean(sb)


async def test_huge_file(sb):
    code = "f = open('big.bin', 'wb')\nwhile True:\n    f.write(b'x' * (1 << 20))\n"
    r, _ = await timed(sb, py(code, timeout_s=20))
    assert r.status == Status.OUTPUT_LIMIT and r.error_type == "FileSizeLimit"
    await assert_clean(sb)


async def test_many_files_fill_scratch_space(sb):
    # each file under RLIMIT_FSIZE, together beyond the work dir's size cap
    code = ("i = 0\nwhile True:\n    open('f%d' % i, 'wb').write(b'x' * (15 << 20))\n    i += 1\n")
    r, _ = await timed(sb, py(code, timeout_s=30))
    if layer(sb, "private_tmp"):
        assert r.status == Status.OUTPUT_LIMIT and r.error_type == "FileSizeLimit"
    else:
        pytest.skip("no size-capped tmpfs on this host: a run can fill the host's disk")
    await assert_clean(sb)


async def test_thousands_of_threads(sb):
    code = ("import threading, time\n"
            "ts = [threading.Thread(target=time.sleep, args=(5,)) for _ in range(5000)]\n"
            "for t in ts:\n    t.start()\nprint('all started')\n")
    r, _ = await timed(sb, py(code, timeout_s=10))
    assert r.status == Status.ERROR and r.error_type == "RuntimeError"  # can't start new thread
    assert "all started" not in r.stdout
    await assert_clean(sb)


async def test_syntax_error(sb):
    r, _ = await timed(sb, py("def f(:\n    pass", tests=["assert f() is None"]))
    assert r.status == Status.ERROR and r.error_type == "SyntaxError" and r.tests_run == 0
    await assert_clean(sb)


async def test_non_utf8_output(sb):
    code = "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\x80 end\\n')\nsys.stderr.buffer.write(b'\\xc3\\x28')\n"
    r, _ = await timed(sb, py(code))
    assert r.status == Status.PASSED
    assert r.stdout == "ok \ufffd\ufffd\ufffd end\n" and "\ufffd" in r.stderr
    await assert_clean(sb)


async def test_chmod_000_does_not_block_cleanup(sb):
    code = "import os\nos.makedirs('a/b')\nopen('a/b/f', 'w').write('x')\nos.chmod('a/b', 0)\nos.chmod('a', 0)\n"
    r, _ = await timed(sb, py(code))
    assert r.status == Status.PASSED
    await assert_clean(sb)


async def test_sandbox_still_healthy_after_the_suite(sb):
    h = await sb.health()
    r = await sb.run(py("print(1 + 1)"))
    assert r.status == Status.PASSED and r.stdout == "2\n"
    assert h["status"] in ("ok", "degraded")
