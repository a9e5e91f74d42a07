"""Moving a whole store to another database: from an SQLite file into PostgreSQL (or back, or to another file).

``copy_store`` copies every row of every table into an empty store in one transaction on the target, so a copy
that fails half way leaves the target as empty as it found it. Rows are read in batches, in the order they were
written (SQLite's rowid, PostgreSQL's ``seq``), so equal creation times keep breaking ties the same way, and the
usage ledger keeps its ids (the target's counter then continues after the highest id the source ever gave).

``open_existing`` opens a store that must already be there: a copy or a comparison never creates its source.
Every message shows a PostgreSQL URL without its password.
"""

# The statements are put together from the constant table and column names below; every value goes through a
# placeholder, so the SQL-injection check has nothing to find.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import asyncpg

from . import migrations
from .codec import Row
from .connection import Database, Transaction
from .errors import StoreError
from .owner import StoreOwner
from .postgres import CONNECT_TIMEOUT_S, _cannot_connect, redact
from .sqlite_schema import explain
from .store import Store, is_url

#: Rows read and written at a time.
BATCH_SIZE: Final = 1_000


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the store, as a copy and a comparison see it."""

    name: str
    #: The primary key: what names a row in a report.
    key: str
    #: Every column the copy writes (the key among them); PostgreSQL's ``jobs.seq`` is made by the target.
    columns: tuple[str, ...]
    #: What the rows are read in: the order they were written (rowid becomes seq on PostgreSQL), else the key.
    order: str
    #: Columns of JSON text, compared as parsed JSON.
    json_columns: frozenset[str] = frozenset()
    #: Columns of floating-point numbers (times, units).
    float_columns: frozenset[str] = frozenset()


def _columns(names: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in names.split(","))


JOBS: Final = Table(
    "jobs",
    "id",
    _columns(
        "id, task_id, kind, action, parent_id, guild_id, channel_id, user_id, prompt, params, status, progress, "
        "video_id, video_urls, image_id, image_url, raw_image_url, image_width, image_height, sub_image_urls, "
        "actions, error_code, error_message, created_at, updated_at, submitted_at, finished_at, meta, lease_owner"
    ),
    "rowid",
    frozenset({"params", "video_urls", "sub_image_urls", "actions", "meta"}),
    frozenset({"created_at", "updated_at", "submitted_at", "finished_at"}),
)
#: The tables in the order they are copied: jobs before the links that name them.
TABLES: Final[tuple[Table, ...]] = (
    JOBS,
    Table(
        "message_links",
        "message_id",
        _columns(
            "message_id, job_id, channel_id, guild_id, purpose, interaction_token, application_id, created_at, "
            "attachment_limit, delivered"
        ),
        "message_id",
        float_columns=frozenset({"created_at"}),
    ),
    Table(
        "guild_settings",
        "guild_id",
        ("guild_id", "settings", "updated_at"),
        "guild_id",
        frozenset({"settings"}),
        frozenset({"updated_at"}),
    ),
    Table(
        "user_settings",
        "user_id",
        ("user_id", "settings", "updated_at"),
        "user_id",
        frozenset({"settings"}),
        frozenset({"updated_at"}),
    ),
    # The heartbeats of the processes that hold leases: copied as they are (a stopped fleet's have run out).
    Table("lease_owners", "owner", ("owner", "until"), "owner", float_columns=frozenset({"until"})),
    Table(
        "usage_ledger",
        "id",
        ("id", "job_id", "guild_id", "user_id", "kind", "action", "units", "created_at"),
        "id",
        float_columns=frozenset({"units", "created_at"}),
    ),
)

#: Called after each batch: the table, rows copied so far, and how many it holds.
Progress = Callable[[str, int, int], None]


class TransferError(StoreError):
    """A copy or a comparison that cannot be done as asked; the message says why and what to do."""


def shown(where: str) -> str:
    """A store's location as it may be shown: a path, or a URL without its password."""
    return redact(where) if is_url(where) else where


# -- opening ------------------------------------------------------------------------------------------------


def same_place(first: str, second: str) -> bool:
    """Whether two locations name one store: one file (links followed), or one database on one server."""
    if is_url(first) != is_url(second):
        return False
    if not is_url(first):
        return os.path.realpath(first) == os.path.realpath(second)
    return _database(first) == _database(second)


def _database(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or 5432, parts.path.strip("/")


async def open_existing(where: str, flag: str) -> Store:
    """Open the store at ``where``, which must already hold one (``flag`` names the option that gave it)."""
    await refuse_missing(where, flag)
    return await Store.open(where)


async def refuse_missing(where: str, flag: str) -> None:
    """Raise unless ``where`` holds a store, leaving it as it is (opening a store would make one)."""
    if is_url(where):
        await _probe_postgres(where, flag)
    else:
        _probe_sqlite(Path(where), flag)


def _probe_sqlite(path: Path, flag: str) -> None:
    if not path.exists():
        raise TransferError(f"there is no store at {path} ({flag}); give the path of the bot's store ([store] path)")
    if path.is_dir():
        raise TransferError(f"{path} ({flag}) is a folder; give the store's file in it, such as {path}/mjbot.sqlite3")
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise explain(path, exc) from exc
    if application_id != migrations.APPLICATION_ID and version == 0:
        raise TransferError(f"{path} ({flag}) is not an mjbot store; give the path of the bot's store")


async def _probe_postgres(url: str, flag: str) -> None:
    try:
        conn = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreError(_cannot_connect(redact(url), exc)) from exc
    try:
        ours = await conn.fetchval("SELECT to_regclass('mjbot_meta') IS NOT NULL")
    except asyncpg.PostgresError as exc:
        raise StoreError(f"database error on {redact(url)}: {exc}") from exc
    finally:
        await conn.close()
    if not ours:
        raise TransferError(
            f"the database at {redact(url)} ({flag}) holds no mjbot store; give the URL of the bots' database"
        )


@contextlib.contextmanager
def _held(where: str, command: str) -> Iterator[None]:
    """Hold an SQLite store against a bot starting on it (a PostgreSQL store has no such lock)."""
    if is_url(where):
        yield
        return
    with StoreOwner.acquire(where, command):
        yield


# -- copying ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a copy moved: rows per table, in the order copied, and how long it took."""

    rows: dict[str, int]
    seconds: float

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def copy(source: str, target: str, *, progress: Progress | None = None, batch: int = BATCH_SIZE) -> CopyResult:
    """Copy the store at ``source`` into the empty store at ``target`` (made if it is a new SQLite file).

    SQLite stores are held (``<store>.lock``) for the whole copy, so a bot cannot start on either meanwhile; a bot
    running on one makes the copy refuse, naming it.
    """
    if same_place(source, target):
        raise TransferError(f"--from and --to both name {shown(source)}; copy into another, empty store")
    await refuse_missing(source, "--from")  # before the lock file is made beside it
    with _held(source, "mjbot store copy"), _held(target, "mjbot store copy"):
        async with _opened(source) as src, _opened(target) as dst:
            return await copy_store(src, dst, progress=progress, batch=batch)


@contextlib.asynccontextmanager
async def _opened(where: str) -> AsyncIterator[Store]:
    store = await Store.open(where)
    try:
        yield store
    finally:
        await store.close()


async def copy_store(
    source: Store, target: Store, *, progress: Progress | None = None, batch: int = BATCH_SIZE
) -> CopyResult:
    """Copy every row of ``source`` into ``target``, which must be empty, in one transaction on ``target``."""
    started = time.monotonic()
    src, dst = source.database, target.database
    versions = (await src.schema_version(), await dst.schema_version())
    if versions[0] != versions[1]:
        raise TransferError(
            f"{src.location} has schema version {versions[0]} and {dst.location} has {versions[1]}; "
            "open both with this version of mjbot first (mjbot upgrades a store as it opens it)"
        )
    totals = {table.name: await count_rows(src, table) for table in TABLES}
    copied: dict[str, int] = {}
    try:
        async with dst.transaction() as tx:
            await _refuse_filled(tx, dst.location)
            for table in TABLES:
                copied[table.name] = await _copy_table(src, tx, table, totals[table.name], progress, batch)
            await _continue_usage_ids(src, dst, tx)
    except TransferError:
        raise
    except StoreError as exc:
        raise TransferError(
            f"{exc}; the copy was rolled back, so {dst.location} is still empty: mend the cause and copy again"
        ) from exc
    return CopyResult(copied, time.monotonic() - started)


async def count_rows(db: Database, table: Table) -> int:
    rows = await db.fetch(f"SELECT COUNT(*) FROM {table.name}")
    return int(rows[0][0])


async def _refuse_filled(tx: Transaction, location: str) -> None:
    for table in TABLES:
        count = int((await tx.fetch(f"SELECT COUNT(*) FROM {table.name}"))[0][0])
        if not count:
            continue
        rows = "row" if count == 1 else "rows"
        what = f"{count} job{'' if count == 1 else 's'}" if table is JOBS else f"{count} {rows} in {table.name}"
        raise TransferError(
            f"the target {location} already holds {what}; copy into an empty store (a new SQLite file, or an empty "
            "PostgreSQL database)"
        )


async def read_batches(db: Database, table: Table, batch: int = BATCH_SIZE) -> AsyncIterator[list[Row]]:
    """The table's rows (its ``columns``), ``batch`` at a time, in ``table.order``; each row starts with that
    order's value."""
    select = f"SELECT {table.order}, {', '.join(table.columns)} FROM {table.name}"
    rows = await db.fetch(f"{select} ORDER BY {table.order} LIMIT ?", (batch,))
    while rows:
        yield rows
        if len(rows) < batch:
            return
        rows = await db.fetch(f"{select} WHERE {table.order} > ? ORDER BY {table.order} LIMIT ?", (rows[-1][0], batch))


async def _copy_table(
    src: Database, tx: Transaction, table: Table, total: int, progress: Progress | None, batch: int
) -> int:
    insert = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({', '.join('?' * len(table.columns))})"
    floats = [index for index, column in enumerate(table.columns) if column in table.float_columns]
    parent = table.columns.index("parent_id") if table is JOBS else -1
    seen: set[str] = set()
    later: list[tuple[str, str]] = []  # (job, parent) for parents that come after their child
    done = 0
    if progress is not None:
        progress(table.name, 0, total)
    async for rows in read_batches(src, table, batch):
        values = []
        for row in rows:
            value = list(row[1:])
            for index in floats:
                if value[index] is not None:
                    value[index] = float(value[index])  # an integer SQLite kept in a REAL column
            if parent >= 0:
                seen.add(value[0])
                if value[parent] is not None and value[parent] not in seen:
                    later.append((value[0], value[parent]))
                    value[parent] = None
            values.append(value)
        await tx.executemany(insert, values)
        done += len(values)
        if progress is not None:
            progress(table.name, done, total)
    if later:
        missing = [(job, parent_id) for job, parent_id in later if parent_id not in seen]
        if missing:
            job, parent_id = missing[0]
            more = f" (and {len(missing) - 1} more jobs name a missing parent)" if len(missing) > 1 else ""
            raise TransferError(
                f"job {job} of {src.location} names the parent job {parent_id}, which is not in that store{more}; "
                "nothing was copied"
            )
        await tx.executemany("UPDATE jobs SET parent_id = ? WHERE id = ?", [(p, job) for job, p in later])
    return done


async def usage_high_water(db: Database) -> int:
    """The highest usage id the store ever gave (a deleted line's included): new lines get higher ones."""
    if db.dialect == "postgres":
        sql = "SELECT pg_sequence_last_value(pg_get_serial_sequence('usage_ledger', 'id')::regclass)"
    else:
        sql = "SELECT seq FROM sqlite_sequence WHERE name = 'usage_ledger'"
    given = await db.fetch(sql)
    highest = await db.fetch("SELECT MAX(id) FROM usage_ledger")
    return max(int(given[0][0] or 0) if given else 0, int(highest[0][0] or 0))


async def _continue_usage_ids(src: Database, dst: Database, tx: Transaction) -> None:
    """Move the target's usage counter past every id the source gave, so a new line never takes an old id."""
    highest = await usage_high_water(src)
    if highest <= 0:
        return
    if dst.dialect == "postgres":
        await tx.fetch("SELECT setval(pg_get_serial_sequence('usage_ledger', 'id'), ?)", (highest,))
        return
    await tx.fetch(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'usage_ledger', ? "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'usage_ledger')",
        (highest,),
    )
    await tx.fetch("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'usage_ledger'", (highest,))
