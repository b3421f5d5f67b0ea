"""The fair slot in front of the embedded model: round-robin across requests, bounded, and
cancellation-safe. Pure asyncio, no model: the order of admission is what is under test."""

from __future__ import annotations

import asyncio

import pytest

from proxy.backends.scheduling import FairSlot, request_key
from proxy.errors import Overloaded


async def _waiter(slot: FairSlot, key: str, name: str, order: list[str]) -> None:
    request_key.set(key)
    await slot.acquire()
    order.append(name)


async def test_a_plain_request_waits_for_one_pipeline_generation_not_all():
    slot = FairSlot(max_waiting=8)
    await slot.acquire()  # a pipeline generation in progress
    order: list[str] = []
    # The pipeline queues two more generations before a plain request arrives.
    tasks = [asyncio.ensure_future(_waiter(slot, "pipeline", n, order)) for n in ("p2", "p3")]
    await asyncio.sleep(0)
    tasks.append(asyncio.ensure_future(_waiter(slot, "plain", "plain", order)))
    await asyncio.sleep(0)
    for _ in range(3):
        slot.release()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["p2", "plain", "p3"]


async def test_full_queue_is_refused_at_once():
    slot = FairSlot(max_waiting=1)
    await slot.acquire()
    first = asyncio.ensure_future(slot.acquire())
    await asyncio.sleep(0)
    with pytest.raises(Overloaded):
        await slot.acquire()
    slot.release()
    await first
    slot.release()
    assert not slot.busy and slot.waiting == 0


async def test_a_cancelled_waiter_gives_up_its_place():
    slot = FairSlot(max_waiting=4)
    await slot.acquire()
    gone = asyncio.ensure_future(slot.acquire())
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert slot.waiting == 0
    slot.release()
    assert not slot.busy
