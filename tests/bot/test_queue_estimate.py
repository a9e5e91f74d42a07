"""The queue estimate: the slots of a member's running jobs, freed in turn, from the median of recent jobs."""

from __future__ import annotations

from pathlib import Path

from bot.queue_estimate import QueueEstimate, estimate_queue, estimate_starts
from bot.store import JobKind, JobMeta, JobStatus, NewJob, QueueState, Store

NOW = 1_700_000_000.0
VIDEO, IMAGE = JobKind.VIDEO, JobKind.IMAGINE
MEDIANS = {VIDEO: 100.0, IMAGE: 40.0}


def new_queued(prompt: str, *, guild_id: int, meta: JobMeta) -> NewJob:
    return NewJob(
        kind=IMAGE, action="generate", prompt=prompt, user_id=1, guild_id=guild_id, meta=meta, status=JobStatus.QUEUED
    )


def test_one_slot_the_queue_waits_for_the_running_job_then_each_in_turn() -> None:
    starts = estimate_starts([(VIDEO, NOW - 30)], [IMAGE, VIDEO, IMAGE], limit=1, medians=MEDIANS, now=NOW)
    assert starts == [NOW + 70, NOW + 110, NOW + 210]


def test_two_slots_the_queued_jobs_take_whichever_frees_first() -> None:
    running = [(VIDEO, NOW - 90), (VIDEO, NOW - 20)]  # ends in 10 s, and in 80 s
    starts = estimate_starts(running, [IMAGE, IMAGE, IMAGE], limit=2, medians=MEDIANS, now=NOW)
    assert starts == [NOW + 10, NOW + 50, NOW + 80]


def test_a_job_past_its_median_may_end_any_moment_and_a_free_slot_is_free_now() -> None:
    assert estimate_starts([(IMAGE, NOW - 500)], [IMAGE], limit=1, medians=MEDIANS, now=NOW) == [NOW]
    assert estimate_starts([], [IMAGE, IMAGE], limit=1, medians=MEDIANS, now=NOW) == [NOW, NOW + 40]


def test_without_a_median_there_is_no_estimate_from_where_it_is_needed() -> None:
    only_images = {IMAGE: 40.0}
    assert estimate_starts([(VIDEO, NOW)], [IMAGE], limit=1, medians=only_images, now=NOW) == [None]
    starts = estimate_starts([(IMAGE, NOW)], [IMAGE, VIDEO, IMAGE], limit=1, medians=only_images, now=NOW)
    assert starts == [NOW + 40, NOW + 80, None]


async def test_the_store_gives_each_queued_job_its_place_and_start(tmp_path: Path) -> None:
    clock = [NOW - 3_600]
    store = await Store.open(tmp_path / "mjbot.sqlite3", clock=lambda: clock[0])
    try:
        for took in (30.0, 50.0, 40.0):  # imagine jobs that took 30, 50 and 40 s: the median is 40 s
            done = await store.jobs.create_job(NewJob(kind=IMAGE, action="generate", prompt="seed", user_id=9))
            await store.jobs.mark_submitted(done.id, f"task-{took}")
            clock[0] += took
            await store.jobs.finish_job(done.id, JobStatus.SUCCEEDED)
        clock[0] = NOW - 10
        running = await store.jobs.create_job(NewJob(kind=IMAGE, action="generate", prompt="a", user_id=1, guild_id=5))
        await store.jobs.mark_submitted(running.id, "task-a")
        waiting = JobMeta(queue=QueueState(limit=1))
        queued = []
        for prompt in ("b", "c"):
            clock[0] += 1
            queued.append(await store.jobs.create_job(new_queued(prompt, guild_id=5, meta=waiting)))
        elsewhere = await store.jobs.create_job(new_queued("d", guild_id=6, meta=waiting))
        clock[0] = NOW

        estimates = await estimate_queue(store, [*queued, elsewhere, running], now=NOW)
        assert estimates == {
            queued[0].id: QueueEstimate(1, NOW + 30, 1),  # the running job has 40 - 10 s left
            queued[1].id: QueueEstimate(2, NOW + 70, 1),
            elsewhere.id: QueueEstimate(1, NOW, 1),  # nothing runs in that server
        }
        assert (await estimate_queue(store, [queued[1]], now=NOW))[queued[1].id].position == 2
    finally:
        await store.close()
