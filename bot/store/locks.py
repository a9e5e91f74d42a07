"""Locks by name that hold across every process on the store: "one submit at a time per member", wherever the
member's commands land.

``async with store.locks.hold("member:1", "guild:2", wait_s=1.5) as held:`` holds every key named, or none of them
(``held.acquired`` is False) when the wait ran out; the block runs either way, and decides what to do without them.

Within a process, a table of asyncio locks orders the coroutines: cheap, and all that an SQLite store needs (its
file belongs to one process). On PostgreSQL each key is then also taken as a session-level advisory lock, on a
connection of the process's own beside the pool: a holder's block runs statements of its own and may talk to the
API for a while, and must not keep one of the pool's few connections from them (nor from anyone else).

That one connection serves every holder in the process, so the server is never asked to wait for a lock on it (a
statement waiting there would hold everyone up): ``pg_try_advisory_lock`` is polled until the wait runs out. The
asyncio layer comes first, so the process asks the server for a key only while none of its own coroutines holds
it (a session's advisory locks stack: the server would not keep two coroutines of one session apart). Statements
on that connection run to the end even when their caller is cancelled, and what they took is given back, so a
cancelled waiter leaves nothing held. If the connection is lost, the server releases its locks with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, TypeVar

import asyncpg

from bot.locks import KeyedLocks

from .connection import Database
from .errors import StoreError
from .postgres import PostgresDatabase

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The first pause between two tries of a taken advisory lock; it doubles up to ``POLL_MAX_S``.
POLL_S: Final = 0.01
POLL_MAX_S: Final = 0.1

_TRY: Final = "SELECT k, pg_try_advisory_lock(k) FROM unnest($1::bigint[]) AS k"
_UNLOCK: Final = "SELECT pg_advisory_unlock(k) FROM unnest($1::bigint[]) AS k"
_LOST: Final = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def lock_id(key: str) -> int:
    """The advisory lock number of a key: 8 bytes of its BLAKE2b hash as a signed bigint (the same in every process
    and every version, as Python's ``hash`` is not)."""
    digest = hashlib.blake2b(f"mjbot:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class StoreLocks:
    """Named locks that exclude across the processes sharing the store (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self._local: KeyedLocks[str] = KeyedLocks()
        self._advisory = AdvisoryLocks(db) if isinstance(db, PostgresDatabase) else None

    def hold(self, *keys: str, wait_s: float | None = None) -> HeldKeys:
        """Every key's lock, for an ``async with`` block: waits at most ``wait_s`` (None: as long as it takes, 0: not
        at all) and then runs the block without them, ``acquired`` False."""
        if not keys:
            raise ValueError("name at least one key to hold")
        return HeldKeys(self, tuple(sorted(set(keys))), wait_s)

    def __len__(self) -> int:
        """How many keys this process holds or awaits."""
        return len(self._local)

    async def close(self) -> None:
        """Close the locks' connection (the server releases what it held). Safe to call twice."""
        if self._advisory is not None:
            await self._advisory.close()


class HeldKeys:
    """One ``async with`` on some keys of a ``StoreLocks``; ``acquired`` is False if the wait ran out."""

    def __init__(self, locks: StoreLocks, keys: tuple[str, ...], wait_s: float | None) -> None:
        self._locks = locks
        self.keys = keys
        self._wait_s = wait_s
        self._stack: contextlib.AsyncExitStack | None = None
        self.acquired = False

    async def __aenter__(self) -> HeldKeys:
        loop = asyncio.get_running_loop()
        deadline = None if self._wait_s is None else loop.time() + max(0.0, self._wait_s)

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - loop.time())

        stack = contextlib.AsyncExitStack()
        try:
            for key in self.keys:  # in order: two holders of overlapping keys never wait on each other
                held = await stack.enter_async_context(self._locks._local.hold(key, wait_s=left()))
                if not held.acquired:
                    await stack.aclose()
                    return self
            advisory = self._locks._advisory
            if advisory is not None:
                taken = await advisory.take(tuple(lock_id(key) for key in self.keys), deadline)
                if taken is None:
                    await stack.aclose()
                    return self
                stack.push_async_callback(advisory.give_back, taken)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.acquired = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        self.acquired = False
        if stack is not None:
            await stack.aclose()


@dataclass(frozen=True, slots=True)
class Taken:
    """Advisory locks taken on one connection (which must be the one to unlock them)."""

    conn: Any
    ids: tuple[int, ...]


class AdvisoryLocks:
    """Session-level advisory locks on one connection of the process's own, opened on first use."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._conn: Any = None
        self._talk = asyncio.Lock()  # one statement at a time on the connection
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    async def take(self, ids: tuple[int, ...], deadline: float | None) -> Taken | None:
        """Take all of ``ids`` or none, trying until ``deadline`` (loop time; None: no end); None if it ran out."""
        loop = asyncio.get_running_loop()
        pause = POLL_S
        while True:
            attempt = self._spawn(self._try(ids))
            try:
                taken = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                # The statement goes on without this waiter: what it takes is given back once it answers.
                self._spawn(self._undo(attempt))
                raise
            if taken is not None:
                return taken
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return None
            await asyncio.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 2, POLL_MAX_S)

    async def give_back(self, taken: Taken) -> None:
        """Unlock what ``take`` took; the statement runs to the end even if the caller is cancelled meanwhile."""
        await asyncio.shield(self._spawn(self._unlock(taken)))

    async def close(self) -> None:
        """Let the statements under way end, then close the connection. Safe to call twice."""
        self._closed = True
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        async with self._talk:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                try:
                    await conn.close(timeout=5)
                except _LOST:
                    conn.terminate()

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _try(self, ids: tuple[int, ...]) -> Taken | None:
        async with self._talk:
            conn = await self._connection()
            try:
                rows = await conn.fetch(_TRY, list(ids))
                got = [row[0] for row in rows if row[1]]
                if len(got) == len(ids):
                    return Taken(conn, ids)
                if got:
                    await conn.execute(_UNLOCK, got)
            except _LOST as exc:
                self._drop()
                raise StoreError(f"cannot take a lock in the store at {self._db.location}: {exc}") from exc
            return None

    async def _undo(self, attempt: asyncio.Task[Taken | None]) -> None:
        await asyncio.wait([attempt])
        if not attempt.cancelled() and attempt.exception() is None and (taken := attempt.result()) is not None:
            await self._unlock(taken)

    async def _unlock(self, taken: Taken) -> None:
        async with self._talk:
            if taken.conn is not self._conn or taken.conn.is_closed():
                return  # that session ended, and the server released its locks
            try:
                await taken.conn.execute(_UNLOCK, list(taken.ids))
            except _LOST as exc:
                # Unsure whether they were released: ending the session releases them for certain.
                log.warning(
                    "could not release locks in the store at %s (%s); closing their connection", self._db.location, exc
                )
                self._drop()

    async def _connection(self) -> Any:
        if self._closed:
            raise StoreError(f"the store at {self._db.location} is closed")
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        if conn is not None:
            log.warning(
                "the connection of the store's locks at %s was lost; the locks held on it were released",
                self._db.location,
            )
        self._conn = await self._db.connect()
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
