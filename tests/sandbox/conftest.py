"""Fixtures for the sandbox suite.

One LocalSandbox (auto backend: bubblewrap here) is shared by the whole session on one event
loop, so the hostile programs also prove that the sandbox keeps serving after each of them.
"""

from __future__ import annotations

import pytest_asyncio

from sandbox import LocalSandbox

from .sbx_helpers import _foreign_processes, make_cfg


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sb():
    box = LocalSandbox(make_cfg())
    await box.start()
    yield box
    uids = {w.uid for w in box.workers if w.uid is not None}
    await box.aclose()
    assert not _foreign_processes(box, closed_uids=uids), "processes left after aclose()"
