"""One asyncio lock per key, for "one at a time per member" (or per job, per button...) within a process.

These locks order the coroutines of one process. What must hold across processes sharing a store (the
queue, quotas, a double click reaching two processes) takes the store's locks (``bot.store.locks``), which
put these in front of the database's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """A table of locks by key: a key's lock is made on first use and dropped when nobody holds or awaits it.

    ``async with locks.hold(key) as held:`` waits for the key's lock. With ``wait_s`` it waits at most that
    long (0: not at all) and then runs the block without it: ``held.acquired`` says which happened.
    """

    def __init__(self) -> None:
        self._table: dict[K, tuple[asyncio.Lock, int]] = {}

    def hold(self, key: K, *, wait_s: float | None = None) -> Held[K]:
        """The key's lock, for an ``async with`` block."""
        return Held(self, key, wait_s)

    def __len__(self) -> int:
        """How many keys have a lock that is held or awaited."""
        return len(self._table)

    def _enter(self, key: K) -> asyncio.Lock:
        lock, users = self._table.get(key) or (asyncio.Lock(), 0)
        self._table[key] = (lock, users + 1)
        return lock

    def _leave(self, key: K) -> None:
        lock, users = self._table[key]
        if users <= 1:
            del self._table[key]
        else:
            self._table[key] = (lock, users - 1)


class Held(Generic[K]):
    """One ``async with`` on one key of a ``KeyedLocks``; ``acquired`` is False if the wait ran out."""

    def __init__(self, locks: KeyedLocks[K], key: K, wait_s: float | None) -> None:
        self._locks = locks
        self._key = key
        self._wait_s = wait_s
        self._lock: asyncio.Lock | None = None
        self.acquired = False

    async def __aenter__(self) -> Held[K]:
        lock = self._lock = self._locks._enter(self._key)
        try:
            if self._wait_s is None:
                await lock.acquire()
            elif self._wait_s <= 0:
                if lock.locked():
                    return self
                await lock.acquire()
            else:
                async with asyncio.timeout(self._wait_s):
                    await lock.acquire()
        except TimeoutError:
            return self
        except BaseException:
            self._release()
            raise
        self.acquired = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release()

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        if self.acquired:
            lock.release()
            self.acquired = False
        self._locks._leave(self._key)
