"""The SQLite file under the store: opening, upgrading, the connections, locking and error translation.

The repositories (``jobs``, ``links``, ``queue``...) talk to it through ``fetch``, ``write`` and
``transaction``, and never touch sqlite3 or aiosqlite themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, cast

import aiosqlite

from . import migrations
from .codec import Row
from .errors import Constraint, ConstraintError, StoreError
from .sqlite_schema import (
    BUSY_TIMEOUT_MS,
    advice,
    check_readable,
    explain,
    prepare,
    read_only_uri,
    refuse_unwritable,
)

log = logging.getLogger(__name__)

_MIN_SQLITE: Final = (3, 35, 0)  # RETURNING


class SqliteDatabase:
    """The connection under the store, opened in autocommit mode with WAL, foreign keys and a busy timeout.

    Every call holds one asyncio lock while it talks to the connection, so a multi-statement
    transaction never takes in a statement from another coroutine. Writes commit before the call
    returns: with WAL and synchronous=NORMAL a write survives a crash of the process (an OS crash or
    power cut may lose the last moments, the usual WAL trade-off).

    Beside it sits a read-only plain sqlite3 connection for the one lookup on every button click
    (``quick_fetch``): it sees only committed data, which is all there is once a method has returned.
    """

    dialect: Final = "sqlite"
    row_lock: Final = ""

    def __init__(
        self, conn: aiosqlite.Connection, reader: sqlite3.Connection, path: Path, clock: Callable[[], float]
    ) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self._reader: sqlite3.Connection | None = reader
        self._path = path
        self.clock = clock
        self._lock = asyncio.Lock()
        self._told: set[str] = set()  # the kinds of damage already logged

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time, read_only: bool = False
    ) -> Self:
        """Open (or create) the database at ``path`` and bring its schema up to date.

        ``read_only`` opens an existing database only to read it: nothing is created, switched to WAL or
        upgraded, and a database whose schema is older than this version's is refused (the file is left as it is).
        """
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old: the store needs SQLite 3.35 or newer")
        file = Path(path)
        if read_only:
            return await cls._open_to_read(file, clock)
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory {file.parent} for the database: {exc}") from exc
        refuse_unwritable(file)
        try:
            # The reader opens first: it finds a directory or a missing permission without starting the
            # connection thread (a failed aiosqlite connect leaves that thread to report on a closed loop).
            reader = sqlite3.connect(file, timeout=0, isolation_level=None)
        except sqlite3.Error as exc:
            raise explain(file, exc) from exc
        try:
            conn = await aiosqlite.connect(file, isolation_level=None)
        except BaseException as exc:
            reader.close()
            if isinstance(exc, sqlite3.Error):
                raise explain(file, exc) from exc
            raise
        store = cls(conn, reader, file, clock)
        try:
            await prepare(conn, file)
            reader.execute("PRAGMA query_only = ON")
        except BaseException:
            reader.close()
            await conn.close()
            raise
        return store

    @classmethod
    async def _open_to_read(cls, file: Path, clock: Callable[[], float]) -> Self:
        uri = read_only_uri(file)
        try:
            reader = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
        except sqlite3.Error as exc:
            raise explain(file, exc) from exc
        try:
            conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        except BaseException as exc:
            reader.close()
            if isinstance(exc, sqlite3.Error):
                raise explain(file, exc) from exc
            raise
        store = cls(conn, reader, file, clock)
        try:
            empty = await check_readable(conn, file)
        except BaseException:
            reader.close()
            await conn.close()
            raise
        if empty:  # an empty file holds no jobs: read an empty store in memory, and leave the file as it is
            reader.close()
            await conn.close()
            return await cls._empty_in_memory(file, clock)
        return store

    @classmethod
    async def _empty_in_memory(cls, file: Path, clock: Callable[[], float]) -> Self:
        conn = await aiosqlite.connect(":memory:", isolation_level=None)
        reader = sqlite3.connect(":memory:", isolation_level=None)  # holds no tables: quick reads fall through
        try:
            while await migrations.upgrade_step(conn) is not None:
                pass
        except BaseException:
            reader.close()
            await conn.close()
            raise
        return cls(conn, reader, file, clock)

    async def close(self) -> None:
        """Close the connection; later calls raise StoreError. Safe to call twice."""
        async with self._lock:
            conn, self._conn = self._conn, None
            reader, self._reader = self._reader, None
            if reader is not None:
                reader.close()
            if conn is None:
                return
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("PRAGMA optimize")
            await conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def location(self) -> str:
        """The database file, for messages."""
        return str(self._path)

    async def schema_version(self) -> int:
        """The schema version of the file (``PRAGMA user_version``)."""
        return int((await self.fetch("PRAGMA user_version"))[0][0])

    # -- what the repositories use ---------------------------------------------------------------

    def ensure_open(self) -> None:
        """Raise StoreError if the store was closed."""
        self._live()

    def _live(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StoreError(f"the store for {self._path} is closed")
        return self._conn

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as exc:
            raise _constraint(exc) from exc
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc

    def _failure(self, error: sqlite3.Error) -> StoreError:
        """The StoreError for an SQLite error at run time; damage the operator must mend is logged once."""
        known = advice(self._path, error)
        if known is None:
            return StoreError(f"database error on {self._path}: {error}")
        kind = getattr(error, "sqlite_errorname", "").partition("_")[2].partition("_")[0]
        if kind not in self._told:
            self._told.add(kind)
            log.error("%s", known)
        return StoreError(known)

    def quick_fetch(self, sql: str, params: Sequence[Any]) -> list[Row] | None:
        """Run a short read right here on the event loop thread, through the read-only connection.

        For point lookups by primary key this takes tens of microseconds, less than the two thread
        switches a call through the aiosqlite connection costs. The reader never waits (busy_timeout 0):
        None means SQLite was busy, and the caller goes through ``fetch`` instead.
        """
        reader = self._reader
        if reader is None:
            raise StoreError(f"the store for {self._path} is closed")
        try:
            return reader.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            log.debug("quick read on %s failed (%s); using the main connection", self._path, exc)
            return None
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement and return its rows."""
        async with self._lock:
            with self._errors():
                return cast(list[Row], await self._live().execute_fetchall(sql, params))

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (its own transaction, in autocommit mode); return how many rows it changed."""
        async with self._lock:
            with self._errors():
                cursor = await self._live().execute(sql, params)
                return cursor.rowcount

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """Statements run through the yielded object commit together, or not at all if the block raises."""
        async with self._lock:
            conn = self._live()
            with self._errors():
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteTransaction(conn)
                    await conn.execute("COMMIT")
                except BaseException:
                    await migrations.rollback_quietly(conn)
                    raise

    async def snapshot(self, reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run read-only statements on one snapshot, beside the main connection, in a worker thread.

        For long reads (statistics): in that time neither the event loop nor the engine's writes wait
        for them (WAL lets a reader work beside the writer).
        """
        self._live()  # a closed store says so here, not in the worker thread
        return await asyncio.to_thread(_read_snapshot, self._path, reads)


class SqliteTransaction:
    """One open transaction of the SQLite store (see ``SqliteDatabase.transaction``)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement in the transaction and return its rows."""
        return cast(list[Row], await self._conn.execute_fetchall(sql, params))

    async def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter tuple in the transaction."""
        await self._conn.executemany(sql, params)


_CONSTRAINTS: Final[dict[str, Constraint]] = {
    "SQLITE_CONSTRAINT_PRIMARYKEY": "primary key",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign key",
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
}


def _constraint(error: sqlite3.IntegrityError) -> ConstraintError:
    return ConstraintError(_CONSTRAINTS.get(getattr(error, "sqlite_errorname", ""), "other"), str(error))


def _read_snapshot(path: Path, reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with contextlib.closing(
            sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        ) as conn:
            conn.execute("BEGIN")  # one snapshot for every statement
            results = [conn.execute(sql, params).fetchall() for sql, params in reads]
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read from {path}: {exc}") from exc
    return results
