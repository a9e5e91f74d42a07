"""Opening an SQLite store file: what is wrong with a file and what to do, and bringing its schema up to date."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Final

import aiosqlite

from . import migrations
from .errors import OutdatedStoreError, StoreError

#: Logged under the name of the module that opens the store.
log = logging.getLogger("bot.store.sqlite")

BUSY_TIMEOUT_MS: Final = 5_000


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


async def check_readable(conn: aiosqlite.Connection, path: Path) -> bool:
    """Refuse to read a database that is not this store's, or whose schema this version does not read as it is;
    True for an empty file (no store yet), which holds no jobs."""
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        application_id = await migrations.read_application_id(conn)
        version = await migrations.read_version(conn)
        objects = next(iter(await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")))[0]
    except sqlite3.DatabaseError as exc:
        raise explain(path, exc) from exc
    check_schema(path, application_id, version, objects)
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


def check_schema(path: Path, application_id: int, version: int, objects: int) -> None:
    """Refuse another application's database, and a schema newer than this version knows."""
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


async def prepare(conn: aiosqlite.Connection, path: Path) -> None:
    """Set the connection up (busy timeout, foreign keys, WAL), prove the file writable, and bring its schema up to
    date, one migration per transaction."""
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        await conn.execute("PRAGMA foreign_keys = ON")
        mode = await _switch_to_wal(conn)
        await _prove_writable(conn)
        await conn.execute("PRAGMA synchronous = NORMAL")
        application_id = await migrations.read_application_id(conn)
        version = await migrations.read_version(conn)
        objects = next(iter(await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")))[0]
    except sqlite3.DatabaseError as exc:
        raise explain(path, exc) from exc
    if mode.lower() != "wal":
        log.warning("database %s runs in journal mode %s, not WAL", path, mode)
    check_schema(path, application_id, version, objects)
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


async def _prove_writable(conn: aiosqlite.Connection) -> None:
    # SQLite opens a file it may not write read-only without a word, and then fails every write. Making a
    # table in a transaction that is rolled back needs write access and leaves the file as it was.
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute("CREATE TABLE mjbot_write_check (x)")
    finally:
        await migrations.rollback_quietly(conn)


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


def read_only_uri(file: Path) -> str:
    """The URI that opens an existing database file read-only (SQLite then neither writes nor creates anything)."""
    if not file.exists():
        raise StoreError(f"there is no store at {file}")
    return f"{file.resolve().as_uri()}?mode=ro"


def refuse_unwritable(file: Path) -> None:
    """Refuse a store file this process may not write before SQLite opens it: SQLite would read it without a word,
    fail every write, and leave behind ``-wal`` and ``-shm`` files that nobody can write either."""
    try:
        fd = os.open(file, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoreError(read_only(file, exc.strerror)) from exc
        return  # missing (SQLite creates it), a folder, or something SQLite explains better
    os.close(fd)
