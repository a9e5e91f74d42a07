"""Schema versions: a new file, an upgrade from every older version, a newer file, reopening."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.store import (
    EMPTY_META,
    AlreadyChainedError,
    DeliveryState,
    FrameSource,
    JobKind,
    JobMeta,
    JobStatus,
    NewJob,
    QueueState,
    Store,
    StoreError,
    VideoOptions,
)
from bot.store.migrations import APPLICATION_ID, LATEST_VERSION, MIGRATIONS, split_statements

OLD_JOB = "oldjob0001"
OLD_CHILD = "oldjob0002"


def seed_v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO jobs (id, task_id, kind, action, prompt, params, status, progress, video_id, video_urls, "
        "image_url, guild_id, channel_id, user_id, created_at, updated_at, submitted_at, finished_at) "
        "VALUES (?, 'task-old', 'video', 'generate', 'an old fox', '{\"mode\":\"fast\"}', 'succeeded', 100, "
        "'vid-old', '[\"https://cdn.example/0.mp4\",\"https://cdn.example/1.mp4\"]', 'https://cdn.example/c.png', "
        "7, 8, 9, 100.0, 160.0, 101.0, 160.0)",
        (OLD_JOB,),
    )
    conn.execute(
        "INSERT INTO jobs (id, kind, action, prompt, status, progress, parent_id, user_id, created_at, updated_at) "
        "VALUES (?, 'video', 'extend', 'further', 'running', 30, ?, 9, 200.0, 210.0)",
        (OLD_CHILD, OLD_JOB),
    )
    conn.execute(
        "INSERT INTO message_links (message_id, job_id, channel_id, guild_id, purpose, interaction_token, "
        "application_id, created_at) VALUES (4242, ?, 8, 7, 'job', 'tok-old', 55, 161.0)",
        (OLD_JOB,),
    )
    conn.execute(
        "INSERT INTO message_links (message_id, job_id, channel_id, guild_id, created_at) "
        "VALUES (4343, ?, 8, 7, 201.0)",
        (OLD_CHILD,),
    )


def seed_v2(conn: sqlite3.Connection) -> None:
    conn.execute('INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (7, \'{"mode":"relax"}\', 1.0)')
    conn.execute("INSERT INTO user_settings (user_id, settings, updated_at) VALUES (9, '{\"dm\":true}', 1.0)")
    conn.execute(
        "INSERT INTO usage_ledger (job_id, guild_id, user_id, kind, action, units, created_at) "
        "VALUES (?, 7, 9, 'video', 'generate', 2.0, 150.0)",
        (OLD_JOB,),
    )


def seed_v3(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, action, prompt, status, progress, parent_id, user_id, created_at, updated_at, "
        "meta) VALUES ('oldjob0003', 'imagine', 'upscale1', 'an old fox', 'running', 10, ?, 9, 300.0, 300.0, ?)",
        (OLD_JOB, '{"then_animate":{"motion":"low"}}'),
    )
    conn.execute(
        "INSERT INTO message_links (message_id, job_id, purpose, attachment_limit, delivered, created_at) "
        "VALUES (4444, 'oldjob0003', 'job', 26214400, 'running', 301.0)"
    )


def seed_v4(conn: sqlite3.Connection) -> None:
    for number, created in ((5, 400.0), (4, 390.0)):
        conn.execute(
            "INSERT INTO jobs (id, kind, action, prompt, params, status, user_id, guild_id, created_at, updated_at) "
            'VALUES (?, \'imagine\', \'generate\', \'a queued fox\', \'{"action":"generate","prompt":"a queued fox",'
            '"mode":"fast"}\', \'queued\', 9, 7, ?, ?)',
            (f"oldjob000{number}", created, created),
        )


def seed_v5(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, action, prompt, params, status, user_id, guild_id, created_at, updated_at, meta) "
        "VALUES ('newjob0006', 'imagine', 'generate', 'a typed fox', '{}', 'succeeded', 9, 7, 410.0, 410.0, ?)",
        ('{"v":2,"locale":"de","queue":{"limit":2,"released_at":411.0}}',),
    )


def seed_v6(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, action, prompt, params, status, task_id, user_id, guild_id, created_at, "
        "updated_at, lease_owner, lease_until) VALUES ('leasejob07', 'imagine', 'generate', 'a leased fox', '{}', "
        "'succeeded', 'task-leased', 9, 7, 420.0, 420.0, 'elsewhere:1:abc', 450.0)"
    )


def seed_v7(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, action, prompt, params, status, user_id, guild_id, created_at, updated_at, meta) "
        "VALUES ('chainjob08', 'video', 'generate', 'a chained fox', '{}', 'failed', 9, 7, 430.0, 430.0, ?)",
        ('{"v":2,"chained_from":"leasejob07"}',),
    )


def seed_v8(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO lease_owners (owner, until) VALUES ('elsewhere:1:abc', 450.0)")


SEEDS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: seed_v1,
    2: seed_v2,
    3: seed_v3,
    4: seed_v4,
    5: seed_v5,
    6: seed_v6,
    7: seed_v7,
    8: seed_v8,
}


def build_at_version(path: Path, version: int) -> None:
    """A file as an older release left it: only the first ``version`` scripts, each followed by its data."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for number, script in enumerate(MIGRATIONS[:version], start=1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
            with conn:
                conn.execute("BEGIN")
                SEEDS[number](conn)
    finally:
        conn.close()


def schema_of(path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(path) as conn:
        # sqlite_stat1 and sqlite_sequence come and go with use (PRAGMA optimize, AUTOINCREMENT), not with versions
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite^_%' ESCAPE '^'")
        return sorted(rows.fetchall())


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_every_version_has_its_seed() -> None:
    assert set(SEEDS) == set(range(1, LATEST_VERSION + 1)), "add a seed for the new schema version"


async def test_a_new_file_gets_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    store = await Store.open(path)
    try:
        assert await store.schema_version() == LATEST_VERSION
    finally:
        await store.close()
    assert user_version(path) == LATEST_VERSION
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    tables = {name for kind, name, _ in schema_of(path) if kind == "table"}
    assert {"jobs", "message_links", "guild_settings", "user_settings", "usage_ledger"} <= tables


@pytest.mark.parametrize("version", range(LATEST_VERSION))
async def test_upgrade_from_each_older_version_keeps_the_data(tmp_path: Path, version: int) -> None:
    path = tmp_path / f"v{version}.sqlite3"
    build_at_version(path, version)
    assert user_version(path) == version

    store = await Store.open(path, clock=lambda: 1000.0)
    try:
        assert await store.schema_version() == LATEST_VERSION
        if version >= 1:
            job = await store.links.job_for_message(4242)
            assert job is not None
            assert (job.id, job.status, job.task_id, job.video_id) == (
                OLD_JOB,
                JobStatus.SUCCEEDED,
                "task-old",
                "vid-old",
            )
            assert job.params == {"mode": "fast"}
            assert job.video_urls == ("https://cdn.example/0.mp4", "https://cdn.example/1.mp4")
            link = await store.links.link_for_message(4242)
            assert link is not None
            assert (link.interaction_token, link.application_id) == ("tok-old", 55)
            later = ["oldjob0003"] if version >= 3 else []  # the upscale seeded at version 3
            assert [child.id for child in await store.jobs.children(OLD_JOB)] == [OLD_CHILD, *later]
            queued = ["oldjob0004", "oldjob0005"] if version >= 4 else []  # seeded at version 4
            assert [resumed.id for resumed in await store.jobs.unfinished_jobs()] == [OLD_CHILD, *later, *queued]
        if 1 <= version < 3:
            # Older jobs get empty metadata; the message of an old finished job counts as showing its result,
            # and the message of a job still running will be rendered once it finishes.
            assert job is not None and job.meta == EMPTY_META
            assert (link.attachment_limit, link.delivered) == (None, "succeeded")
            running = await store.links.link_for_message(4343)
            assert running is not None and running.delivered is None
            assert await store.links.undelivered_links() == []
            finished, _ = await store.jobs.finish_job(OLD_CHILD, JobStatus.FAILED, error_message="gone")
            assert await store.links.undelivered_links() == [(running, finished)]
        if version >= 2:
            assert await store.settings.guild_settings(7) == {"mode": "relax"}
            assert await store.settings.user_settings(9) == {"dm": True}
            assert await store.usage.usage_total(0.0, guild_id=7) == 2.0

        # Everything of the latest version works on the upgraded file.
        new = await store.jobs.create_job(NewJob(kind=JobKind.IMAGINE, action="generate", prompt="new", user_id=9))
        await store.links.link_message(5151, new.id, channel_id=1, guild_id=2)
        await store.settings.save_guild_settings(3, {"x": 1})
        await store.usage.record_usage(job_id=new.id, guild_id=3, user_id=9, kind="imagine", action="generate")
        assert await store.links.job_for_message(5151) == new
        assert await store.usage.usage_total(999.0, user_id=9) == 1.0
        patched = await store.jobs.update_meta(
            new.id, lambda meta: dataclasses.replace(meta, then_animate=VideoOptions())
        )
        assert patched.meta == JobMeta(then_animate=VideoOptions())
        finished, _ = await store.jobs.finish_job(new.id, JobStatus.SUCCEEDED)
        assert await store.jobs.pending_chains(0.0) == [finished]
        link = await store.links.link_message(5252, new.id, channel_id=1, guild_id=2, attachment_limit=10_485_760)
        assert link.attachment_limit == 10_485_760
        old = [4343] if 1 <= version < 3 else []  # finished above, so its message is due to be rendered
        assert [(shown.message_id, job.id) for shown, job in await store.links.undelivered_links()] == [
            *((message_id, OLD_CHILD) for message_id in old),
            (5151, new.id),
            (5252, new.id),
        ]
        await store.links.mark_delivered(5151, "succeeded")
        await store.links.mark_delivered(5252, "succeeded")
        assert [shown.message_id for shown, _ in await store.links.undelivered_links()] == old

        # The queue (version 4): positions, the owner's oldest job, running counts and claiming.
        first = await store.jobs.create_job(
            NewJob(kind=JobKind.IMAGINE, action="generate", prompt="q1", user_id=9, guild_id=3, status=JobStatus.QUEUED)
        )
        second = await store.jobs.create_job(
            NewJob(kind=JobKind.IMAGINE, action="generate", prompt="q2", user_id=9, guild_id=3, status=JobStatus.QUEUED)
        )
        assert [await store.queue.queue_position(job.id) for job in (first, second)] == [1, 2]
        assert await store.queue.queued_owners() == [*([(9, 7)] if version >= 4 else []), (9, 3)]
        claimed = await store.queue.claim_queued(first.id)
        assert claimed is not None and claimed.status is JobStatus.SUBMITTING
        assert await store.queue.claim_queued(first.id) is None
        assert await store.queue.running_count(9, 3) == 1
        assert await store.queue.queue_position(second.id) == 1
        assert (await store.queue.next_queued(9, 3)) == second
    finally:
        await store.close()

    fresh = tmp_path / "fresh.sqlite3"
    await (await Store.open(fresh)).close()
    assert schema_of(path) == schema_of(fresh)


async def test_a_file_at_the_latest_version_opens_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "latest.sqlite3"
    build_at_version(path, LATEST_VERSION)
    schema = schema_of(path)
    store = await Store.open(path)
    try:
        upscale = await store.links.job_for_message(4444)
        assert upscale is not None and upscale.parent_id == OLD_JOB
        assert upscale.meta == JobMeta(then_animate=VideoOptions(motion="low"))
        link = await store.links.link_for_message(4444)
        assert link is not None and (link.attachment_limit, link.delivered) == (26_214_400, "running")
        assert (await store.links.link_for_message(4242)).delivered == "succeeded"  # type: ignore[union-attr]
        # Queued jobs seeded at the latest version wait in the order they were made.
        assert [job.id for job in await store.queue.queued_jobs(user_id=9)] == ["oldjob0004", "oldjob0005"]
        assert await store.queue.queue_position("oldjob0005") == 2
        assert await store.queue.queued_owners() == [(9, 7)]
        typed = await store.jobs.get_job("newjob0006")
        assert typed is not None and typed.meta == JobMeta(locale="de", queue=QueueState(limit=2, released_at=411.0))
    finally:
        await store.close()
    assert schema_of(path) == schema


async def test_a_newer_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    schema = schema_of(path)

    with pytest.raises(StoreError) as caught:
        await Store.open(path)
    message = str(caught.value)
    assert f"schema version {LATEST_VERSION + 1}" in message
    assert f"up to {LATEST_VERSION}" in message
    assert "upgrade mjbot" in message
    assert str(path) in message
    assert user_version(path) == LATEST_VERSION + 1
    assert schema_of(path) == schema


async def test_reopening_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    store = await Store.open(path)
    job = await store.jobs.create_job(NewJob(kind=JobKind.VIDEO, action="generate", prompt="kept"))
    await store.close()
    schema = schema_of(path)

    for _ in range(2):
        store = await Store.open(path)
        try:
            assert await store.schema_version() == LATEST_VERSION
            assert await store.jobs.get_job(job.id) == job
        finally:
            await store.close()
    assert schema_of(path) == schema


async def test_a_failed_upgrade_leaves_the_file_at_its_version(tmp_path: Path) -> None:
    path = tmp_path / "clash.sqlite3"
    build_at_version(path, 1)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE usage_ledger (something_else TEXT)")  # clashes with version 2

    with pytest.raises(StoreError, match="from schema version 1 to 2") as caught:
        await Store.open(path)
    assert "left at version 1" in str(caught.value)
    assert user_version(path) == 1
    tables = {name for kind, name, _ in schema_of(path) if kind == "table"}
    assert "guild_settings" not in tables  # created earlier in the same script, rolled back with it

    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE usage_ledger")
    store = await Store.open(path)
    try:
        assert await store.schema_version() == LATEST_VERSION
        assert (await store.jobs.get_job(OLD_JOB)) is not None
    finally:
        await store.close()


async def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 1234")
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreError, match="another application"):
        await Store.open(path)
    assert user_version(path) == 0


async def test_a_database_of_unknown_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "someone-elses.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(StoreError, match="already holds tables"):
        await Store.open(path)
    assert {name for _, name, _ in schema_of(path)} == {"notes"}


async def test_two_processes_opening_a_new_file_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "race.sqlite3"
    stores = await asyncio.gather(Store.open(path), Store.open(path), Store.open(path))
    try:
        assert [await store.schema_version() for store in stores] == [LATEST_VERSION] * 3
    finally:
        for store in stores:
            await store.close()


def test_scripts_split_into_complete_statements() -> None:
    for script in MIGRATIONS:
        statements = split_statements(script)
        assert statements
        assert all(sqlite3.complete_statement(statement) for statement in statements)
        assert not any(statement.startswith("--") for statement in statements)
    with pytest.raises(ValueError, match="incomplete SQL statement"):
        split_statements("CREATE TABLE a (x);\nCREATE TABLE b (")


#: Job meta as version 4 wrote it: top-level keys, the queue's and the DMs' notes loose, frames with a version.
OLD_FORM_META = {
    "oldmeta001": {
        "locale": "zh-CN",
        "video_grid": True,
        "video_options": {"mode": "turbo", "resolution": "480p", "loop": False, "bs": 2, "motion": "low"},
        "follow_up": "reroll:",
        "frames": {"v": 1, "image_url": {"url": "https://cdn.example/s.png", "copy_on": ""}},
        "dm_sent": True,
        "dm_result": True,
    },
    "oldmeta002": {"then_animate": {"motion": None, "mode": "fast", "resolution": "720p", "loop": False}},
    "oldmeta003": {
        "chained_from": "oldmeta002",
        "motion": "high",
        "clip": 3,
        "queued_for": {"limit": 2},
        "released_at": 505.5,
        "frames": {"v": 7, "image_url": {"url": "https://cdn.example/unread.png"}},
    },
}


async def test_old_job_meta_is_carried_into_the_typed_form(tmp_path: Path) -> None:
    path = tmp_path / "v4-meta.sqlite3"
    build_at_version(path, 4)
    with sqlite3.connect(path) as conn:
        for number, (job_id, meta) in enumerate(OLD_FORM_META.items()):
            parent = "oldmeta002" if job_id == "oldmeta003" else None
            conn.execute(
                "INSERT INTO jobs (id, kind, action, prompt, status, parent_id, user_id, created_at, updated_at, "
                "finished_at, meta) VALUES (?, 'imagine', 'generate', 'a fox', 'succeeded', ?, 9, ?, ?, ?, ?)",
                (job_id, parent, 500.0 + number, 500.0 + number, 510.0 + number, json.dumps(meta)),
            )

    store = await Store.open(path)
    try:
        grid, upscale, video = (await store.jobs.jobs_by_ids(list(OLD_FORM_META))).values()
        assert grid.meta == JobMeta(
            locale="zh-CN",
            video_grid=True,
            video_options=VideoOptions(mode="turbo", resolution="480p", motion="low", batch_size=2),
            follow_up="reroll:",
            frames={"image_url": FrameSource("https://cdn.example/s.png", copy_on="")},
            delivery=DeliveryState(dm_sent=True, dm_result=True),
        )
        assert upscale.meta == JobMeta(then_animate=VideoOptions())
        # A frame record of a version that was never read stays unread.
        assert video.meta == JobMeta(
            chained_from="oldmeta002", motion="high", clip=3, queue=QueueState(limit=2, released_at=505.5)
        )
        # The store's own queries read the new form: the upscale's chain is done (its video names it).
        assert await store.jobs.pending_chains(0.0) == []
        await store.jobs.delete_job(video.id)
        assert [job.id for job in await store.jobs.pending_chains(0.0)] == [upscale.id]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        stored = dict(conn.execute("SELECT id, meta FROM jobs WHERE id LIKE 'oldmeta%'").fetchall())
    assert json.loads(stored["oldmeta001"]) == grid.meta.to_json() and '"v":2' in stored["oldmeta001"]


async def test_an_upscale_keeps_one_chained_video_through_the_upgrade_and_after(tmp_path: Path) -> None:
    path = tmp_path / "chains.sqlite3"
    build_at_version(path, 6)
    with sqlite3.connect(path) as conn:  # two videos claiming one upscale, as no release could have made
        for job_id, at in (("twinvideo1", 500.0), ("twinvideo2", 501.0)):
            conn.execute(
                "INSERT INTO jobs (id, kind, action, prompt, params, status, created_at, updated_at, meta) "
                "VALUES (?, 'video', 'generate', 'twin', '{}', 'succeeded', ?, ?, ?)",
                (job_id, at, at, '{"v":2,"chained_from":"leasejob07"}'),
            )
    store = await Store.open(path)
    try:
        first = await store.jobs.get_job("twinvideo1")
        second = await store.jobs.get_job("twinvideo2")
        assert first is not None and first.meta.chained_from == "leasejob07"
        assert second is not None and second.meta.chained_from is None
        with pytest.raises(AlreadyChainedError):
            await store.jobs.create_job(
                NewJob(kind=JobKind.VIDEO, action="generate", prompt="again", meta=JobMeta(chained_from="leasejob07"))
            )
    finally:
        await store.close()
