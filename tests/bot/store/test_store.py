"""The job store against real SQLite files: every method, as the engine and the cogs use them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.store import (
    EMPTY_META,
    UNFINISHED_STATUSES,
    AlreadyChainedError,
    DeliveryState,
    FinishItem,
    Job,
    JobKind,
    JobMeta,
    JobNotFoundError,
    JobResult,
    JobStatus,
    Lease,
    NewJob,
    QueueState,
    SavedProgress,
    Store,
    StoreError,
    VideoOptions,
)
from bot.store import jobs as store_db
from bot.store import links as store_links
from bot.store.meta import META_VERSION
from bot.store.migrations import LATEST_VERSION

START = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mjbot.sqlite3"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, db_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    """The store on each backend: an SQLite file, and a fresh PostgreSQL database."""
    where = str(db_path) if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = await Store.open(where, clock=clock)
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_store(db_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    """The store on an SQLite file, for what only SQLite has (the file, its query plans, the quick reader)."""
    opened = await Store.open(db_path, clock=clock)
    yield opened
    await opened.close()


NAN = float("nan")


def video(prompt: str = "a red fox running", **kwargs: Any) -> NewJob:
    return NewJob(kind=JobKind.VIDEO, action="generate", prompt=prompt, **kwargs)


IMAGE_RESULT = JobResult(
    image_id="img-1",
    image_url="https://cdn.example/grid.png",
    raw_image_url="https://cdn.example/raw.png",
    image_width=2048,
    image_height=1536,
    sub_image_urls=("https://cdn.example/1.png", "https://cdn.example/2.png"),
    actions=("upscale1", "upscale2", "reroll", "variation1"),
)
VIDEO_RESULT = JobResult(
    video_id="vid-1",
    video_urls=tuple(f"https://cdn.example/v{i}.mp4" for i in range(4)),
    image_url="https://cdn.example/cover.png",
    image_width=1280,
    image_height=720,
)


# -- opening --------------------------------------------------------------------------------------


async def test_open_creates_parent_directories_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "mjbot.sqlite3"
    store = await Store.open(path)
    try:
        assert path.is_file()
        assert await store.schema_version() == LATEST_VERSION
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)
    with pytest.raises(StoreError, match="is not an SQLite database") as caught:
        await Store.open(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder; set \\[store\\] path to a file in it"):
        await Store.open(tmp_path)


async def test_a_parent_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "occupied"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(StoreError, match="cannot create the directory"):
        await Store.open(blocker / "mjbot.sqlite3")


async def test_a_closed_store_says_so(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    await store.close()  # twice is fine
    with pytest.raises(StoreError, match="closed"):
        await store.jobs.get_job("abcdefghij")


async def test_async_with_closes_the_store(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.jobs.create_job(video())
    with pytest.raises(StoreError, match="closed"):
        await store.jobs.unfinished_jobs()


READ_ONLY_ADVICE = "give the user that runs mjbot write access to the file and its folder"
OPEN_IN_A_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from bot.store import Store, StoreError

    async def main():
        try:
            store = await Store.open(sys.argv[1])
        except StoreError as error:
            print("refused:", error)
        else:
            await store.close()
            print("opened")

    asyncio.run(main())
    """
)


def bound_by_file_modes() -> list[str]:
    """The command prefix that runs a child process which file modes apply to (root's override dropped)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to apply to a child")
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    if subprocess.run([*prefix, "true"], capture_output=True, timeout=30, check=False).returncode != 0:
        pytest.skip("the permission override cannot be dropped here (no CAP_SETPCAP)")
    return prefix


async def make_store(path: Path) -> None:
    store = await Store.open(path)
    try:
        job = await store.jobs.create_job(video())
        await store.jobs.mark_submitted(job.id, "task-1")
    finally:
        await store.close()


def test_a_store_file_mjbot_may_not_write_is_refused_at_start_up(db_path: Path) -> None:
    """A migrated store at mode 444 is refused with the advice, and no -wal or -shm file is left beside it.

    Root may write any file whatever its mode, and CI runs as root; so the store is opened in a child process
    that stays root but has lost the capabilities that override file modes (``setpriv`` drops them from its
    bounding set). That keeps every path the same, needs no other user to reach the venv or the test folder,
    and the child meets the file exactly as a non-root user of mjbot does. Not root, the child needs nothing.
    """
    prefix = bound_by_file_modes()
    asyncio.run(make_store(db_path))
    assert [path.name for path in db_path.parent.iterdir()] == [db_path.name]
    content = db_path.read_bytes()
    db_path.chmod(0o444)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", OPEN_IN_A_CHILD, str(db_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        db_path.chmod(0o644)
    assert done.stdout.strip() == (
        f"refused: the database {db_path} is read-only (Permission denied); {READ_ONLY_ADVICE} "
        "(SQLite writes its journal beside it)"
    )
    assert [path.name for path in db_path.parent.iterdir()] == [db_path.name]  # no -wal, no -shm left behind
    assert db_path.read_bytes() == content


async def test_a_store_sqlite_opens_only_for_reading_is_refused_at_start_up(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite opens a file it may not write for reading only, without a word; the store proves it can write.

    Root may write any file, so this connection is made read-only by SQLite's own ``mode=ro``: a real read-only
    connection, whose refusal to write is SQLite's own error.
    """
    await make_store(db_path)
    connect = aiosqlite.connect

    def read_only(database: Path, **kwargs: Any) -> aiosqlite.Connection:
        return connect(f"file:{database}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr(aiosqlite, "connect", read_only)
    with pytest.raises(StoreError) as caught:
        await Store.open(db_path)
    assert str(caught.value).startswith(
        f"the database {db_path} is read-only (attempt to write a readonly database); {READ_ONLY_ADVICE}"
    )


def overwrite_index_pages(path: Path, table: str) -> None:
    """Damage the file inside, as a bad disk does: every index page of ``table`` is overwritten with junk."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            row[0]
            for row in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
        ]
    conn.close()
    with path.open("r+b") as file:
        for root in roots:
            file.seek((root - 1) * page_size)
            file.write(b"\xff" * page_size)


async def test_damage_met_at_run_time_names_the_file_and_the_advice_and_is_logged_once(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await make_store(db_path)
    overwrite_index_pages(db_path, "jobs")
    store = await Store.open(db_path)  # start-up reads the schema only: checking every page would cost (README)
    try:
        for _ in range(2):
            with pytest.raises(StoreError) as caught:
                await store.jobs.get_job_by_task("task-1")
            assert str(caught.value) == (
                f"the database {db_path} is damaged (database disk image is malformed); restore it from a backup, "
                "or move it aside and mjbot starts with a new, empty store"
            )
    finally:
        await store.close()
    logged = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in logged] == [str(caught.value)]


# -- jobs -----------------------------------------------------------------------------------------


async def test_create_job_assigns_short_ids_and_clock_times(store: Store, clock: FakeClock) -> None:
    params = {"prompt": "a red fox", "mode": "fast", "nested": {"list": [1, 2, 3]}, "flag": True}
    job = await store.jobs.create_job(video(params=params, guild_id=10, channel_id=11, user_id=12))
    assert re.fullmatch(r"[a-z0-9]{10}", job.id)
    assert job.status is JobStatus.SUBMITTING
    assert job.progress == 0
    assert job.created_at == job.updated_at == START
    assert job.params == params
    assert await store.jobs.get_job(job.id) == job

    ids = {(await store.jobs.create_job(video())).id for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[a-z0-9]{10}", job_id) for job_id in ids)


async def test_create_job_keeps_the_requested_status(store: Store) -> None:
    job = await store.jobs.create_job(video(status=JobStatus.QUEUED))
    assert job.status is JobStatus.QUEUED
    assert (await store.jobs.get_job(job.id)) == job


async def test_create_job_draws_a_new_id_when_one_is_taken(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await store.jobs.create_job(video())
    drawn = iter([first.id, "fresh00001"])
    monkeypatch.setattr(store_db, "new_job_id", lambda: next(drawn))
    second = await store.jobs.create_job(video("another"))
    assert second.id == "fresh00001"
    assert (await store.jobs.get_job(first.id)) == first


async def test_create_job_with_an_unknown_parent_is_refused(store: Store) -> None:
    with pytest.raises(JobNotFoundError, match="parent job 'nosuchjob1'"):
        await store.jobs.create_job(video(parent_id="nosuchjob1"))


async def test_get_job_and_get_job_by_task(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(video())
    assert await store.jobs.get_job("missing123") is None
    assert await store.jobs.get_job_by_task("task-1") is None
    clock.advance(5)
    running = await store.jobs.mark_submitted(job.id, "task-1")
    assert running.status is JobStatus.RUNNING
    assert running.task_id == "task-1"
    assert running.submitted_at == running.updated_at == START + 5
    assert await store.jobs.get_job_by_task("task-1") == running
    assert await store.jobs.mark_submitted(job.id, "task-1") == running  # told twice: same outcome


async def test_a_task_id_belongs_to_one_job(store: Store) -> None:
    first = await store.jobs.create_job(video())
    second = await store.jobs.create_job(video())
    await store.jobs.mark_submitted(first.id, "task-1")
    with pytest.raises(StoreError, match="already belongs to another job"):
        await store.jobs.mark_submitted(second.id, "task-1")
    assert (await store.jobs.get_job(second.id)).task_id is None  # type: ignore[union-attr]


async def test_mark_submitted_on_a_cancelled_job_records_the_task_but_keeps_it_cancelled(store: Store) -> None:
    job = await store.jobs.create_job(video())
    await store.jobs.finish_job(job.id, JobStatus.CANCELLED)
    after = await store.jobs.mark_submitted(job.id, "late-task")
    assert after.status is JobStatus.CANCELLED
    assert after.task_id == "late-task"


async def test_changing_an_unknown_job_raises(store: Store) -> None:
    with pytest.raises(JobNotFoundError):
        await store.jobs.mark_submitted("missing123", "task")
    with pytest.raises(JobNotFoundError):
        await store.jobs.set_status("missing123", JobStatus.SUBMITTING)
    with pytest.raises(JobNotFoundError):
        await store.jobs.finish_job("missing123", JobStatus.FAILED)


async def test_jobs_by_ids_returns_only_known_jobs(store: Store) -> None:
    jobs = [await store.jobs.create_job(video(f"prompt {i}")) for i in range(3)]
    found = await store.jobs.jobs_by_ids([jobs[0].id, "missing123", jobs[2].id, jobs[0].id])
    assert found == {jobs[0].id: jobs[0], jobs[2].id: jobs[2]}
    assert await store.jobs.jobs_by_ids([]) == {}


async def test_jobs_by_ids_takes_thousands_of_ids(store: Store) -> None:
    jobs = [await store.jobs.create_job(video()) for _ in range(50)]
    wanted = [job.id for job in jobs] + [f"absent{i:04d}" for i in range(2000)]
    assert set(await store.jobs.jobs_by_ids(wanted)) == {job.id for job in jobs}


async def test_set_status_moves_unfinished_jobs_only(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(video(status=JobStatus.QUEUED))
    clock.advance(2)
    moved = await store.jobs.set_status(job.id, JobStatus.SUBMITTING)
    assert moved.status is JobStatus.SUBMITTING
    assert moved.updated_at == START + 2
    with pytest.raises(ValueError, match="finish_job"):
        await store.jobs.set_status(job.id, JobStatus.SUCCEEDED)
    finished, _ = await store.jobs.finish_job(job.id, JobStatus.CANCELLED)
    assert await store.jobs.set_status(job.id, JobStatus.RUNNING) == finished


async def test_update_progress_many_touches_only_unfinished_jobs_and_never_goes_back(
    store: Store, clock: FakeClock
) -> None:
    running = await store.jobs.create_job(video())
    other = await store.jobs.create_job(video())
    done = await store.jobs.create_job(video())
    await store.jobs.finish_job(done.id, JobStatus.FAILED, error_code="boom", error_message="broke")
    await store.jobs.update_meta(other.id, lambda meta: dataclasses.replace(meta, clip=2))
    clock.advance(3)
    saved = await store.jobs.update_progress_many(
        [(running.id, 30), (running.id, 40), (other.id, 10), (done.id, 70), ("missing123", 50)]
    )
    assert sorted(saved) == sorted(
        [
            SavedProgress(running.id, 40, START + 3, None, EMPTY_META),  # the highest figure of the two
            SavedProgress(other.id, 10, START + 3, None, JobMeta(clip=2)),
        ]
    )
    after = await store.jobs.jobs_by_ids([running.id, other.id, done.id])
    assert after[running.id].progress == 40
    assert after[running.id].updated_at == START + 3
    assert after[other.id].progress == 10
    assert after[done.id].progress == 0

    clock.advance(3)
    saved = await store.jobs.update_progress_many([(running.id, 20), (other.id, 55)])
    assert [(change.job_id, change.progress) for change in saved] == [(other.id, 55)]
    after = await store.jobs.jobs_by_ids([running.id, other.id])
    assert after[running.id].progress == 40  # a late, smaller figure does not undo progress
    assert after[running.id].updated_at == START + 3
    assert after[other.id].progress == 55
    assert await store.jobs.update_progress_many([]) == []


async def test_finish_job_stores_an_image_result(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(NewJob(kind=JobKind.IMAGINE, action="generate", prompt="a castle"))
    await store.links.link_message(600, job.id, channel_id=1, guild_id=2)
    await store.jobs.mark_submitted(job.id, "task-9")
    clock.advance(30)
    finished, changed = await store.jobs.finish_job(job.id, JobStatus.SUCCEEDED, result=IMAGE_RESULT)
    assert changed
    assert finished.status is JobStatus.SUCCEEDED
    assert finished.progress == 100
    assert finished.finished_at == finished.updated_at == START + 30
    for name in (field.name for field in dataclasses.fields(JobResult)):
        assert getattr(finished, name) == getattr(IMAGE_RESULT, name), name
    assert await store.jobs.get_job(job.id) == finished
    assert await store.links.job_for_message(600) == finished  # a button clicked right after sees the result


async def test_finish_job_is_idempotent(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(video())
    await store.jobs.update_progress_many([(job.id, 60)])
    first, changed = await store.jobs.finish_job(job.id, JobStatus.SUCCEEDED, result=VIDEO_RESULT)
    assert changed
    for name in (field.name for field in dataclasses.fields(JobResult)):
        assert getattr(first, name) == getattr(VIDEO_RESULT, name), name
    clock.advance(10)
    again, changed_again = await store.jobs.finish_job(
        job.id, JobStatus.FAILED, result=JobResult(video_id="other"), error_code="late", error_message="late"
    )
    assert not changed_again
    assert again == first


async def test_a_failed_job_keeps_its_error_and_progress(store: Store) -> None:
    job = await store.jobs.create_job(video())
    await store.jobs.update_progress_many([(job.id, 35)])
    failed, changed = await store.jobs.finish_job(
        job.id, JobStatus.FAILED, error_code="forbidden", error_message="prompt was moderated"
    )
    assert changed
    assert (failed.error_code, failed.error_message, failed.progress) == ("forbidden", "prompt was moderated", 35)
    with pytest.raises(ValueError, match="not a finished status"):
        await store.jobs.finish_job(job.id, JobStatus.RUNNING)


async def test_a_callback_and_a_poll_finishing_at_once_change_the_job_once(store: Store) -> None:
    job = await store.jobs.create_job(video())
    outcomes = await asyncio.gather(
        *(store.jobs.finish_job(job.id, JobStatus.SUCCEEDED, result=VIDEO_RESULT) for _ in range(10))
    )
    assert sum(changed for _, changed in outcomes) == 1
    stored = await store.jobs.get_job(job.id)
    assert all(finished == stored for finished, _ in outcomes)


async def test_finish_many_returns_only_the_jobs_it_changed(store: Store, clock: FakeClock) -> None:
    a, b, c = [await store.jobs.create_job(video(f"job {i}")) for i in range(3)]
    await store.jobs.finish_job(b.id, JobStatus.CANCELLED)
    clock.advance(7)
    changed = await store.jobs.finish_many(
        [
            FinishItem(a.id, JobStatus.SUCCEEDED, result=VIDEO_RESULT),
            FinishItem(b.id, JobStatus.SUCCEEDED, result=VIDEO_RESULT),
            FinishItem(a.id, JobStatus.FAILED, error_code="dup"),
            FinishItem("missing123", JobStatus.FAILED),
            FinishItem(c.id, JobStatus.TIMED_OUT, error_code="timeout", error_message="took too long"),
        ]
    )
    assert [job.id for job in changed] == [a.id, c.id]
    assert changed[0].status is JobStatus.SUCCEEDED
    assert changed[0].video_id == "vid-1"
    assert changed[1].status is JobStatus.TIMED_OUT
    assert changed[1].finished_at == START + 7
    assert (await store.jobs.get_job(b.id)).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    assert await store.jobs.finish_many([]) == []
    assert await store.jobs.finish_many([FinishItem(a.id, JobStatus.FAILED)]) == []


def test_finish_item_requires_a_finished_status() -> None:
    with pytest.raises(ValueError, match="not a finished status"):
        FinishItem("abcdefghij", JobStatus.QUEUED)


async def test_unfinished_jobs_are_the_queued_submitting_and_running_ones_oldest_first(
    store: Store, clock: FakeClock
) -> None:
    by_status: dict[JobStatus, Job] = {}
    for status in reversed(JobStatus):
        clock.advance()
        job = await store.jobs.create_job(video(status=JobStatus.QUEUED))
        if status.finished:
            await store.jobs.finish_job(job.id, status)
        elif status is not JobStatus.QUEUED:
            await store.jobs.set_status(job.id, status)
        by_status[status] = job
    unfinished = await store.jobs.unfinished_jobs()
    assert {job.status for job in unfinished} == set(UNFINISHED_STATUSES)
    assert [job.id for job in unfinished] == [
        by_status[status].id for status in reversed(JobStatus) if status in UNFINISHED_STATUSES
    ]


async def test_recent_jobs_newest_first_with_filters(store: Store, clock: FakeClock) -> None:
    made: list[Job] = []
    for i in range(6):
        clock.advance()
        made.append(await store.jobs.create_job(video(f"job {i}", user_id=1 + i % 2, guild_id=100 + i % 3)))
    await store.jobs.finish_job(made[4].id, JobStatus.SUCCEEDED)

    def ids(jobs: list[Job]) -> list[str]:
        return [job.id for job in jobs]

    assert ids(await store.jobs.recent_jobs()) == ids(made[::-1])
    assert ids(await store.jobs.recent_jobs(limit=2)) == ids([made[5], made[4]])
    assert ids(await store.jobs.recent_jobs(user_id=1)) == ids([made[4], made[2], made[0]])
    assert ids(await store.jobs.recent_jobs(guild_id=100)) == ids([made[3], made[0]])
    assert ids(await store.jobs.recent_jobs(user_id=2, guild_id=100)) == ids([made[3]])
    assert ids(await store.jobs.recent_jobs(statuses=[JobStatus.SUCCEEDED])) == ids([made[4]])
    assert ids(await store.jobs.recent_jobs(user_id=1, statuses=UNFINISHED_STATUSES)) == ids([made[2], made[0]])
    assert await store.jobs.recent_jobs(statuses=[]) == []
    assert await store.jobs.recent_jobs(limit=0) == []


async def test_recent_jobs_with_equal_times_list_the_last_created_first(store: Store) -> None:
    made = [await store.jobs.create_job(video(f"job {i}", user_id=5)) for i in range(4)]
    assert [job.id for job in await store.jobs.recent_jobs(user_id=5)] == [job.id for job in reversed(made)]


async def test_children_and_deleting_a_parent(store: Store, clock: FakeClock) -> None:
    parent = await store.jobs.create_job(NewJob(kind=JobKind.IMAGINE, action="generate", prompt="grid"))
    clock.advance()
    first = await store.jobs.create_job(NewJob(kind=JobKind.IMAGINE, action="upscale1", prompt="", parent_id=parent.id))
    clock.advance()
    second = await store.jobs.create_job(NewJob(kind=JobKind.IMAGINE, action="reroll", prompt="", parent_id=parent.id))
    assert [job.id for job in await store.jobs.children(parent.id)] == [first.id, second.id]
    assert await store.jobs.children(first.id) == []

    await store.links.link_message(501, parent.id, channel_id=9, guild_id=8)
    await store.links.link_message(502, parent.id, channel_id=None, guild_id=None, purpose="dm")
    await store.links.link_message(503, first.id, channel_id=9, guild_id=8)

    assert await store.jobs.delete_job(parent.id)
    assert not await store.jobs.delete_job(parent.id)
    assert await store.jobs.get_job(parent.id) is None
    assert await store.links.job_for_message(501) is None
    assert await store.links.link_for_message(502) is None
    assert await store.links.messages_for_job(parent.id) == []
    orphans = await store.jobs.jobs_by_ids([first.id, second.id])
    assert orphans[first.id].parent_id is None
    assert orphans[second.id].parent_id is None
    assert (await store.links.job_for_message(503)) == orphans[first.id]


# -- job metadata ---------------------------------------------------------------------------------


async def test_create_job_stores_its_metadata(store: Store) -> None:
    meta = JobMeta(video_options=VideoOptions(mode="turbo", resolution="480p", loop=True), video_grid=True)
    job = await store.jobs.create_job(video(meta=meta))
    assert job.meta == meta
    assert await store.jobs.get_job(job.id) == job
    plain = await store.jobs.create_job(video())
    assert plain.meta == EMPTY_META and (await store.jobs.get_job(plain.id)).meta == EMPTY_META  # type: ignore[union-attr]


async def test_update_meta_replaces_the_parts_a_change_makes(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(video(meta=JobMeta(video_grid=True, clip=2, locale="de")))
    clock.advance(5)
    animate = VideoOptions()
    patched = await store.jobs.update_meta(
        job.id, lambda meta: dataclasses.replace(meta, then_animate=animate, clip=None, video_grid=False)
    )
    assert patched.meta == JobMeta(locale="de", then_animate=animate)
    assert patched.updated_at == START  # metadata is not progress of the job
    assert await store.jobs.get_job(job.id) == patched

    # A part is replaced whole, not merged.
    again = await store.jobs.update_meta(
        job.id, lambda meta: dataclasses.replace(meta, then_animate=VideoOptions(motion="high"), locale=None)
    )
    assert again.meta == JobMeta(then_animate=VideoOptions(motion="high"))
    assert await store.jobs.update_meta(job.id, lambda meta: meta) == again
    emptied = await store.jobs.update_meta(job.id, lambda meta: EMPTY_META)
    assert emptied.meta == EMPTY_META and await store.jobs.get_job(job.id) == emptied


async def test_update_meta_refuses_unknown_jobs_and_what_json_cannot_hold(store: Store) -> None:
    with pytest.raises(JobNotFoundError, match="missing123"):
        await store.jobs.update_meta("missing123", lambda meta: dataclasses.replace(meta, clip=1))
    job = await store.jobs.create_job(video(meta=JobMeta(clip=1)))
    with pytest.raises(ValueError):
        await store.jobs.update_meta(job.id, lambda meta: dataclasses.replace(meta, queue=QueueState(released_at=NAN)))

    def broken(meta: JobMeta) -> JobMeta:
        raise RuntimeError("a change that fails")

    with pytest.raises(RuntimeError):
        await store.jobs.update_meta(job.id, broken)
    assert (await store.jobs.get_job(job.id)).meta == JobMeta(clip=1)  # type: ignore[union-attr]


async def test_concurrent_changes_of_different_parts_are_all_kept(store: Store) -> None:
    job = await store.jobs.create_job(video())
    changes: list[Callable[[JobMeta], JobMeta]] = [
        lambda meta: dataclasses.replace(meta, clip=2),
        lambda meta: dataclasses.replace(meta, motion="low"),
        lambda meta: dataclasses.replace(meta, locale="de"),
        lambda meta: dataclasses.replace(meta, follow_up="reroll:"),
        lambda meta: dataclasses.replace(meta, video_grid=True),
        lambda meta: dataclasses.replace(meta, chained_from="abc"),
        lambda meta: meta.with_delivery(dm_sent=True),
        lambda meta: meta.with_delivery(dm_result=True),
    ]
    await asyncio.gather(*(store.jobs.update_meta(job.id, change) for change in changes))
    assert (await store.jobs.get_job(job.id)).meta == JobMeta(  # type: ignore[union-attr]
        clip=2,
        motion="low",
        locale="de",
        follow_up="reroll:",
        video_grid=True,
        chained_from="abc",
        delivery=DeliveryState(dm_sent=True, dm_result=True),
    )


async def test_fields_of_a_newer_meta_version_are_kept_through_a_change(store: Store) -> None:
    newer = JobMeta.from_json({"v": META_VERSION + 1, "clip": 3, "sparkle": {"level": [1, 2]}})
    job = await store.jobs.create_job(video(meta=newer))
    changed = await store.jobs.update_meta(job.id, lambda meta: dataclasses.replace(meta, motion="high"))
    assert changed.meta == JobMeta(clip=3, motion="high", extra={"sparkle": {"level": [1, 2]}})
    assert changed.meta.to_json()["sparkle"] == {"level": [1, 2]}


async def test_pending_chains_are_recent_successes_asking_to_animate_without_a_chained_child(
    store: Store, clock: FakeClock
) -> None:
    animate = JobMeta(then_animate=VideoOptions(motion="low"))
    old = await store.jobs.create_job(video(meta=animate))
    await store.jobs.finish_job(old.id, JobStatus.SUCCEEDED)
    clock.advance(100)
    since = clock.now
    chained = await store.jobs.create_job(video(meta=animate))
    failed = await store.jobs.create_job(video(meta=animate))
    plain = await store.jobs.create_job(video())
    waiting = [await store.jobs.create_job(video(f"upscale {i}", meta=animate)) for i in range(3)]
    running = await store.jobs.create_job(video(meta=animate))
    for job in (chained, failed, plain, *reversed(waiting)):
        clock.advance()
        await store.jobs.finish_job(job.id, JobStatus.FAILED if job is failed else JobStatus.SUCCEEDED)
    await store.jobs.create_job(video(parent_id=waiting[0].id, meta=JobMeta(motion="low")))  # not the chain's child
    await store.jobs.create_job(video(parent_id=chained.id, meta=JobMeta(chained_from=chained.id)))

    pending = await store.jobs.pending_chains(since)
    assert [job.id for job in pending] == [job.id for job in reversed(waiting)]
    assert pending[0] == await store.jobs.get_job(waiting[2].id)
    assert [job.id for job in await store.jobs.pending_chains(since, limit=1)] == [waiting[2].id]
    assert [job.id for job in await store.jobs.pending_chains(0.0)] == [old.id] + [job.id for job in reversed(waiting)]
    assert running.id not in {job.id for job in await store.jobs.pending_chains(0.0)}


# -- message links --------------------------------------------------------------------------------


async def test_link_message_and_look_it_up(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(video(guild_id=8, channel_id=9))
    clock.advance()
    link = await store.links.link_message(
        1_200_000_000_000_000_001,
        job.id,
        channel_id=9,
        guild_id=8,
        interaction_token="tok-abc",
        application_id=77,
    )
    assert (link.message_id, link.job_id, link.purpose, link.created_at) == (
        1_200_000_000_000_000_001,
        job.id,
        "job",
        START + 1,
    )
    assert (link.interaction_token, link.application_id) == ("tok-abc", 77)
    assert await store.links.link_for_message(link.message_id) == link
    assert await store.links.job_for_message(link.message_id) == job
    assert await store.links.job_for_message(42) is None
    assert await store.links.link_for_message(42) is None


async def test_one_job_many_messages_and_relinking(store: Store, clock: FakeClock) -> None:
    first = await store.jobs.create_job(video("first"))
    second = await store.jobs.create_job(video("second"))
    await store.links.link_message(10, first.id, channel_id=1, guild_id=2)
    clock.advance()
    await store.links.link_message(11, first.id, channel_id=None, guild_id=None, purpose="dm")
    assert [(link.message_id, link.purpose) for link in await store.links.messages_for_job(first.id)] == [
        (10, "job"),
        (11, "dm"),
    ]

    relinked = await store.links.link_message(10, second.id, channel_id=3, guild_id=2, purpose="show")
    assert (relinked.job_id, relinked.channel_id, relinked.purpose) == (second.id, 3, "show")
    assert await store.links.job_for_message(10) == second
    assert [link.message_id for link in await store.links.messages_for_job(first.id)] == [11]

    await store.links.unlink_message(11)
    await store.links.unlink_message(999)  # unknown: nothing happens
    assert await store.links.messages_for_job(first.id) == []
    assert await store.jobs.get_job(first.id) == first


async def test_a_link_keeps_what_it_showed_while_it_shows_the_same_job(store: Store) -> None:
    first = await store.jobs.create_job(video("first"))
    second = await store.jobs.create_job(video("second"))
    link = await store.links.link_message(10, first.id, channel_id=1, guild_id=2, attachment_limit=8_388_608)
    assert (link.attachment_limit, link.delivered) == (8_388_608, None)

    await store.links.mark_delivered(10, "running")
    await store.links.mark_delivered(999, "running")  # unknown: nothing happens
    assert (await store.links.link_for_message(10)).delivered == "running"  # type: ignore[union-attr]
    same = await store.links.link_message(10, first.id, channel_id=1, guild_id=2, interaction_token="tok")
    assert (same.delivered, same.interaction_token, same.attachment_limit) == ("running", "tok", None)

    moved = await store.links.link_message(10, second.id, channel_id=1, guild_id=2, attachment_limit=26_214_400)
    assert (moved.job_id, moved.delivered, moved.attachment_limit) == (second.id, None, 26_214_400)
    assert await store.links.link_for_message(10) == moved


async def test_undelivered_links_are_messages_of_finished_jobs_not_showing_the_end_yet(
    store: Store, clock: FakeClock
) -> None:
    jobs = [await store.jobs.create_job(video(f"job {i}")) for i in range(5)]
    for i, job in enumerate(jobs):
        await store.links.link_message(100 + i, job.id, channel_id=1, guild_id=2, attachment_limit=1000 + i)
    await store.links.link_message(200, jobs[1].id, channel_id=None, guild_id=None, purpose="dm")
    await store.links.mark_delivered(101, "running")
    assert await store.links.undelivered_links() == []  # nothing has finished

    ends = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.CANCELLED]
    for job, status in zip(jobs[:4], ends, strict=True):
        clock.advance()
        await store.jobs.finish_job(job.id, status)
    await store.links.mark_delivered(100, "succeeded")  # fully shown
    await store.links.mark_delivered(102, "running")  # shown, but not its end

    undelivered = await store.links.undelivered_links()
    assert [(link.message_id, job.id) for link, job in undelivered] == [
        (101, jobs[1].id),
        (200, jobs[1].id),
        (102, jobs[2].id),
        (103, jobs[3].id),
    ]
    link, job = undelivered[0]
    assert link == await store.links.link_for_message(101)
    assert (link.delivered, link.attachment_limit) == ("running", 1001)
    assert job == await store.jobs.get_job(jobs[1].id) and job.status is JobStatus.FAILED
    assert [link.message_id for link, _ in await store.links.undelivered_links(limit=2)] == [101, 200]
    assert await store.links.undelivered_links(limit=0) == []

    for link, job in undelivered:
        await store.links.mark_delivered(link.message_id, job.status.value)
    assert await store.links.undelivered_links() == []


async def test_undelivered_links_and_pending_chains_read_only_their_small_indexes(
    sqlite_store: Store, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as conn:
        plans = {
            "links": conn.execute(f"EXPLAIN QUERY PLAN {store_links._UNDELIVERED_LINKS}", (500,)).fetchall(),
            "chains": conn.execute(f"EXPLAIN QUERY PLAN {store_db._PENDING_CHAINS}", (0.0, 500)).fetchall(),
        }
    assert "USING INDEX message_links_undelivered" in " ".join(row[3] for row in plans["links"])
    assert "USING INDEX jobs_then_animate" in " ".join(row[3] for row in plans["chains"])


async def test_linking_to_an_unknown_job_is_refused(store: Store) -> None:
    with pytest.raises(JobNotFoundError, match="no job with id 'missing123'"):
        await store.links.link_message(1, "missing123", channel_id=None, guild_id=None)


async def test_links_survive_a_reopen(db_path: Path, clock: FakeClock) -> None:
    store = await Store.open(db_path, clock=clock)
    job = await store.jobs.create_job(video())
    link = await store.links.link_message(77, job.id, channel_id=5, guild_id=6, interaction_token="tok")
    await store.close()

    reopened = await Store.open(db_path, clock=clock)
    try:
        assert await reopened.links.job_for_message(77) == job
        assert await reopened.links.link_for_message(77) == link
        assert await reopened.links.messages_for_job(job.id) == [link]
    finally:
        await reopened.close()


# -- durability -----------------------------------------------------------------------------------


async def test_writes_are_visible_to_another_connection_at_once(sqlite_store: Store, db_path: Path) -> None:
    job = await sqlite_store.jobs.create_job(video())
    await sqlite_store.links.link_message(5, job.id, channel_id=None, guild_id=None)
    await sqlite_store.jobs.finish_many([FinishItem(job.id, JobStatus.SUCCEEDED, result=VIDEO_RESULT)])
    with sqlite3.connect(db_path) as other:
        assert other.execute("SELECT status FROM jobs WHERE id = ?", (job.id,)).fetchone() == ("succeeded",)
        assert other.execute("SELECT job_id FROM message_links WHERE message_id = 5").fetchone() == (job.id,)


def test_a_crash_after_a_write_keeps_the_write(db_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os
        from bot.store import NewJob, JobKind, Store

        async def main():
            store = await Store.open({str(db_path)!r})
            job = await store.jobs.create_job(NewJob(kind=JobKind.VIDEO, action="generate", prompt="crash"))
            await store.links.link_message(31337, job.id, channel_id=1, guild_id=2)
            await store.settings.save_user_settings(4, {{"mode": "fast"}})
            print(job.id, flush=True)
            os._exit(0)  # no close, no checkpoint: as if the process died here

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    job_id = done.stdout.strip()

    async def check() -> None:
        store = await Store.open(db_path)
        try:
            job = await store.links.job_for_message(31337)
            assert job is not None
            assert job.id == job_id
            assert await store.settings.user_settings(4) == {"mode": "fast"}
        finally:
            await store.close()

    asyncio.run(check())


# -- settings -------------------------------------------------------------------------------------


async def test_settings_round_trip(db_path: Path, clock: FakeClock) -> None:
    store = await Store.open(db_path, clock=clock)
    assert await store.settings.guild_settings(1) == {}
    assert await store.settings.user_settings(1) == {}
    guild = {"default_mode": "fast", "allowed_roles": [1, 2], "limits": {"daily": 20, "enabled": True}}
    await store.settings.save_guild_settings(1, guild)
    await store.settings.save_user_settings(1, {"dm_results": True})
    assert await store.settings.guild_settings(1) == guild
    assert await store.settings.user_settings(1) == {"dm_results": True}  # same number, separate namespace
    assert await store.settings.guild_settings(2) == {}

    await store.settings.save_guild_settings(1, {"default_mode": "relax"})  # replaces, callers merge
    assert await store.settings.guild_settings(1) == {"default_mode": "relax"}
    with pytest.raises(TypeError):
        await store.settings.save_user_settings(1, {"bad": object()})
    assert await store.settings.user_settings(1) == {"dm_results": True}
    await store.close()

    reopened = await Store.open(db_path, clock=clock)
    try:
        assert await reopened.settings.guild_settings(1) == {"default_mode": "relax"}
        assert await reopened.settings.user_settings(1) == {"dm_results": True}
    finally:
        await reopened.close()


# -- usage ledger ---------------------------------------------------------------------------------


async def test_usage_windows_and_totals(store: Store, clock: FakeClock) -> None:
    job = await store.jobs.create_job(video())
    entries = []
    for guild_id, user_id, units in [(1, 10, 1.0), (1, 11, 2.5), (2, 10, 1.0), (None, 10, 0.5)]:
        clock.advance(100)
        entries.append(
            await store.usage.record_usage(
                job_id=job.id, guild_id=guild_id, user_id=user_id, kind="video", action="generate", units=units
            )
        )
    assert [entry.created_at for entry in entries] == [START + 100, START + 200, START + 300, START + 400]
    assert entries[0].id < entries[1].id < entries[2].id < entries[3].id
    assert (entries[1].guild_id, entries[1].user_id, entries[1].units, entries[1].kind) == (1, 11, 2.5, "video")

    assert await store.usage.usage_since(START) == entries
    assert await store.usage.usage_since(START + 200) == entries[1:]
    assert await store.usage.usage_since(START + 201) == entries[2:]
    assert await store.usage.usage_since(START, guild_id=1) == entries[:2]
    assert await store.usage.usage_since(START, user_id=10) == [entries[0], entries[2], entries[3]]
    assert await store.usage.usage_since(START, guild_id=1, user_id=10) == [entries[0]]
    assert await store.usage.usage_total(START) == 5.0
    assert await store.usage.usage_total(START + 150, user_id=10) == 1.5
    assert await store.usage.usage_total(START + 150, guild_id=1) == 2.5
    assert await store.usage.usage_total(START + 1000) == 0.0
    assert await store.usage.usage_since(START + 1000) == []


async def test_usage_outlives_a_deleted_job(store: Store) -> None:
    job = await store.jobs.create_job(video())
    entry = await store.usage.record_usage(job_id=job.id, guild_id=None, user_id=3, kind="video", action="extend")
    await store.jobs.delete_job(job.id)
    assert await store.usage.usage_since(0.0, user_id=3) == [entry]
    assert entry.job_id == job.id


# -- guard rails ----------------------------------------------------------------------------------


async def test_concurrent_callers_do_not_trip_over_each_other(store: Store) -> None:
    jobs = await asyncio.gather(*(store.jobs.create_job(video(f"job {i}", user_id=i % 3)) for i in range(30)))
    await asyncio.gather(
        store.jobs.update_progress_many([(job.id, 50) for job in jobs]),
        store.jobs.finish_many([FinishItem(job.id, JobStatus.SUCCEEDED) for job in jobs[:10]]),
        *(store.links.link_message(1000 + i, job.id, channel_id=None, guild_id=None) for i, job in enumerate(jobs)),
        store.jobs.jobs_by_ids([job.id for job in jobs]),
    )
    assert len(await store.jobs.unfinished_jobs()) == 20
    for i, job in enumerate(jobs):
        found = await store.links.job_for_message(1000 + i)
        assert found is not None
        assert found.id == job.id


async def test_a_busy_quick_reader_falls_back_to_the_main_connection(sqlite_store: Store, tmp_path: Path) -> None:
    job = await sqlite_store.jobs.create_job(video())
    await sqlite_store.links.link_message(88, job.id, channel_id=None, guild_id=None)
    # Point the quick reader at a file another connection holds exclusively: every read there is "locked".
    elsewhere = tmp_path / "held.sqlite3"
    holder = sqlite3.connect(elsewhere, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("CREATE TABLE t (x)")
    busy_reader = sqlite3.connect(elsewhere, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        busy_reader.execute("SELECT 1 FROM sqlite_master").fetchall()
    real_reader, sqlite_store._db._reader = sqlite_store._db._reader, busy_reader
    try:
        assert await sqlite_store.links.job_for_message(88) == job
        assert await sqlite_store.links.job_for_message(89) is None
    finally:
        sqlite_store._db._reader = real_reader
        busy_reader.close()
        holder.close()


async def test_an_upscale_has_at_most_one_job_that_carries_out_its_chain(store: Store) -> None:
    upscale = await store.jobs.create_job(video("an upscale", meta=JobMeta(then_animate=VideoOptions())))
    chained = await store.jobs.create_job(video("its video", meta=JobMeta(chained_from=upscale.id)))
    with pytest.raises(AlreadyChainedError):
        await store.jobs.create_job(video("a second video", meta=JobMeta(chained_from=upscale.id)))
    other = await store.jobs.create_job(video("another upscale's video", meta=JobMeta(chained_from="elsewhere")))
    assert {job.id for job in await store.jobs.recent_jobs(limit=10)} == {upscale.id, chained.id, other.id}


async def test_leases_are_taken_renewed_lost_and_given_back(store: Store, clock: FakeClock) -> None:
    mine, theirs = Lease("mine", 30.0), Lease("theirs", 30.0)
    held = await store.jobs.create_job(video("held from the start"), lease=mine)
    orphan = await store.jobs.create_job(video("never leased"))
    queued = await store.jobs.create_job(video("waiting", status=JobStatus.QUEUED))
    finished = await store.jobs.create_job(video("done", status=JobStatus.SUCCEEDED), lease=mine)

    taken = await store.leases.take_over(theirs)
    assert [job.id for job in taken] == [orphan.id], "only a sent, unfinished job nobody holds is taken"
    assert await store.leases.renew(mine) == {held.id}

    clock.advance(31)  # "mine" stopped renewing; "theirs" renewed in time
    assert await store.leases.renew(theirs) == {orphan.id}
    assert [job.id for job in await store.leases.take_over(theirs)] == [held.id]
    assert await store.leases.renew(mine) == set(), "a lost lease is not renewed"
    assert await store.leases.take_if_free(held.id, mine) is False

    assert await store.leases.give_back(theirs) == 2
    assert await store.leases.take_if_free(held.id, mine) is True
    assert {job.id for job in await store.leases.take_over(mine)} == {orphan.id}
    holders = await store.leases.holders([held.id, orphan.id, queued.id, finished.id])
    assert holders[queued.id] == (None, None) and holders[held.id][0] == holders[orphan.id][0] == "mine"


async def test_a_finished_job_leaves_every_lease_and_taking_everything_ignores_leases(
    store: Store, clock: FakeClock
) -> None:
    first = await store.jobs.create_job(video("one"), lease=Lease("gone", 30.0))
    await store.jobs.mark_submitted(first.id, "task-one")
    second = await store.jobs.create_job(video("two"), lease=Lease("gone", 30.0))
    await store.jobs.finish_job(second.id, JobStatus.FAILED, error_code="x", error_message="y")

    assert await store.leases.take_over(Lease("new", 30.0)) == [], "live leases are left alone"
    alone = await store.leases.take_over(Lease("new", 30.0), everything=True)
    assert [job.id for job in alone] == [first.id]
    assert await store.leases.renew(Lease("gone", 30.0)) == set()


async def test_a_queued_job_claimed_for_sending_is_leased_to_its_sender(store: Store) -> None:
    queued = await store.jobs.create_job(video("waiting", status=JobStatus.QUEUED))
    claimed = await store.queue.claim_queued(queued.id, lease=Lease("sender", 30.0))
    assert claimed is not None and claimed.status is JobStatus.SUBMITTING
    assert await store.queue.claim_queued(queued.id, lease=Lease("late", 30.0)) is None
    assert (await store.leases.holders([queued.id]))[queued.id][0] == "sender"


async def test_queued_count_counts_every_queued_job_and_nothing_else(store: Store) -> None:
    assert await store.queue.queued_count() == 0
    first = await store.jobs.create_job(video("waiting", status=JobStatus.QUEUED, user_id=1, guild_id=5))
    await store.jobs.create_job(video("waiting too", status=JobStatus.QUEUED, user_id=2, guild_id=None))
    await store.jobs.create_job(video("sent at once"))
    assert await store.queue.queued_count() == 2
    await store.queue.claim_queued(first.id)
    assert await store.queue.queued_count() == 1
