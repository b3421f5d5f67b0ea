"""Per-run overhead and throughput of the sandbox against bare ``subprocess.run``.

    python benchmarks/sandbox.py [--n 100] [--burst 200] [--workers 0]

Both sides are measured in this one run, on this machine, with the same interpreter the
sandbox uses for Python (so the ratio is about the sandbox, not about which python):
  * latency: N sequential runs, mean and median per run, sandbox / bare ratio (target <= 1.3)
  * throughput: a burst of runs at full pool (sandbox: asyncio.gather over ``workers``
    slots; bare: a thread pool of the same size running subprocess.run), runs/second
for (a) a trivial program and (b) a test-heavy HumanEval solution (HumanEval/0 with its
``check`` run; the sandbox additionally counts each assert on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox import ExecRequest, LocalSandbox, SandboxConfig, Status
from sandbox.isolation import bwrap_prefix

TRIVIAL = "print(sum(range(100)))"

HUMANEVAL_0 = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True
    return False
'''
HUMANEVAL_0_TEST = '''METADATA = {'author': 'jt', 'dataset': 'test'}


def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.8) == False
    assert candidate([1.0, 2.0, 3.0, 4.0, 5.0, 2.0], 0.1) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False
'''


def bare(python: str, code: str, prefix: list[str] | None = None) -> float:
    t = time.perf_counter()
    p = subprocess.run((prefix or []) + [python, "-c", code], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return time.perf_counter() - t


async def measure(sb: LocalSandbox, python: str, label: str, req: ExecRequest, bare_code: str,
                  n: int, burst: int, workers: int) -> None:
    # Warm both sides (page cache, zygotes) so neither pays a one-off start in the numbers.
    for _ in range(3):
        bare(python, bare_code)
        assert (await sb.run(req)).status == Status.PASSED
    base = [bare(python, bare_code) for _ in range(n)]
    sand = []
    for _ in range(n):
        t = time.perf_counter()
        r = await sb.run(req)
        sand.append(time.perf_counter() - t)
        assert r.status == Status.PASSED, r
    b_mean, s_mean = statistics.mean(base), statistics.mean(sand)
    b_med, s_med = statistics.median(base), statistics.median(sand)

    with ThreadPoolExecutor(workers) as ex:
        t = time.perf_counter()
        list(ex.map(lambda _: bare(python, bare_code), range(burst)))
        b_rps = burst / (time.perf_counter() - t)
    t = time.perf_counter()
    results = await asyncio.gather(*(sb.run(req) for _ in range(burst)))
    s_rps = burst / (time.perf_counter() - t)
    ok = sum(r.status == Status.PASSED for r in results)

    print(f"\n== {label}")
    print(f"  latency  bare subprocess.run: mean {b_mean * 1000:7.2f} ms  median {b_med * 1000:7.2f} ms")
    print(f"  latency  sandbox            : mean {s_mean * 1000:7.2f} ms  median {s_med * 1000:7.2f} ms")
    print(f"  ratio sandbox/bare (mean)   : {s_mean / b_mean:.2f}x   (median {s_med / b_med:.2f}x; target <= 1.3x)")
    print(f"  throughput at {workers} workers: bare {b_rps:7.1f} runs/s   sandbox {s_rps:7.1f} runs/s"
          f"   ({ok}/{burst} passed)")
    if sb.plan is not None and sb.plan.backend == "bwrap" and label.startswith("trivial"):
        # What the zygote saves: the same namespaces set up per run, plus a fresh interpreter.
        pre = bwrap_prefix(sb.cfg.scratch_mb, python)
        per = [bare(python, bare_code, pre) for _ in range(n)]
        print(f"  (no zygote: bwrap + fresh python per run: mean {statistics.mean(per) * 1000:7.2f} ms"
              f" = {statistics.mean(per) / b_mean:.2f}x bare)")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100, help="sequential runs per side")
    ap.add_argument("--burst", type=int, default=200, help="runs in the throughput burst")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args()
    workers = args.workers or os.cpu_count() or 1
    sb = LocalSandbox(SandboxConfig(workers=workers))
    h = await sb.health()
    python = str(h["python"])
    print(f"host: {os.cpu_count()} cores, python for runs: {python}, backend: {h['backend']}, "
          f"missing layers: {h['missing'] or 'none'}, workers: {workers}")
    try:
        await measure(sb, python, "trivial program", ExecRequest(code=TRIVIAL), TRIVIAL,
                      args.n, args.burst, workers)
        he_req = ExecRequest(code=HUMANEVAL_0, test_file=HUMANEVAL_0_TEST, entry_point="has_close_elements")
        r = await sb.run(he_req)
        print(f"\n(HumanEval/0 through the sandbox: {r.tests_passed}/{r.tests_run} asserts counted one by one)")
        await measure(sb, python, "HumanEval/0 solution + check (7 asserts)", he_req,
                      HUMANEVAL_0 + "\n" + HUMANEVAL_0_TEST + "\ncheck(has_close_elements)\n",
                      args.n, args.burst, workers)
    finally:
        await sb.aclose()


if __name__ == "__main__":
    asyncio.run(main())
