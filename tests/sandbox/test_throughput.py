"""Throughput and fairness: a burst of 200 runs completes with bounded concurrency; the
queue is FIFO and bounded. (Speed itself is measured by benchmarks/sandbox.py, not here.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from sandbox import LocalSandbox, Status

from .sbx_helpers import _proc_table, assert_clean, make_cfg, py

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_burst_of_200_runs(sb):
    uids = {w.uid for w in sb.workers}
    peak = 0
    stop = asyncio.Event()

    async def sample():
        nonlocal peak
        while not stop.is_set():
            n = sum(1 for _, _, uid, st in _proc_table() if uid in uids and st != "Z")
            peak = max(peak, n)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    t = time.monotonic()
    results = await asyncio.gather(*(sb.run(py(f"print({i} * {i})", tests=[f"assert {i} * {i} == {i * i}"]))
                                     for i in range(200)))
    took = time.monotonic() - t
    stop.set()
    await sampler
    assert [r.status for r in results] == [Status.PASSED] * 200
    assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(200)]
    assert took < 120
    # per worker: its monitor, its zygote and the one run in flight; never 200 at once
    assert peak <= 3 * len(sb.workers), peak
    await assert_clean(sb)


async def test_queue_is_fifo_and_bounded():
    box = LocalSandbox(make_cfg(workers=1, queue_max=3, uid_base=62400))
    try:
        await box.start()
        done_order: list[int] = []

        async def one(i: int):
            r = await box.run(py("import time\ntime.sleep(0.2)\nprint('x')"))
            done_order.append(i)
            return r

        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(0)  # let each enqueue in submission order
        results = await asyncio.gather(*tasks)
        full = [i for i, r in enumerate(results) if r.error_type == "QueueFull"]
        assert full == [4, 5] and all(results[i].status == Status.ERROR for i in full)
        assert [i for i in done_order if i not in full] == [0, 1, 2, 3]
        assert all(results[i].status == Status.PASSED for i in range(4))
    finally:
        await box.aclose()
