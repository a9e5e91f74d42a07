"""Copying a whole store between SQLite and PostgreSQL, and comparing two stores: real files, a real server."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import sys
from pathlib import Path

import asyncpg
import pytest
from transfer_kit import Clock, Sample, answers, fill

from bot.store import Store, StoreError
from bot.store.compare import compare
from bot.store.transfer import TABLES, TransferError, copy


async def sample_store(path: Path) -> Sample:
    store = await Store.open(path)
    try:
        return await fill(store, Clock())
    finally:
        await store.close()


async def answers_of(where: str | Path, made: Sample) -> dict[str, object]:
    store = await Store.open(where)
    try:
        return await answers(store, made)
    finally:
        await store.close()


async def count_jobs(where: str | Path) -> int:
    store = await Store.open(where)
    try:
        return len(await store.jobs.recent_jobs(limit=1000))
    finally:
        await store.close()


def all_same(tables: list[object]) -> bool:
    return all(getattr(table, "same", False) for table in tables)


async def test_a_copy_to_postgresql_and_back_answers_every_lookup_alike(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "bot.sqlite3"
    made = await sample_store(source)
    seen = []

    result = await copy(str(source), postgres_url, progress=lambda *report: seen.append(report))

    assert result.rows == {
        "jobs": 7,
        "message_links": 4,
        "guild_settings": 2,
        "user_settings": 1,
        "lease_owners": 1,
        "usage_ledger": 4,
    }
    assert ("jobs", 7, 7) in seen and ("usage_ledger", 4, 4) in seen
    assert all_same(await compare(str(source), postgres_url))
    before = await answers_of(source, made)
    assert await answers_of(postgres_url, made) == before
    # Queued jobs made at one instant keep their order (the tie-break is the order they were written in).
    assert before["queue_positions"] == [1, 2, 3]
    assert before["recent_bob"][:3] == made.queued[::-1]

    back = tmp_path / "back.sqlite3"
    await copy(postgres_url, str(back))
    assert all_same(await compare(postgres_url, str(back)))
    assert all_same(await compare(str(source), str(back)))
    assert await answers_of(back, made) == before


async def test_new_usage_lines_after_a_copy_get_ids_never_given_before(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "bot.sqlite3"
    made = await sample_store(source)
    with sqlite3.connect(source) as conn:  # a line deleted by hand: its id stays given
        conn.execute("DELETE FROM usage_ledger WHERE id = ?", (made.usage_ids[-1],))
    conn.close()

    await copy(str(source), postgres_url)
    back = tmp_path / "back.sqlite3"
    await copy(postgres_url, str(back))

    for where in (postgres_url, back):
        store = await Store.open(where)
        try:
            entry = await store.usage.record_usage(
                job_id=None, guild_id=None, user_id=1, kind="video", action="generate"
            )
        finally:
            await store.close()
        assert entry.id == made.usage_ids[-1] + 1, where


async def test_a_job_whose_parent_was_written_after_it_is_copied_with_its_parent(
    tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "bot.sqlite3"
    made = await sample_store(source)
    with sqlite3.connect(source) as conn:  # the first job written now has the last one for its parent
        conn.execute("UPDATE jobs SET parent_id = ? WHERE id = ?", (made.queued[-1], made.grid))
    conn.close()

    await copy(str(source), postgres_url, batch=3)  # small batches: the parent comes batches later

    assert all_same(await compare(str(source), postgres_url))
    store = await Store.open(postgres_url)
    try:
        assert [job.id for job in await store.jobs.children(made.queued[-1])] == [made.grid]
    finally:
        await store.close()


async def test_a_copy_that_fails_half_way_leaves_the_target_empty(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "bot.sqlite3"
    made = await sample_store(source)
    with sqlite3.connect(source) as conn:  # foreign keys are off in a plain connection: a dangling parent
        conn.execute("UPDATE jobs SET parent_id = 'ghostjob01' WHERE id = ?", (made.video,))
    conn.close()

    for target in (postgres_url, str(tmp_path / "target.sqlite3")):
        with pytest.raises(TransferError) as failure:
            await copy(str(source), target, batch=2)
        assert f"job {made.video}" in str(failure.value) and "ghostjob01" in str(failure.value)
        store = await Store.open(target)
        try:
            for table in TABLES:
                assert (await store.database.fetch(f"SELECT COUNT(*) FROM {table.name}"))[0][0] == 0, table  # noqa: S608
        finally:
            await store.close()


async def test_a_target_that_holds_data_is_refused_and_left_alone(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "bot.sqlite3"
    await sample_store(source)
    await copy(str(source), postgres_url)
    other = tmp_path / "other.sqlite3"
    await sample_store(other)

    with pytest.raises(TransferError, match=r"the target .* already holds 7 jobs; copy into an empty store"):
        await copy(str(other), postgres_url)
    assert all_same(await compare(str(source), postgres_url))  # nothing of the other store came in

    settings_only = tmp_path / "settings.sqlite3"
    store = await Store.open(settings_only)
    await store.settings.save_guild_settings(1, {"locale": "de"})
    await store.close()
    with pytest.raises(TransferError, match="already holds 1 row in guild_settings"):
        await copy(str(source), str(settings_only))


async def test_a_missing_or_foreign_source_is_refused_and_nothing_is_made(tmp_path: Path, postgres_url: str) -> None:
    missing = tmp_path / "nowhere.sqlite3"
    target = tmp_path / "target.sqlite3"
    with pytest.raises(TransferError, match=f"there is no store at {missing}"):
        await copy(str(missing), str(target))
    assert not missing.exists() and not target.exists()

    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (x)")
    conn.close()
    with pytest.raises(TransferError, match="is not an mjbot store"):
        await copy(str(foreign), str(target))
    assert not target.exists()

    # An empty database: most likely --from and --to swapped. It is not made into a store.
    with pytest.raises(TransferError, match="holds no mjbot store"):
        await copy(postgres_url, str(target))
    conn2 = await asyncpg.connect(postgres_url)
    try:
        assert await conn2.fetchval("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == 0
    finally:
        await conn2.close()


async def test_one_store_given_twice_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bot.sqlite3"
    await sample_store(source)
    (tmp_path / "link.sqlite3").symlink_to(source)
    with pytest.raises(TransferError, match="--from and --to both name"):
        await copy(str(source), str(tmp_path / "link.sqlite3"))
    with pytest.raises(TransferError, match="--from and --to both name") as refusal:
        await copy("postgresql://a:pw-secret-1@db:5432/mjbot", "postgresql://b:pw-secret-2@db/mjbot")
    assert "pw-secret" not in str(refusal.value) and "postgresql://a:***@db:5432/mjbot" in str(refusal.value)
    assert await count_jobs(source) == 7


async def test_a_store_held_by_a_running_bot_is_refused(tmp_path: Path) -> None:
    source, other = tmp_path / "bot.sqlite3", tmp_path / "other.sqlite3"
    await sample_store(source)
    await sample_store(other)
    hold = (
        "import sys, time\nfrom bot.store.owner import StoreOwner\n"
        "owner = StoreOwner.acquire(sys.argv[1], 'mjbot run')\nprint('held', flush=True)\ntime.sleep(60)\n"
    )
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", hold, str(source), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and (await holder.stdout.readline()).strip() == b"held"
        with pytest.raises(StoreError, match=r'in use by "mjbot run" \(pid \d+'):
            await copy(str(source), str(tmp_path / "target.sqlite3"))
        with pytest.raises(StoreError, match=r'in use by "mjbot run"'):
            await copy(str(other), str(source))
    finally:
        holder.kill()
        await holder.wait()
    assert await count_jobs(source) == 7


async def test_check_names_the_table_and_the_row_that_differ(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "bot.sqlite3"
    made = await sample_store(source)
    await copy(str(source), postgres_url)
    conn = await asyncpg.connect(postgres_url)
    try:
        # JSON spelled another way is the same JSON: not a difference.
        await conn.execute(
            'UPDATE guild_settings SET settings = \'{ "locale" : "zh-CN", "channels": [822000000000000001], '
            '"limits": {"share": 0.1, "per_user": 3} }\' WHERE guild_id = 811000000000000001'
        )
        assert all_same(await compare(str(source), postgres_url))
        # The smallest change to a float is (0.1 becomes the next float up).
        await conn.execute(
            "UPDATE usage_ledger SET units = $1 WHERE id = $2", math.nextafter(0.1, 1), made.usage_ids[1]
        )
        await conn.execute("UPDATE jobs SET status = 'cancelled', progress = 0 WHERE id = $1", made.upscale)
        await conn.execute("DELETE FROM message_links WHERE message_id = $1", made.messages[1])
    finally:
        await conn.close()

    tables = {table.table: table for table in await compare(str(source), postgres_url)}

    assert not tables["usage_ledger"].same and tables["usage_ledger"].differing == 1
    assert [(d.key, d.what) for d in tables["usage_ledger"].differences] == [(made.usage_ids[1], "differs in units")]
    assert [(d.key, d.what) for d in tables["jobs"].differences] == [(made.upscale, "differs in status, progress")]
    assert tables["message_links"].counts == (4, 3)
    assert [(d.key, d.what) for d in tables["message_links"].differences] == [(made.messages[1], "only in --from")]
    assert tables["guild_settings"].same and tables["user_settings"].same


async def test_check_tells_jobs_written_in_another_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first.sqlite3", tmp_path / "second.sqlite3"
    made = await sample_store(first)
    await copy(str(first), str(second))
    with sqlite3.connect(second) as conn:  # the same rows, the last two queued jobs written the other way round
        for job_id in made.queued[1:][::-1]:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            conn.execute(f"INSERT INTO jobs VALUES ({', '.join('?' * len(row))})", row)  # noqa: S608
    conn.close()

    jobs = (await compare(str(first), str(second)))[0]

    assert jobs.digests[0] == jobs.digests[1] and not jobs.same
    assert jobs.order == f"written in another order: number 6 is {made.queued[1]} in --from, {made.queued[2]} in --to"


async def test_the_copy_knows_every_column_of_every_table(tmp_path: Path, postgres_url: str) -> None:
    """A new column or table in the schema must be taught to the copy, or it would be left behind."""
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        names = await store.database.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        assert sorted(table.name for table in TABLES) == [row[0] for row in names]
        for table in TABLES:
            columns = await store.database.fetch(f"SELECT name FROM pragma_table_info('{table.name}')")  # noqa: S608
            assert table.columns == tuple(row[0] for row in columns), table.name
    finally:
        await store.close()
    store = await Store.open(postgres_url)
    try:
        for table in TABLES:
            columns = await store.database.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                (table.name,),
            )
            assert (*table.columns, *(("seq",) if table.name == "jobs" else ())) == tuple(row[0] for row in columns)
    finally:
        await store.close()
