"""The job engine against the loopback API emulator and a real SQLite file.

The emulator, the store and the engine share one settable clock, so a task ends exactly when a
test moves the clock past its duration, and timeouts and grace periods need no real waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from engine_kit import TOKEN, EngineFactory, EventLog, FakeClock, no_sleep

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.errors import BadRequestError, ForbiddenError, RequestTimeoutError, ServerError
from bot.acedata.models import GRID_ACTIONS, ImagineAction, ImagineGenerate, TaskResult, VideoGenerate
from bot.jobs import JobEngine, JobEvent, JobEventType, JobNotFoundError
from bot.jobs.events import EventDispatcher
from bot.store import EMPTY_META, Job, JobKind, JobMeta, JobStatus, NewJob, Store, VideoOptions

DURATION = 10.0
TASKS = "/midjourney/tasks"
VIDEO = VideoGenerate(prompt="a lighthouse at dusk", image_url="https://example.com/start.png")
IMAGINE = ImagineGenerate(prompt="a red fox in snow --ar 3:2", split_images=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(
            tokens=frozenset({TOKEN}),
            job_duration_s=DURATION,
            video_duration_s=DURATION,
            moderation_words=("forbidden",),
        ),
        clock=clock,
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def log_events(engine: JobEngine) -> EventLog:
    events = EventLog()
    engine.subscribe(events)
    return events


async def run_to_end(engine: JobEngine, clock: FakeClock, steps: int = 4) -> None:
    """Poll while the clock crosses the task's duration in ``steps`` equal strides."""
    for _ in range(steps):
        clock.advance(DURATION / (steps - 1) + 0.01)
        await engine.poll_once()


def submits(emu: Emulator) -> int:
    return sum(1 for request in emu.requests if request.path != TASKS)


async def test_video_job_runs_to_success_with_progress(
    engine: JobEngine, store: Store, clock: FakeClock, log_events: EventLog
) -> None:
    job_id = await engine.submit(VIDEO, user_id=7, guild_id=8, channel_id=9)
    assert engine.tracked_count == 1
    await run_to_end(engine, clock)
    await log_events.settle()

    types = log_events.types(job_id)
    assert types[0] is JobEventType.SUBMITTED
    assert types[-1] is JobEventType.SUCCEEDED
    assert set(types[1:-1]) == {JobEventType.PROGRESS} and len(types) >= 3
    progress = [event.job.progress for event in log_events.of(job_id, JobEventType.PROGRESS)]
    assert progress == sorted(progress) and 0 < progress[0] < 100

    job = await store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.SUCCEEDED
    assert job.kind is JobKind.VIDEO and job.action == "generate" and job.prompt == VIDEO.prompt
    assert job.params == VIDEO.to_body()
    assert job.video_id and len(job.video_urls) == 4
    assert all(urlsplit(url).path.endswith(".mp4") for url in job.video_urls)  # signed links: ?expires=..&sig=..
    assert job.image_url and urlsplit(job.image_url).path.endswith("cover.png")
    assert (job.user_id, job.guild_id, job.channel_id) == (7, 8, 9)
    assert engine.tracked_count == 0
    usage = await store.usage.usage_since(0)
    assert [(entry.job_id, entry.kind, entry.action) for entry in usage] == [(job_id, "video", "generate")]


async def test_imagine_job_stores_every_result_field(
    engine: JobEngine, store: Store, clock: FakeClock, log_events: EventLog
) -> None:
    job_id = await engine.submit(IMAGINE, user_id=1)
    await run_to_end(engine, clock)
    done = await log_events.wait_for(job_id, JobEventType.SUCCEEDED)
    job = done.job
    assert job.kind is JobKind.IMAGINE and job.status is JobStatus.SUCCEEDED
    assert job.image_id and job.image_url and job.raw_image_url
    assert job.image_width and job.image_height
    assert job.actions == GRID_ACTIONS
    assert len(job.sub_image_urls) == 4
    assert await store.jobs.get_job(job_id) == job


async def test_follow_up_takes_the_prompt_of_its_parent(engine: JobEngine, store: Store, clock: FakeClock) -> None:
    parent_id = await engine.submit(IMAGINE)
    await run_to_end(engine, clock)
    parent = await store.jobs.get_job(parent_id)
    assert parent is not None and parent.image_id
    child_id = await engine.submit(ImagineAction("upscale2", parent.image_id), parent_id=parent_id)
    child = await store.jobs.get_job(child_id)
    assert child is not None and child.prompt == IMAGINE.prompt and child.action == "upscale2"
    assert child.parent_id == parent_id and child.status is JobStatus.RUNNING


async def test_metadata_given_at_submit_is_stored_and_carried_by_every_event(
    engine: JobEngine, store: Store, clock: FakeClock, log_events: EventLog, emu: Emulator
) -> None:
    meta = JobMeta(video_options=VideoOptions(mode="turbo", resolution="480p"), video_grid=True)
    job_id = await engine.submit(IMAGINE, user_id=2, meta=meta)
    await run_to_end(engine, clock)
    await log_events.wait_for(job_id, JobEventType.SUCCEEDED)

    carried = [event.job.meta for event in log_events.events if event.job.id == job_id]
    assert len(carried) >= 3 and all(seen == meta for seen in carried)  # SUBMITTED, PROGRESS..., SUCCEEDED
    assert (await store.jobs.get_job(job_id)).meta == meta  # type: ignore[union-attr]
    assert all("video_grid" not in request.body for request in emu.requests)  # never sent to the API
    plain = await engine.submit(VIDEO)
    assert (await store.jobs.get_job(plain)).meta == EMPTY_META  # type: ignore[union-attr]


async def test_a_progress_event_shows_the_job_as_stored_with_metadata_changed_meanwhile(
    engine: JobEngine, store: Store, clock: FakeClock, log_events: EventLog
) -> None:
    job_id = await engine.submit(VIDEO, user_id=5, meta=JobMeta(clip=1))
    await store.jobs.update_meta(job_id, lambda meta: dataclasses.replace(meta, follow_up="changed while it runs"))
    clock.advance(DURATION / 2)
    await engine.poll_once()
    progressed = await log_events.wait_for(job_id, JobEventType.PROGRESS)
    assert progressed.job == await store.jobs.get_job(job_id)
    assert progressed.job.meta == JobMeta(clip=1, follow_up="changed while it runs")
    assert 0 < progressed.job.progress < 100 and progressed.job.updated_at == clock.now


async def test_a_refused_follow_up_keeps_its_parent_and_metadata(
    engine: JobEngine, store: Store, clock: FakeClock, log_events: EventLog
) -> None:
    parent_id = await engine.submit(IMAGINE, user_id=3)
    await run_to_end(engine, clock)
    refused = VideoGenerate(prompt="a forbidden dance", image_url="https://example.com/u.png")
    with pytest.raises(ForbiddenError):
        await engine.submit(refused, user_id=3, parent_id=parent_id, meta=JobMeta(chained_from=parent_id))

    [child] = await store.jobs.children(parent_id)
    assert child.status is JobStatus.FAILED and child.meta == JobMeta(chained_from=parent_id)
    failed = await log_events.wait_for(child.id, JobEventType.FAILED)
    assert failed.job == child


async def test_one_batch_request_per_fifty_jobs_per_tick(engine: JobEngine, emu: Emulator) -> None:
    await asyncio.gather(*(engine.submit(ImagineGenerate(prompt=f"tile {n}")) for n in range(120)))
    assert engine.tracked_count == 120
    emu.requests.clear()

    assert await engine.poll_once() == 3

    polls = [request for request in emu.requests if request.path == TASKS]
    assert len(emu.requests) == len(polls) == 3
    sizes = sorted(len(request.body["ids"]) for request in polls)
    assert sizes == [20, 50, 50]
    assert all(request.body["limit"] == len(request.body["ids"]) for request in polls)


async def test_a_failure_after_acceptance_fails_the_job_with_the_api_message(
    engine: JobEngine, emu: Emulator, store: Store, log_events: EventLog
) -> None:
    job_id = await engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    emu.finish(job.task_id, success=False, error_code="failed", error_message="The video failed to render")

    await engine.poll_once()

    failed = await log_events.wait_for(job_id, JobEventType.FAILED)
    assert failed.job.status is JobStatus.FAILED
    assert failed.job.error_code == "failed" and failed.job.error_message == "The video failed to render"
    assert engine.tracked_count == 0


async def test_a_moderation_refusal_fails_the_job_and_raises(
    engine: JobEngine, emu: Emulator, store: Store, log_events: EventLog
) -> None:
    with pytest.raises(ForbiddenError) as raised:
        await engine.submit(ImagineGenerate(prompt="something forbidden"), user_id=3)

    assert emu.task_count == 0
    [job] = await store.jobs.recent_jobs(user_id=3)
    assert job.status is JobStatus.FAILED and job.task_id is None
    assert job.error_code == raised.value.code and job.error_message == raised.value.message
    assert "forbidden" in (job.error_message or "").lower()
    await log_events.wait_for(job.id, JobEventType.FAILED)
    assert log_events.types(job.id) == [JobEventType.FAILED]
    assert await store.usage.usage_since(0) == []


async def test_a_bad_request_fails_the_job_and_raises(engine: JobEngine, emu: Emulator, store: Store) -> None:
    with pytest.raises(BadRequestError):
        await engine.submit(VideoGenerate(prompt="x", image_url="not a url"), user_id=4)
    [job] = await store.jobs.recent_jobs(user_id=4)
    assert job.status is JobStatus.FAILED and job.error_code == "bad_request" and job.error_message
    assert emu.task_count == 0 and engine.tracked_count == 0


async def test_a_rate_limit_is_retried_and_the_job_runs(engine: JobEngine, emu: Emulator, store: Store) -> None:
    emu.inject_fault(429, path="/midjourney/videos", count=1, retry_after=0)
    job_id = await engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.task_id
    assert emu.task_count == 1 and submits(emu) == 2


async def test_a_job_with_no_result_times_out(
    make_engine: EngineFactory, store: Store, emu: Emulator, clock: FakeClock
) -> None:
    emu.settings.video_duration_s = 10_000
    engine = make_engine(store, job_timeout_s=900)
    events = EventLog()
    engine.subscribe(events)
    job_id = await engine.submit(VIDEO)
    clock.advance(899)
    await engine.poll_once()
    assert (await store.jobs.get_job(job_id)).status is JobStatus.RUNNING  # type: ignore[union-attr]

    clock.advance(2)
    await engine.poll_once()

    timed_out = await events.wait_for(job_id, JobEventType.TIMED_OUT)
    assert timed_out.job.status is JobStatus.TIMED_OUT
    assert timed_out.job.error_message == (
        "Ace Data Cloud did not finish the job within 15 minutes; no result will arrive."
    )
    assert engine.tracked_count == 0


async def test_a_poll_error_is_survived(
    engine: JobEngine, emu: Emulator, store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = await engine.submit(VIDEO)
    clock.advance(DURATION + 1)
    emu.inject_fault(500, path=TASKS, count=3)  # more than the client's three attempts
    with caplog.at_level(logging.WARNING, logger="bot.jobs"):
        assert await engine.poll_once() == 1
    assert "poll of 1 running jobs failed" in caplog.text
    assert engine.health().last_poll_ok is False
    assert (await store.jobs.get_job(job_id)).status is JobStatus.RUNNING  # type: ignore[union-attr]

    await engine.poll_once()
    assert engine.health().last_poll_ok is True
    assert (await store.jobs.get_job(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_a_cancelled_job_ignores_its_late_result(
    engine: JobEngine, emu: Emulator, store: Store, log_events: EventLog
) -> None:
    job_id = await engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id

    cancelled = await engine.cancel(job_id, reason="cancelled by the user")
    assert cancelled.status is JobStatus.CANCELLED and cancelled.error_message == "cancelled by the user"
    assert engine.tracked_count == 0

    emu.finish(job.task_id)
    assert await engine.poll_once() == 0
    late = TaskResult.parse({"task_id": job.task_id, "success": True, "video_id": "v", "progress": 100})
    assert await engine.handle_callback(late) is True
    await log_events.settle()

    after = await store.jobs.get_job(job_id)
    assert after is not None and after.status is JobStatus.CANCELLED and after.video_id is None
    assert log_events.types(job_id) == [JobEventType.SUBMITTED, JobEventType.CANCELLED]
    assert (await engine.cancel(job_id)).status is JobStatus.CANCELLED


async def test_a_failing_subscriber_does_not_stop_the_others(
    engine: JobEngine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: JobEvent) -> None:
        raise RuntimeError("handler bug")

    engine.subscribe(broken)
    events = EventLog()
    engine.subscribe(events)
    job_id = await engine.submit(VIDEO)
    await run_to_end(engine, clock)
    await events.wait_for(job_id, JobEventType.SUCCEEDED)
    assert "handler bug" in caplog.text
    assert (await engine.get(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_unsubscribe_stops_delivery(engine: JobEngine, clock: FakeClock) -> None:
    events = EventLog()
    unsubscribe = engine.subscribe(events)
    unsubscribe()
    await engine.submit(VIDEO)
    await events.settle()
    assert events.events == []


async def test_wait_returns_the_finished_job(
    make_engine: EngineFactory, store: Store, emu: Emulator, clock: FakeClock
) -> None:
    engine = make_engine(store, poll_interval_s=0.02)
    await engine.start()
    job_id = await engine.submit(VIDEO)
    with pytest.raises(TimeoutError):
        await engine.wait(job_id, timeout=0.05)
    clock.advance(DURATION + 1)
    job = await engine.wait(job_id, timeout=5)
    assert job.status is JobStatus.SUCCEEDED
    assert (await engine.wait(job_id)).status is JobStatus.SUCCEEDED


# -- restarts ------------------------------------------------------------------------------------


async def test_restart_after_the_task_id_was_saved_finishes_the_job(
    make_engine: EngineFactory, db_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    store_a = await Store.open(db_path, clock=clock)
    engine_a = make_engine(store_a)
    job_id = await engine_a.submit(VIDEO)
    await engine_a.stop()
    await store_a.close()
    clock.advance(DURATION + 1)

    store_b = await Store.open(db_path, clock=clock)
    try:
        engine_b = make_engine(store_b)
        events = EventLog()
        engine_b.subscribe(events)
        await engine_b.start()
        assert engine_b.tracked_count == 1
        await engine_b.poll_once()
        done = await events.wait_for(job_id, JobEventType.SUCCEEDED)
        assert done.job.video_id and len(done.job.video_urls) == 4
        assert emu.task_count == 1
    finally:
        await engine_b.stop()
        await store_b.close()


async def test_restart_adopts_a_task_whose_id_was_never_saved(
    make_engine: EngineFactory, store: Store, client: AceDataClient, clock: FakeClock, emu: Emulator
) -> None:
    # The process died after the API accepted the submit but before the task id reached the store.
    job = await store.jobs.create_job(NewJob(JobKind.VIDEO, "generate", VIDEO.prompt, params=VIDEO.to_body()))
    receipt = await client.submit(VIDEO)
    assert emu.task_count == 1
    clock.advance(DURATION + 1)

    engine = make_engine(store)
    events = EventLog()
    engine.subscribe(events)
    await engine.start()

    adopted = await store.jobs.get_job(job.id)
    assert adopted is not None and adopted.task_id == receipt.task_id
    await events.wait_for(job.id, JobEventType.SUCCEEDED)
    assert emu.task_count == 1 and submits(emu) == 1
    assert log_types_in_order(events, job.id) == [JobEventType.SUBMITTED, JobEventType.SUCCEEDED]


def log_types_in_order(events: EventLog, job_id: str) -> list[JobEventType]:
    return [kind for kind in events.types(job_id) if kind is not JobEventType.PROGRESS]


async def test_restart_resends_a_job_the_api_never_received_exactly_once(
    make_engine: EngineFactory, store: Store, clock: FakeClock, emu: Emulator
) -> None:
    job = await store.jobs.create_job(NewJob(JobKind.IMAGINE, "generate", IMAGINE.prompt, params=IMAGINE.to_body()))
    engine = make_engine(store, reconcile_grace_s=60)
    await engine.start()
    assert submits(emu) == 0  # too young to be sure the API has not got it
    assert (await store.jobs.get_job(job.id)).status is JobStatus.SUBMITTING  # type: ignore[union-attr]

    clock.advance(61)
    await engine.poll_once()
    await engine.poll_once()
    resent = await store.jobs.get_job(job.id)
    assert resent is not None and resent.status is JobStatus.RUNNING and resent.task_id
    assert emu.task_count == 1 and submits(emu) == 1
    assert emu.requests[-1].body["ids"] == [resent.task_id]

    await run_to_end(engine, clock)
    assert (await store.jobs.get_job(job.id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    assert submits(emu) == 1


async def test_an_ambiguous_submit_is_reconciled_not_paid_twice(
    engine: JobEngine, store: Store, clock: FakeClock, emu: Emulator
) -> None:
    emu.inject_fault(500, path="/midjourney/videos", count=1)  # refused with 500: no task exists
    with pytest.raises(ServerError):
        await engine.submit(VIDEO, user_id=5)
    [job] = await store.jobs.recent_jobs(user_id=5)
    assert job.status is JobStatus.SUBMITTING and emu.task_count == 0
    assert engine.health().unconfirmed_jobs == 1

    await engine.poll_once()  # still within the grace period: nothing is resent
    assert submits(emu) == 1
    clock.advance(61)
    await engine.poll_once()
    assert emu.task_count == 1 and submits(emu) == 2
    assert (await store.jobs.get_job(job.id)).status is JobStatus.RUNNING  # type: ignore[union-attr]


async def test_a_lost_submit_answer_is_reconciled_not_paid_twice(store: Store, clock: FakeClock, emu: Emulator) -> None:
    # The API is slow: the client gives up, then the API creates the task after all.
    emu.inject_fault(None, path="/midjourney/videos", delay_s=0.4)
    async with aiohttp.ClientSession() as session:
        hasty = AceDataClient(session, token=TOKEN, base_url=emu.url, request_timeout_s=0.2, sleep=no_sleep)
        engine = JobEngine(hasty, store, poll_interval_s=3600, clock=clock)
        with pytest.raises(RequestTimeoutError):
            await engine.submit(VIDEO, user_id=6)
        [job] = await store.jobs.recent_jobs(user_id=6)
        assert job.status is JobStatus.SUBMITTING
        for _ in range(100):  # the API gets round to the request after its delay
            if emu.task_count:
                break
            await asyncio.sleep(0.05)

        await engine.poll_once()

        adopted = await store.jobs.get_job(job.id)
        assert adopted is not None and adopted.status is JobStatus.RUNNING
        assert adopted.task_id is not None and emu.task(adopted.task_id) is not None
        assert emu.task_count == 1 and submits(emu) == 1
        await engine.stop()


async def test_an_old_job_the_api_never_received_fails_clearly(
    make_engine: EngineFactory, store: Store, clock: FakeClock, emu: Emulator
) -> None:
    job = await store.jobs.create_job(NewJob(JobKind.VIDEO, "generate", VIDEO.prompt, params=VIDEO.to_body()))
    clock.advance(1000)
    engine = make_engine(store, job_timeout_s=900)
    events = EventLog()
    engine.subscribe(events)
    await engine.start()
    failed = await events.wait_for(job.id, JobEventType.FAILED)
    assert failed.job.error_message and "could not be sent" in failed.job.error_message
    assert emu.task_count == 0


async def test_queued_jobs_survive_a_restart_untouched(make_engine: EngineFactory, store: Store, emu: Emulator) -> None:
    job = await store.jobs.create_job(
        NewJob(JobKind.VIDEO, "generate", VIDEO.prompt, params=VIDEO.to_body(), status=JobStatus.QUEUED)
    )
    engine = make_engine(store)
    await engine.start()
    await engine.poll_once()
    assert (await store.jobs.get_job(job.id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert engine.tracked_count == 0 and emu.task_count == 0


async def test_a_callback_racing_the_poll_announces_the_result_once(
    engine: JobEngine, emu: Emulator, store: Store, log_events: EventLog
) -> None:
    job_id = await engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    emu.finish(job.task_id)
    result = TaskResult.parse({"success": True, "task_id": job.task_id, "video_id": "v1", "progress": 100})

    matched = await asyncio.gather(engine.poll_once(), engine.handle_callback(result), engine.handle_callback(result))

    assert matched[1:] == [True, True]
    await log_events.settle()
    assert log_events.types(job_id).count(JobEventType.SUCCEEDED) == 1
    assert (await store.jobs.get_job(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_a_callback_snapshot_shows_the_progress_the_api_reports(
    engine: JobEngine, emu: Emulator, store: Store, clock: FakeClock, log_events: EventLog
) -> None:
    job_id = await engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    clock.advance(DURATION * 0.45)
    claimed = TaskResult.parse({"success": True, "task_id": job.task_id, "progress": 90, "video_urls": []})

    assert await engine.handle_callback(claimed) is True
    progressed = await log_events.wait_for(job_id, JobEventType.PROGRESS)

    api_progress = emu.task(job.task_id).progress  # type: ignore[union-attr]
    assert 0 < api_progress < 90
    assert progressed.job.progress == api_progress and progressed.job.status is JobStatus.RUNNING
    assert engine.tracked_count == 1


async def test_a_task_the_api_does_not_know_times_out(
    engine: JobEngine, store: Store, clock: FakeClock, log_events: EventLog
) -> None:
    job = await store.jobs.create_job(NewJob(JobKind.IMAGINE, "generate", IMAGINE.prompt, params=IMAGINE.to_body()))
    await store.jobs.mark_submitted(job.id, "task-the-api-never-heard-of")
    await engine.start()
    assert engine.tracked_count == 1
    await engine.poll_once()  # the API answers without it
    assert (await store.jobs.get_job(job.id)).status is JobStatus.RUNNING  # type: ignore[union-attr]

    clock.advance(901)
    await engine.poll_once()
    timed_out = await log_events.wait_for(job.id, JobEventType.TIMED_OUT)
    assert timed_out.job.error_code == "job_timeout"


async def test_a_slow_subscriber_does_not_hold_up_polling(engine: JobEngine, clock: FakeClock, store: Store) -> None:
    release = asyncio.Event()

    async def slow(event: JobEvent) -> None:
        await release.wait()

    engine.subscribe(slow)
    events = EventLog()
    engine.subscribe(events)
    job_ids = [await engine.submit(VIDEO) for _ in range(3)]
    clock.advance(DURATION + 1)
    async with asyncio.timeout(2):
        await engine.poll_once()
    jobs = await store.jobs.jobs_by_ids(job_ids)
    assert all(job.status is JobStatus.SUCCEEDED for job in jobs.values()) and len(jobs) == 3
    release.set()
    for job_id in job_ids:
        await events.wait_for(job_id, JobEventType.SUCCEEDED)
        assert events.types(job_id) == [JobEventType.SUBMITTED, JobEventType.SUCCEEDED]


async def test_a_hung_handler_is_abandoned_and_later_events_flow(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = EventDispatcher(handler_timeout_s=0.05)
    seen: list[JobEventType] = []
    hang = asyncio.Event()

    async def handler(event: JobEvent) -> None:
        seen.append(event.type)
        if event.type is JobEventType.SUBMITTED:
            await hang.wait()  # never set

    dispatcher.subscribe(handler)
    job = Job(
        id="job1",
        kind=JobKind.VIDEO,
        action="generate",
        prompt="p",
        params={},
        status=JobStatus.RUNNING,
        progress=0,
        created_at=0.0,
        updated_at=0.0,
        task_id="t1",
    )
    dispatcher.emit(JobEvent(JobEventType.SUBMITTED, job, 0.0))
    await asyncio.sleep(0.1)
    dispatcher.emit(JobEvent(JobEventType.SUCCEEDED, job, 0.0))
    await dispatcher.drain(2)
    assert seen == [JobEventType.SUBMITTED, JobEventType.SUCCEEDED]
    assert "job job1 (task t1): a handler of its submitted event is still busy" in caplog.text


async def test_unknown_job_ids_are_reported(engine: JobEngine) -> None:
    with pytest.raises(JobNotFoundError):
        await engine.cancel("no-such-job")
    with pytest.raises(JobNotFoundError):
        await engine.wait("no-such-job", timeout=1)
    assert await engine.get("no-such-job") is None
