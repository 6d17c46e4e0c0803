"""Fair shares of a connection pool between tenants.

One pool serves every tenant. Left to itself it hands connections out first come, first served, so thirty
expensive searches of one tenant take every connection and the cheap calls of all other tenants wait
behind them until they time out (issue 12: every GET by id of the other tenants answered 503). The gate
in front of the pool changes two things:

- a tenant holds at most ``share`` of the pool's connections at once (the rest stay free for the others);
- when connections are scarce, a freed one goes to the waiting tenant that holds the fewest, not to the
  longest queue (among equals, to the one that has waited longest).

A gate belongs to one pool; a second pool (a read replica) gets a gate of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Hashable


def tenant_share(size: int) -> int:
    """How many of ``size`` connections one tenant may hold: three quarters, at least one; so a pool of
    ten keeps three for the other tenants however busy one of them is."""
    return max(1, size * 3 // 4)


class TenantGate:
    """``size`` slots handed out fairly between keys (tenant names; ``None`` for the module's own calls)."""

    def __init__(self, size: int, share: int | None = None) -> None:
        if size < 1:
            raise ValueError("a gate needs at least one slot")
        self.size = size
        self.share = min(size, share if share is not None else tenant_share(size))
        self._free = size
        self._held: dict[Hashable, int] = {}
        self._waiting: dict[Hashable, deque[asyncio.Future[None]]] = {}
        self._arrival = 0
        self._order: dict[asyncio.Future[None], int] = {}

    def held(self, key: Hashable) -> int:
        """How many slots ``key`` holds now."""
        return self._held.get(key, 0)

    @contextlib.asynccontextmanager
    async def slot(self, key: Hashable, timeout: float) -> AsyncIterator[None]:
        """Hold one slot for ``key`` for the block; TimeoutError when none is given within ``timeout``."""
        await self._enter(key, timeout)
        try:
            yield
        finally:
            self._leave(key)

    async def _enter(self, key: Hashable, timeout: float) -> None:
        if self._free > 0 and self.held(key) < self.share:
            self._grant(key)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(waiter)
        self._arrival += 1
        self._order[waiter] = self._arrival
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._leave(key)  # granted just as the wait ended: hand the slot on
            else:
                self._forget(key, waiter)
            raise
        finally:
            self._order.pop(waiter, None)

    def _grant(self, key: Hashable) -> None:
        self._free -= 1
        self._held[key] = self.held(key) + 1

    def _leave(self, key: Hashable) -> None:
        self._free += 1
        remaining = self.held(key) - 1
        if remaining:
            self._held[key] = remaining
        else:
            self._held.pop(key, None)
        self._dispatch()

    def _forget(self, key: Hashable, waiter: asyncio.Future[None]) -> None:
        queue = self._waiting.get(key)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
            if not queue:
                del self._waiting[key]

    def _dispatch(self) -> None:
        """Give free slots to waiting keys below their share: the one holding fewest first."""
        while self._free > 0:
            best: tuple[tuple[int, int], Hashable] | None = None
            for key, queue in list(self._waiting.items()):
                while queue and queue[0].done():  # cancelled, not yet forgotten by its task
                    queue.popleft()
                if not queue:
                    del self._waiting[key]
                    continue
                if self.held(key) < self.share:
                    rank = (self.held(key), self._order.get(queue[0], 0))
                    if best is None or rank < best[0]:
                        best = (rank, key)
            if best is None:
                return
            key = best[1]
            queue = self._waiting[key]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[key]
            self._grant(key)
            waiter.set_result(None)
