"""A fair, bounded queue in front of a model that can only do one thing at a time.

Waiters are grouped by a key (the HTTP request they belong to, read from a context
variable); the slot goes round-robin across keys and FIFO within a key. A pipeline request
that queues many generations therefore cannot make a plain chat request wait for more than
the generation currently running, and a full queue is refused at once (503), never hung.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import OrderedDict, deque

from proxy.errors import Overloaded

# Set by the HTTP layer per request; everything the request spawns inherits it.
request_key: contextvars.ContextVar[str] = contextvars.ContextVar("request_key", default="")


class FairSlot:
    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._busy = False
        self._waiters: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def busy(self) -> bool:
        return self._busy

    def check_capacity(self) -> None:
        """Refuse now, before any response byte is sent, if a new waiter would not fit."""
        if self._busy and self._waiting >= self.max_waiting:
            raise Overloaded(
                f"The model is busy: {self._waiting} requests are already waiting. "
                "Retry shortly."
            )

    async def acquire(self) -> None:
        if not self._busy and not self._waiting:
            self._busy = True
            return
        self.check_capacity()
        key = request_key.get()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, deque()).append(future)
        self._waiting += 1
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # We were handed the slot just as we were cancelled: pass it on.
                self.release()
            else:
                self._remove(key, future)
            raise

    def _remove(self, key: str, future: asyncio.Future[None]) -> None:
        queue = self._waiters.get(key)
        if queue and future in queue:
            queue.remove(future)
            self._waiting -= 1
            if not queue:
                del self._waiters[key]

    def release(self) -> None:
        """Hand the slot to the next key in round-robin order, or mark it free."""
        while self._waiters:
            key, queue = next(iter(self._waiters.items()))
            future = queue.popleft()
            self._waiting -= 1
            del self._waiters[key]
            if queue:
                self._waiters[key] = queue  # back of the line for this key's next turn
            if not future.done():
                future.set_result(None)
                return
        self._busy = False
