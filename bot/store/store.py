"""The job store: jobs, the Discord messages that show them, settings and the usage ledger.

``Store`` puts the repositories together over one database: ``jobs`` (rows and how they move on),
``leases`` (which process follows which job), ``links`` (the Discord messages that show them), ``locks`` (named
locks that hold across the processes on the store), ``queue`` (queued and running jobs per member), ``settings``
(server and member settings), ``usage`` (the ledger for quotas), ``stats`` (figures for ``/admin stats``) and
``history`` (a member's jobs, searched and paged). Each repository holds every SQL statement of its part of the
schema.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from .connection import Database
from .history import HistoryRepository
from .jobs import JobRepository
from .leases import LeaseRepository
from .links import LinkRepository
from .locks import StoreLocks
from .postgres import PostgresDatabase
from .queue import QueueRepository
from .saved_settings import SettingsRepository
from .signals import SignalRepository
from .sqlite import SqliteDatabase
from .stats import StatsRepository
from .usage import UsageRepository

__all__ = ["Store"]


def is_url(where: str | os.PathLike[str]) -> bool:
    """Whether a store location is a PostgreSQL URL (else it is the path of an SQLite file)."""
    return isinstance(where, str) and where.startswith(("postgresql://", "postgres://"))


class Store:
    """Jobs, the Discord messages that show them, settings and the usage ledger: in one SQLite file, or in
    PostgreSQL for several processes.

    Open with ``await Store.open(path_or_url)``; every method of every repository commits before it returns.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.jobs = JobRepository(db)
        self.leases = LeaseRepository(db)
        self.links = LinkRepository(db)
        self.locks = StoreLocks(db)
        self.signals = SignalRepository(db)
        self.queue = QueueRepository(db)
        self.settings = SettingsRepository(db)
        self.usage = UsageRepository(db)
        self.stats = StatsRepository(db)
        self.history = HistoryRepository(db)

    @classmethod
    async def open(
        cls, where: str | os.PathLike[str], *, clock: Callable[[], float] = time.time, read_only: bool = False
    ) -> Self:
        """Open (or create) the store at ``where`` (an SQLite file's path, or a ``postgresql://`` URL) and bring
        its schema up to date.

        ``read_only`` is for a command that only reads: the store must exist already, nothing in it is created or
        upgraded (one whose schema is older is refused, saying how to upgrade it), and nothing can be written.
        """
        if is_url(where):
            return cls(await PostgresDatabase.open(str(where), clock=clock, read_only=read_only))
        return cls(await SqliteDatabase.open(where, clock=clock, read_only=read_only))

    @property
    def location(self) -> str:
        """Where the data is, for messages: the SQLite file, or the PostgreSQL URL without its password."""
        return self._db.location

    @property
    def database(self) -> Database:
        """The database under the repositories, for work on the whole store (copying it to another database)."""
        return self._db

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgres"."""
        return self._db.dialect

    @property
    def clock(self) -> Callable[[], float]:
        """The store's clock (seconds since the epoch); tests set another to move time."""
        return self._db.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._db.clock = clock

    async def schema_version(self) -> int:
        """The version of the store's schema."""
        return await self._db.schema_version()

    async def close(self) -> None:
        """Close the store; later calls raise StoreError. Safe to call twice."""
        await self.locks.close()
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
