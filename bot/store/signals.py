"""Signals between processes that share a PostgreSQL store (``NOTIFY``/``LISTEN``).

A signal is a hint that saves a wait, never the only way something happens: a process that misses one
(its listening connection dropped, or it started a moment later) still learns the same from the store
on its next tick. On SQLite, whose store one process holds, there is nobody to signal.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .connection import Database
from .postgres import PostgresDatabase

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class SignalRepository:
    """Send a short text on a channel to every process listening there, and listen."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def send(self, channel: str, payload: str) -> None:
        """Tell every process listening on ``channel`` (this one too)."""
        if isinstance(self._db, PostgresDatabase):
            await self._db.fetch("SELECT pg_notify(?, ?)", (channel, payload))

    async def listen(self, channel: str, handler: Callable[[str], None]) -> Stop:
        """Call ``handler(payload)`` for every signal on ``channel`` until the returned function is awaited."""
        if not isinstance(self._db, PostgresDatabase):
            return _nothing
        conn = await self._db.connect()

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            handler(payload)

        def lost(_conn: Any) -> None:
            log.warning(
                "the connection listening for %s signals closed; other processes' hints now wait for a tick", channel
            )

        await conn.add_listener(channel, heard)
        conn.add_termination_listener(lost)

        async def stop() -> None:
            conn.remove_termination_listener(lost)
            if not conn.is_closed():
                await conn.close()

        return stop
