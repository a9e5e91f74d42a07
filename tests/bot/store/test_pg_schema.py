"""The PostgreSQL schema is SQLite's at its latest version: same tables, columns in the same order, keys, indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.store import AlreadyChainedError, JobKind, JobMeta, NewJob, Store, migrations, pg_schema

#: The columns of version 6, last in jobs (SQLite adds them to the end; they must be last in PostgreSQL too).
LEASE_COLUMNS = ("lease_owner",)
#: The SQLite type that each PostgreSQL type stands for.
SQLITE_TYPE = {"bigint": "INTEGER", "integer": "INTEGER", "double precision": "REAL", "text": "TEXT"}
TABLES = ("jobs", "message_links", "guild_settings", "user_settings", "usage_ledger", "lease_owners")


async def _applied(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    async with conn.transaction():
        for statement in pg_schema.SCHEMA:
            await conn.execute(statement)
    return conn


async def _sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.sqlite3"
    store = await Store.open(path)
    await store.close()
    return path


def test_the_version_is_sqlites_latest() -> None:
    assert pg_schema.SCHEMA_VERSION == migrations.LATEST_VERSION, (
        "a new SQLite migration needs its counterpart in bot/store/pg_schema.py, and SCHEMA_VERSION raised"
    )


async def test_the_schema_applies_to_an_empty_database_and_again_changes_nothing(postgres_url: str) -> None:
    conn = await _applied(postgres_url)
    try:
        meta = dict(await conn.fetch("SELECT key, value FROM mjbot_meta"))
        assert meta == {"application": "mjbot", "schema_version": str(pg_schema.SCHEMA_VERSION)}
        tables = {row[0] for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert tables == {*TABLES, "mjbot_meta"}

        await conn.execute(
            "INSERT INTO jobs (id, kind, action, prompt, status, created_at, updated_at) VALUES "
            "('j1', 'video', 'generate', 'waves', 'queued', 1.5, 1.5)"
        )
        for statement in pg_schema.SCHEMA:
            await conn.execute(statement)
        assert await conn.fetchval("SELECT count(*) FROM jobs") == 1
        assert await conn.fetchval("SELECT count(*) FROM mjbot_meta") == 2
    finally:
        await conn.close()


async def test_columns_match_a_fresh_sqlite_store_by_name_order_type_and_nullability(
    postgres_url: str, tmp_path: Path
) -> None:
    path = await _sqlite_file(tmp_path)
    with sqlite3.connect(path) as lite:
        # name, declared type, NOT NULL (a primary key is never null in either)
        sqlite_columns = {
            table: [(row[1], row[2], bool(row[3] or row[5])) for row in lite.execute(f"PRAGMA table_info({table})")]
            for table in TABLES
        }
    conn = await _applied(postgres_url)
    try:
        pg_columns = {}
        for table in TABLES:
            rows = await conn.fetch(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                table,
            )
            pg_columns[table] = [(row[0], SQLITE_TYPE[row[1]], row[2] == "NO") for row in rows]
    finally:
        await conn.close()

    # SQLite's implicit rowid (the order jobs were written in) is an explicit column in PostgreSQL, last.
    assert pg_columns["jobs"][-1] == ("seq", "INTEGER", True)
    pg_columns["jobs"] = pg_columns["jobs"][:-1]
    assert pg_columns == sqlite_columns
    assert [column[0] for column in pg_columns["jobs"][-2:]] == ["meta", *LEASE_COLUMNS]


async def test_indexes_match_sqlites(postgres_url: str, tmp_path: Path) -> None:
    path = await _sqlite_file(tmp_path)
    with sqlite3.connect(path) as lite:
        sqlite_indexes = {
            row[0] for row in lite.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        }
    conn = await _applied(postgres_url)
    try:
        pg_indexes = {
            row[0]
            for row in await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey' "
                "AND indexname NOT LIKE '%\\_key'"
            )
        }
    finally:
        await conn.close()
    assert pg_indexes == sqlite_indexes


async def test_keys_and_partial_indexes_behave_as_in_sqlite(postgres_url: str) -> None:
    conn = await _applied(postgres_url)
    biggest_id = 2**63 - 1  # a Discord snowflake fits
    try:
        insert_job = (
            "INSERT INTO jobs (id, task_id, kind, action, parent_id, guild_id, prompt, status, meta, created_at, "
            "updated_at) VALUES ($1, $2, 'imagine', 'generate', $3, $4, 'a lighthouse', $5, $6, 1.0, 1.0)"
        )
        await conn.execute(insert_job, "parent", "task-1", None, biggest_id, "succeeded", '{"then_animate": 2}')
        await conn.execute(insert_job, "child", None, "parent", biggest_id, "running", "{}")
        await conn.execute(insert_job, "nulls", None, None, None, "queued", '{"then_animate": null}')
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(insert_job, "twin", "task-1", None, None, "queued", "{}")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(insert_job, "orphan", None, "no-such-job", None, "queued", "{}")
        await conn.execute(
            "INSERT INTO message_links (message_id, job_id, created_at) VALUES ($1, 'parent', 1.0)", biggest_id
        )
        await conn.execute(
            "INSERT INTO usage_ledger (job_id, kind, action, created_at) VALUES ('parent', 'imagine', 'generate', 1)"
        )

        # The partial indexes hold the rows SQLite's would: unfinished jobs, undelivered links, grids to animate.
        await conn.execute("SET enable_seqscan = off")
        unfinished = await conn.fetch(
            "SELECT id FROM jobs WHERE status IN ('queued', 'submitting', 'running') ORDER BY created_at, id"
        )
        assert [row[0] for row in unfinished] == ["child", "nulls"]
        plan = "\n".join(
            row[0]
            for row in await conn.fetch(
                "EXPLAIN SELECT finished_at FROM jobs WHERE (meta::jsonb ->> 'then_animate') IS NOT NULL"
            )
        )
        assert "jobs_then_animate" in plan
        animate = await conn.fetch("SELECT id FROM jobs WHERE (meta::jsonb ->> 'then_animate') IS NOT NULL")
        assert [row[0] for row in animate] == ["parent"]
        plan = "\n".join(
            row[0]
            for row in await conn.fetch(
                "EXPLAIN SELECT job_id FROM message_links "
                "WHERE delivered IS NULL OR delivered NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out')"
            )
        )
        assert "message_links_undelivered" in plan

        # Deleting a job clears its children's parent, drops its message links, and keeps its usage.
        await conn.execute("DELETE FROM jobs WHERE id = 'parent'")
        assert await conn.fetchval("SELECT parent_id FROM jobs WHERE id = 'child'") is None
        assert await conn.fetchval("SELECT count(*) FROM message_links") == 0
        assert await conn.fetchval("SELECT job_id FROM usage_ledger") == "parent"
    finally:
        await conn.close()


def test_every_version_after_the_first_has_its_upgrade() -> None:
    assert set(pg_schema.UPGRADES) == set(range(7, pg_schema.SCHEMA_VERSION + 1))


async def test_a_version_6_database_is_upgraded_and_keeps_one_chained_video_per_upscale(postgres_url: str) -> None:
    await (await Store.open(postgres_url)).close()
    conn = await asyncpg.connect(postgres_url)
    try:  # back to version 6, with two videos claiming one upscale, as no release could have made
        await conn.execute("DROP INDEX jobs_chained_once")
        await conn.execute("UPDATE mjbot_meta SET value = '6' WHERE key = 'schema_version'")
        for job_id in ("twinvideo1", "twinvideo2"):
            await conn.execute(
                "INSERT INTO jobs (id, kind, action, prompt, status, created_at, updated_at, meta) "
                "VALUES ($1, 'video', 'generate', 'twin', 'succeeded', 1.0, 1.0, $2)",
                job_id,
                '{"v":2,"chained_from":"someupscale"}',
            )
    finally:
        await conn.close()

    store = await Store.open(postgres_url)
    try:
        assert await store.schema_version() == pg_schema.SCHEMA_VERSION
        first, second = await store.jobs.get_job("twinvideo1"), await store.jobs.get_job("twinvideo2")
        assert first is not None and first.meta.chained_from == "someupscale"
        assert second is not None and second.meta.chained_from is None
        with pytest.raises(AlreadyChainedError):
            await store.jobs.create_job(
                NewJob(kind=JobKind.VIDEO, action="generate", prompt="again", meta=JobMeta(chained_from="someupscale"))
            )
    finally:
        await store.close()
