"""The SQLite file under the store: opening, upgrading, the connections, locking and error translation.

The repositories (``jobs``, ``links``, ``queue``...) talk to it through ``fetch``, ``write`` and
``transaction``, and never touch sqlite3 or aiosqlite themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
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
from .errors import Constraint, ConstraintError, OutdatedStoreError, StoreError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS: Final = 5_000
_MIN_SQLITE: Final = (3, 35, 0)  # RETURNING


def read_only(path: Path, detail: object) -> str:
    """What to say about a database file that mjbot may not write."""
    return (
        f"the database {path} is read-only ({detail}); give the user that runs mjbot write access to the file "
        "and its folder (SQLite writes its journal beside it)"
    )


def advice(path: Path, error: sqlite3.Error) -> str | None:
    """What is wrong with the file and what to do, for the SQLite errors that a change to the file can mend."""
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return f"{path} is not an SQLite database; point the store at a new path or at an mjbot database"
    if name.startswith("SQLITE_CORRUPT"):
        return (
            f"the database {path} is damaged ({error}); restore it from a backup, or move it aside and mjbot "
            "starts with a new, empty store"
        )
    if name.startswith("SQLITE_READONLY"):
        return read_only(path, error)
    return None


def explain(path: Path, error: sqlite3.Error) -> StoreError:
    """A StoreError that says what is wrong with the database file at ``path`` and what to do about it."""
    known = advice(path, error)
    if known is not None:
        return StoreError(known)
    if path.is_dir():
        return StoreError(
            f"the store path {path} is a folder; set [store] path to a file in it, e.g. {path}/mjbot.sqlite3"
        )
    if getattr(error, "sqlite_errorname", "").startswith("SQLITE_CANTOPEN"):
        return StoreError(
            f"cannot open the database {path} ({error}); check that its folder exists and that the user that runs "
            "mjbot may write there"
        )
    return StoreError(f"cannot open the database {path}: {error}")


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
        _refuse_unwritable(file)
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
            await store._prepare(conn)
            reader.execute("PRAGMA query_only = ON")
        except BaseException:
            reader.close()
            await conn.close()
            raise
        return store

    @classmethod
    async def _open_to_read(cls, file: Path, clock: Callable[[], float]) -> Self:
        uri = _read_only_uri(file)
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
            empty = await store._check_readable(conn)
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

    async def _check_readable(self, conn: aiosqlite.Connection) -> bool:
        """Refuse to read a database that is not this store's, or whose schema this version does not read as it is;
        True for an empty file (no store yet), which holds no jobs."""
        path = self._path
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            application_id = await migrations.read_application_id(conn)
            version = await migrations.read_version(conn)
            objects = next(iter(await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")))[0]
        except sqlite3.DatabaseError as exc:
            raise explain(path, exc) from exc
        self._check_schema(application_id, version, objects)
        if version == 0 and not objects:
            return True
        if version < migrations.LATEST_VERSION:
            raise OutdatedStoreError(
                f"{path} has schema version {version}, and this version of mjbot reads version "
                f"{migrations.LATEST_VERSION}; a "
                "command that only reads never upgrades a store (the file was left unchanged): start the bot or run "
                "a job command on it once, which upgrades it, then try again"
            )
        return False

    def _check_schema(self, application_id: int, version: int, objects: int) -> None:
        """Refuse another application's database, and a schema newer than this version knows."""
        path = self._path
        if application_id not in (0, migrations.APPLICATION_ID):
            raise StoreError(
                f"{path} is an SQLite database of another application (application_id {application_id:#x}); "
                "point the store at its own database file"
            )
        if version == 0 and objects:
            raise StoreError(
                f"{path} already holds tables that this store did not create; "
                "point the store at a new path or at an mjbot database"
            )
        latest = migrations.LATEST_VERSION
        if version > latest:
            raise StoreError(
                f"{path} has schema version {version}, but this version of mjbot knows versions up to {latest}; "
                "upgrade mjbot, or point it at another database file (the file was left unchanged)"
            )

    async def _prepare(self, conn: aiosqlite.Connection) -> None:
        path = self._path
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            await conn.execute("PRAGMA foreign_keys = ON")
            mode = await self._switch_to_wal(conn)
            await self._prove_writable(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            application_id = await migrations.read_application_id(conn)
            version = await migrations.read_version(conn)
            objects = next(iter(await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")))[0]
        except sqlite3.DatabaseError as exc:
            raise explain(path, exc) from exc
        if mode.lower() != "wal":
            log.warning("database %s runs in journal mode %s, not WAL", path, mode)
        self._check_schema(application_id, version, objects)
        latest = migrations.LATEST_VERSION
        while version < latest:
            try:
                applied = await migrations.upgrade_step(conn)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"could not upgrade {path} from schema version {version} to {version + 1}: {exc} "
                    f"(the file was left at version {version})"
                ) from exc
            if applied is None:  # another process finished the upgrade first
                break
            log.info("upgraded database %s to schema version %d", path, applied)
            version = applied

    @staticmethod
    async def _prove_writable(conn: aiosqlite.Connection) -> None:
        # SQLite opens a file it may not write read-only without a word, and then fails every write. Making a
        # table in a transaction that is rolled back needs write access and leaves the file as it was.
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute("CREATE TABLE mjbot_write_check (x)")
        finally:
            await migrations.rollback_quietly(conn)

    @staticmethod
    async def _switch_to_wal(conn: aiosqlite.Connection) -> str:
        # Changing the journal mode needs the file to itself, and SQLite answers "locked" at once instead of
        # waiting when another connection is opening the same new file; so wait here, within the busy timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return str(next(iter(await conn.execute_fetchall("PRAGMA journal_mode = WAL")))[0])
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.02)

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


def _read_only_uri(file: Path) -> str:
    """The URI that opens an existing database file read-only (SQLite then neither writes nor creates anything)."""
    if not file.exists():
        raise StoreError(f"there is no store at {file}")
    return f"{file.resolve().as_uri()}?mode=ro"


def _refuse_unwritable(file: Path) -> None:
    """Refuse a store file this process may not write before SQLite opens it: SQLite would read it without a word,
    fail every write, and leave behind ``-wal`` and ``-shm`` files that nobody can write either."""
    try:
        fd = os.open(file, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoreError(read_only(file, exc.strerror)) from exc
        return  # missing (SQLite creates it), a folder, or something SQLite explains better
    os.close(fd)
