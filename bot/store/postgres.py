"""PostgreSQL under the store (through asyncpg): for several bot processes, on one or more machines.

The repositories write their SQL once, for SQLite; ``translate`` turns each statement into PostgreSQL
(placeholders, null-safe comparisons, JSON functions) the first time it is used. The few statements
that have no mechanical translation are chosen by ``Database.dialect`` in the repository itself.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Final, Self

import asyncpg

from bot.redact import without_password

from . import pg_schema
from .codec import Row
from .errors import ConstraintError, OutdatedStoreError, StoreError

log = logging.getLogger(__name__)

#: How long one statement may run before it is given up (a lost connection, a lock held by a hung process).
STATEMENT_TIMEOUT_S: Final = 30.0
#: How long opening the pool may take.
CONNECT_TIMEOUT_S: Final = 10.0
#: Connections per process: the event loop runs one statement at a time, so a few are plenty.
POOL_SIZE: Final = 4
#: The advisory lock that one process holds while it creates the schema.
_SCHEMA_LOCK: Final = 0x6D6A6274


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``: the only form of it that may be logged or shown."""
    return without_password(url)


_INDEXED_BY: Final = re.compile(r"\bINDEXED BY \w+\s*")
_ROWID: Final = re.compile(r"\browid\b")
_JSON_FIELD: Final = re.compile(r"json_extract\(([\w.]+), '\$\.(\w+)'\)")
_JSON_IDS: Final = re.compile(r"json_each\((\?\d*)\)")
_IS_NOT: Final = re.compile(r"\bIS NOT\s+(?!NULL\b|DISTINCT\b)")
_IS: Final = re.compile(r"\bIS\s+(?!NOT\b|NULL\b|DISTINCT\b)")
_CAST_INTEGER: Final = re.compile(r"CAST\(([^()]*) AS INTEGER\)")
_PLACEHOLDER: Final = re.compile(r"\?(\d*)")


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """A statement of the SQLite store in PostgreSQL's words.

    ``?``/``?N`` become ``$N``; ``a IS b`` becomes ``IS NOT DISTINCT FROM`` (SQLite's ``IS`` is null-safe
    equality); ``json_each(?)`` over a JSON array of ids becomes ``json_array_elements_text``;
    ``json_extract(col, '$.key')`` becomes ``col::json ->> 'key'``; SQLite's ``INDEXED BY`` hints go, and
    ``rowid`` (the tie-break of equal times) becomes ``seq``, the column that plays its part.
    """
    sql = _INDEXED_BY.sub("", sql)
    sql = _ROWID.sub("seq", sql)
    sql = _JSON_FIELD.sub(r"(\1::jsonb ->> '\2')", sql)
    sql = _JSON_IDS.sub(r"json_array_elements_text(\1::json) AS value", sql)
    sql = _IS_NOT.sub("IS DISTINCT FROM ", sql)
    sql = _IS.sub("IS NOT DISTINCT FROM ", sql)
    sql = _CAST_INTEGER.sub(r"FLOOR(\1)::bigint", sql)
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda match: f"${match.group(1) or next(counter)}", sql)


def _count(status: str) -> int:
    """The row count at the end of a command tag (``UPDATE 3``, ``INSERT 0 1``)."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


class PostgresDatabase:
    """A pool of asyncpg connections under the store; see ``bot.store.connection.Database`` for the calls."""

    dialect: Final = "postgres"
    #: Appended to a SELECT in a transaction that then writes the rows it read (SQLite locks the whole file).
    row_lock: Final = " FOR UPDATE"

    def __init__(self, pool: asyncpg.Pool, url: str, clock: Callable[[], float]) -> None:
        self._pool: asyncpg.Pool | None = pool
        self._dsn = url  # for connections outside the pool (``connect``); only ``url`` is ever shown
        self.url = redact(url)
        self.clock = clock

    @property
    def location(self) -> str:
        """The database's URL without its password."""
        return self.url

    @classmethod
    async def open(cls, url: str, *, clock: Callable[[], float] = time.time, read_only: bool = False) -> Self:
        """Connect to the database at ``url`` and create or check its schema (``read_only``: only check it, and
        every transaction is read-only)."""
        shown = redact(url)
        settings = {"application_name": "mjbot"}
        if read_only:
            settings["default_transaction_read_only"] = "on"
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_SIZE,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=STATEMENT_TIMEOUT_S,
                server_settings=settings,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(_cannot_connect(shown, exc)) from exc
        db = cls(pool, url, clock)
        try:
            await (db._check_readable() if read_only else db._prepare())
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        """Close the pool; later calls raise StoreError. Safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _prepare(self) -> None:
        """Create the schema in an empty database, or check that the database holds this store's schema.

        Several processes may start at once: an advisory lock held for the transaction lets one create
        the schema while the others wait, then find it made.
        """
        pool = self._live()
        with self._errors():
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                ours = await conn.fetchval("SELECT to_regclass('mjbot_meta') IS NOT NULL")
                if not ours:
                    others = await conn.fetch(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                        "ORDER BY table_name LIMIT 3"
                    )
                    if others:
                        names = ", ".join(row[0] for row in others)
                        raise StoreError(
                            f"the database at {self.url} already holds tables that this store did not create "
                            f"({names}...); point [store] url at an empty database or an mjbot database"
                        )
                    for statement in pg_schema.SCHEMA:
                        await conn.execute(statement)
                    log.info("created the mjbot schema (version %d) in %s", pg_schema.SCHEMA_VERSION, self.url)
                    return
                meta = dict(await conn.fetch("SELECT key, value FROM mjbot_meta"))
        version = self._version_of(meta)
        if version < pg_schema.SCHEMA_VERSION:
            await self._upgrade(version)

    def _version_of(self, meta: dict[str, str]) -> int:
        """The schema version the store records; StoreError for another application's or a newer schema."""
        if meta.get("application") != "mjbot":
            raise StoreError(f"the database at {self.url} belongs to another application; point [store] url elsewhere")
        version = int(meta.get("schema_version", "0"))
        if version > pg_schema.SCHEMA_VERSION:
            raise StoreError(
                f"the database at {self.url} has schema version {version}, but this version of mjbot knows versions "
                f"up to {pg_schema.SCHEMA_VERSION}; upgrade mjbot (the database was left unchanged)"
            )
        return version

    async def _check_readable(self) -> None:
        """Refuse to read a database that holds no store of this version's schema (changing nothing)."""
        with self._errors():
            async with self._live().acquire() as conn:
                ours = await conn.fetchval("SELECT to_regclass('mjbot_meta') IS NOT NULL")
                meta = dict(await conn.fetch("SELECT key, value FROM mjbot_meta")) if ours else {}
        if not ours:
            raise StoreError(f"there is no store in the database at {self.url} yet; nothing has run there")
        version = self._version_of(meta)
        if version < pg_schema.SCHEMA_VERSION:
            raise OutdatedStoreError(
                f"the database at {self.url} has schema version {version}, and this version of mjbot reads version "
                f"{pg_schema.SCHEMA_VERSION}; a command that only reads never upgrades a store (it was left "
                "unchanged): start the bot or run a job command on it once, which upgrades it, then try again"
            )

    async def _upgrade(self, version: int) -> None:
        """Bring the schema up to date in one transaction, under the schema lock (a failed step changes nothing)."""
        pool = self._live()
        with self._errors():
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                found = await conn.fetchval("SELECT value FROM mjbot_meta WHERE key = 'schema_version'")
                current = int(found or version)  # another process may have upgraded meanwhile
                for target in range(current + 1, pg_schema.SCHEMA_VERSION + 1):
                    for statement in pg_schema.UPGRADES[target]:
                        await conn.execute(statement)
                    log.info("upgraded %s to schema version %d", self.url, target)
                await conn.execute(
                    "UPDATE mjbot_meta SET value = $1 WHERE key = 'schema_version'", str(pg_schema.SCHEMA_VERSION)
                )

    async def schema_version(self) -> int:
        """The schema version recorded in the database."""
        rows = await self.fetch("SELECT value FROM mjbot_meta WHERE key = 'schema_version'")
        return int(rows[0][0]) if rows else 0

    # -- what the repositories use ---------------------------------------------------------------

    def ensure_open(self) -> None:
        """Raise StoreError if the store was closed."""
        self._live()

    def _live(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"the store at {self.url} is closed")
        return self._pool

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except asyncpg.UniqueViolationError as exc:
            name = exc.constraint_name or ""
            raise ConstraintError("primary key" if name.endswith("_pkey") else "unique", str(exc)) from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise ConstraintError("foreign key", str(exc)) from exc
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ConstraintError("other", str(exc)) from exc
        except asyncpg.PostgresError as exc:
            raise StoreError(f"database error on {self.url}: {exc}") from exc
        except (OSError, TimeoutError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"lost the connection to {self.url} ({type(exc).__name__}: {exc})") from exc

    def quick_fetch(self, sql: str, params: Sequence[Any]) -> list[Row] | None:
        """PostgreSQL is always a network round trip away: None sends the caller through ``fetch``."""
        self._live()
        return None

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement and return its rows."""
        pool = self._live()
        with self._errors():
            return [tuple(record) for record in await pool.fetch(translate(sql), *params)]

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement on its own; return how many rows it changed."""
        pool = self._live()
        with self._errors():
            return _count(await pool.execute(translate(sql), *params))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        """Statements run through the yielded object commit together, or not at all if the block raises."""
        pool = self._live()
        with self._errors():
            async with pool.acquire() as conn, conn.transaction():
                yield PostgresTransaction(conn)

    async def snapshot(self, reads: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run read-only statements on one snapshot (a repeatable-read, read-only transaction)."""
        pool = self._live()
        with self._errors():
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                return [
                    [tuple(record) for record in await conn.fetch(translate(sql), *params)] for sql, params in reads
                ]

    async def connect(self) -> Any:
        """A connection of its own, outside the pool, for state that lasts as long as a session (the store's advisory
        locks, ``bot.store.locks``); the caller closes it."""
        self._live()
        with self._errors():
            return await asyncpg.connect(
                self._dsn,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=STATEMENT_TIMEOUT_S,
                server_settings={"application_name": "mjbot"},
            )


class PostgresTransaction:
    """One open transaction on one pooled connection (see ``PostgresDatabase.transaction``)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement in the transaction and return its rows."""
        return [tuple(record) for record in await self._conn.fetch(translate(sql), *params)]

    async def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter tuple in the transaction."""
        await self._conn.executemany(translate(sql), params)


def _cannot_connect(shown: str, error: BaseException) -> str:
    if isinstance(error, asyncpg.InvalidPasswordError):
        return f"PostgreSQL at {shown} refused the user name or password; check [store] url or MJBOT_STORE_URL"
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return f"the database named in {shown} does not exist; create it (createdb) or fix [store] url"
    if isinstance(error, TimeoutError):
        return f"PostgreSQL at {shown} did not answer within {CONNECT_TIMEOUT_S:.0f} s; is it running and reachable?"
    if isinstance(error, OSError):
        return f"cannot reach PostgreSQL at {shown} ({error.strerror or error}); is it running, and is the host right?"
    return f"cannot open the PostgreSQL store at {shown}: {error}"
