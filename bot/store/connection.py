"""What the repositories need of a database: the same few calls whichever database is under the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from .codec import Row


class Transaction(Protocol):
    """One open transaction: its statements commit together when the block ends, or not at all if it raises."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement in the transaction and return its rows."""
        ...

    async def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter tuple."""
        ...


class Database(Protocol):
    """A connection (or pool) under the store.

    Statements are written with ``?`` placeholders (``?1``, ``?2``... where one value is used twice);
    constraint failures are raised as ``ConstraintError``, everything else as ``StoreError``.
    """

    #: Seconds since the epoch, the store's idea of "now" (tests pass their own clock).
    clock: Callable[[], float]

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgres", for the few statements written once per database."""
        ...

    @property
    def row_lock(self) -> str:
        """What a SELECT in a transaction ends with to lock the rows it read for the writes that follow
        ("" where a transaction already locks the whole database)."""
        ...

    @property
    def location(self) -> str:
        """Where the data is, for messages: a file path, or a URL without its password."""
        ...

    async def schema_version(self) -> int:
        """The version of the schema the database holds."""
        ...

    async def close(self) -> None:
        """Close the connection; later calls raise StoreError. Safe to call twice."""
        ...

    def ensure_open(self) -> None:
        """Raise StoreError if the store was closed."""
        ...

    def quick_fetch(self, sql: str, params: Sequence[Any]) -> list[Row] | None:
        """A short read without leaving the event loop, or None when the database cannot do that now."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement and return its rows."""
        ...

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement on its own; return how many rows it changed."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Open a transaction (``async with db.transaction() as tx``)."""
        ...

    async def snapshot(self, reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run read-only statements (each with its parameters) on one consistent snapshot, without holding up
        the writers."""
        ...
