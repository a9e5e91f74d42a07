"""The callback and health listener, over real HTTP, with the emulator POSTing real callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from engine_kit import TOKEN, EventLog, FakeClock, no_sleep

from bot import __version__
from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.errors import AceDataError
from bot.acedata.models import VideoGenerate
from bot.acedata.retry import RetryPolicy
from bot.jobs import JobEngine, JobEventType
from bot.store import Job, JobKind, JobStatus, NewJob, Store
from bot.store.jobs import JobRepository
from bot.web import WebServer, callback_path_prefix, callback_url_for

SECRET = "cb-secret-9d2e41f0a7"
VIDEO = VideoGenerate(prompt="waves on a pier", image_url="https://example.com/pier.png")
TASKS = "/midjourney/tasks"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=600, video_duration_s=600), clock=clock
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(http: aiohttp.ClientSession, emu: Emulator) -> AceDataClient:
    return AceDataClient(http, token=TOKEN, base_url=emu.url, retry=RetryPolicy(attempts=2), sleep=no_sleep)


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "jobs.sqlite3", clock=clock)
    yield opened
    await opened.close()


class Stack:
    """An engine with callbacks on, and the listener they arrive at."""

    def __init__(self, engine: JobEngine, web: WebServer, base_url: str, events: EventLog) -> None:
        self.engine = engine
        self.web = web
        self.base_url = base_url
        self.events = events


async def open_stack(
    client: AceDataClient,
    store: Store,
    clock: FakeClock,
    *,
    secret: str | None = SECRET,
    prefix: str = "",
    health: Any = None,
) -> Stack:
    port = free_port()
    public = f"http://127.0.0.1:{port}{prefix}"
    engine = JobEngine(
        client,
        store,
        clock=clock,
        callback_url=callback_url_for(public, secret) if secret else None,
        callback_poll_interval_s=60,
    )
    events = EventLog()
    engine.subscribe(events)
    web = WebServer(
        engine,
        host="127.0.0.1",
        port=port,
        callback_secret=secret,
        callback_path_prefix=callback_path_prefix(public),
        health=health,
    )
    base_url = await web.start()
    return Stack(engine, web, base_url, events)


@pytest.fixture
async def stack(client: AceDataClient, store: Store, clock: FakeClock) -> AsyncIterator[Stack]:
    opened = await open_stack(client, store, clock)
    await opened.engine.start()
    yield opened
    await opened.engine.stop()
    await opened.web.stop()


def lookups(emu: Emulator) -> list[Any]:
    """The task lookups the bot made (its ``retrieve_batch`` requests)."""
    return [request for request in emu.requests if request.path == TASKS]


def api_video_urls(emu: Emulator, task_id: str) -> tuple[str, ...]:
    """The clip URLs of a finished task, as the API itself keeps them (it hands them out signed)."""
    view = emu.task(task_id)
    assert view is not None and view.response is not None
    return tuple(view.response["video_urls"])


def unsigned(urls: tuple[str, ...]) -> tuple[str, ...]:
    """Links without their expiry and signature."""
    return tuple(url.split("?", 1)[0] for url in urls)


async def eventually(condition: Any, within_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds (what it watches has no event to wait on)."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - the emulator's request log has no event to wait on
            await asyncio.sleep(0.01)


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers={"content-type": "application/json"}) as answer:
        text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text


async def test_a_callback_makes_the_bot_look_the_task_up_at_once(stack: Stack, emu: Emulator, store: Store) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    assert emu.requests[-1].body["callback_url"] == f"{stack.base_url}/acedata/callback/{SECRET}"

    emu.finish(job.task_id)
    began = time.perf_counter()
    done = await stack.engine.wait(job_id, timeout=5)

    assert time.perf_counter() - began < 1.0  # the next safety-net poll is a minute away
    assert done.status is JobStatus.SUCCEEDED and unsigned(done.video_urls) == api_video_urls(emu, job.task_id)
    assert stack.events.types(job_id)[-1] is JobEventType.SUCCEEDED
    assert [request.body["ids"] for request in lookups(emu)] == [[job.task_id]]
    await emu.wait_callbacks()
    [delivery] = emu.task(job.task_id).callbacks  # type: ignore[union-attr]
    assert delivery.delivered and delivery.status == 200
    assert stack.engine.tracked_count == 0


async def test_a_wrong_secret_gets_404_and_changes_nothing(
    stack: Stack, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    forged = {"success": True, "task_id": job.task_id, "video_id": "forged", "progress": 100}

    for path in ("/acedata/callback/wrong-secret", f"/acedata/callback/{SECRET}x", "/acedata/callback/"):
        status, _ = await post(http, stack.base_url + path, forged)
        assert status == 404

    after = await store.jobs.get_job(job_id)
    assert after == job and after.status is JobStatus.RUNNING
    assert stack.engine.tracked_count == 1


async def test_callbacks_disabled_answer_404(
    client: AceDataClient, store: Store, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock, secret=None)
    try:
        status, _ = await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", {"task_id": "t"})
        assert status == 404
    finally:
        await stack.web.stop()


async def test_a_duplicate_callback_and_a_poll_announce_the_result_once(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    emu.finish(job.task_id)
    await stack.engine.wait(job_id, timeout=5)
    await emu.wait_callbacks()
    final = emu.task(job.task_id).callbacks[0].payload  # type: ignore[union-attr]

    status, answer = await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", dict(final))
    assert (status, answer) == (200, {"ok": True})
    await stack.engine.poll_once()
    await stack.events.settle()

    assert stack.events.types(job_id).count(JobEventType.SUCCEEDED) == 1


async def test_a_lost_callback_is_caught_by_the_safety_net_poll(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    await stack.web.stop()  # the callback cannot be delivered
    emu.finish(job.task_id)
    assert await stack.engine.poll_once() == 1
    await stack.events.wait_for(job_id, JobEventType.SUCCEEDED)
    assert (await store.jobs.get_job(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_bad_callback_bodies_are_refused_and_unknown_tasks_acknowledged(
    stack: Stack, store: Store, http: aiohttp.ClientSession
) -> None:
    url = f"{stack.base_url}/acedata/callback/{SECRET}"
    assert (await post(http, url, b"not json"))[0] == 400
    assert (await post(http, url, [1, 2]))[0] == 400
    assert (await post(http, url, {"success": True}))[0] == 400
    assert (await post(http, url, b"x" * (2 << 20)))[0] == 413
    assert await post(http, url, {"task_id": "no-such-task", "success": True}) == (200, {"ok": False})
    assert await store.jobs.recent_jobs() == []


async def test_callbacks_arrive_under_the_public_url_path(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock, prefix="/mjbot")
    try:
        await stack.engine.start()
        job_id = await stack.engine.submit(VIDEO)
        assert (
            emu.requests[-1]
            .body["callback_url"]
            .endswith(f":{stack.base_url.rsplit(':', 1)[1]}/mjbot/acedata/callback/{SECRET}")
        )
        job = await store.jobs.get_job(job_id)
        assert job is not None and job.task_id
        emu.finish(job.task_id)
        assert (await stack.engine.wait(job_id, timeout=5)).status is JobStatus.SUCCEEDED
        unknown = {"task_id": "other", "success": True}
        assert (await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", unknown))[0] == 200  # prefix stripped
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_the_secret_never_reaches_the_log(
    stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", {"task_id": "t1", "success": True})
    await post(http, f"{stack.base_url}/acedata/callback/{SECRET}-wrong", {"task_id": "t1"})
    assert "/acedata/callback/***" in caplog.text
    assert SECRET not in caplog.text


async def test_healthz_is_503_until_the_engine_runs_and_names_the_part_that_fails(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    discord_problem: list[str | None] = ["not connected to Discord yet"]

    async def extra() -> Mapping[str, Any]:
        return {"discord_connected": discord_problem[0] is None, "problems": {"discord": discord_problem[0]}}

    stack = await open_stack(client, store, clock, health=extra)
    url = f"{stack.base_url}/healthz"
    try:
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 503
        assert body["unhealthy"] == ["discord", "engine"]
        assert body["reason"] == "engine: the job engine is not running; discord: not connected to Discord yet"

        await stack.engine.start()
        await stack.engine.submit(VIDEO)
        await stack.engine.poll_once()
        async with http.get(url) as answer:
            assert answer.status == 503
            assert (await answer.json())["unhealthy"] == ["discord"]  # the engine is fine now

        discord_problem[0] = None
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 200
        assert body["status"] == "ok" and body["unhealthy"] == [] and "reason" not in body
        assert body["tracked_jobs"] == 1 and body["last_poll_ok"] is True and body["api_problem"] is None
        assert body["version"] == __version__ and body["discord_connected"] is True
        assert body["last_poll_at"] == pytest.approx(clock.now)
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_healthz_reports_a_failing_api_but_stays_healthy_while_the_loop_ticks(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    try:
        await stack.engine.start()
        await stack.engine.submit(VIDEO)
        emu.inject_fault(500, path=TASKS, count=100)
        for _ in range(4):
            clock.advance(60)
            await stack.engine.poll_once()
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 200  # restarting the bot would not mend the provider
        assert body["last_poll_ok"] is False
        assert "no successful poll" in body["api_problem"] and "fetch failed" in body["api_problem"]
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_healthz_is_503_when_the_poll_loop_has_not_ticked_for_three_intervals(
    client: AceDataClient, store: Store, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    try:
        await stack.engine.start()
        while stack.engine.health().last_poll_at is None:  # noqa: ASYNC110 - the loop's first tick; then a minute
            await asyncio.sleep(0.01)
        interval = stack.engine.poll_interval_s
        clock.advance(interval * 2.5)  # late, but within three intervals
        async with http.get(url) as answer:
            assert answer.status == 200
        clock.advance(interval)  # the loop is stuck: nothing ticked for 3.5 intervals
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 503
        assert body["unhealthy"] == ["engine"] and "has not finished a tick" in body["reason"]
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_healthz_stays_healthy_while_a_poll_waits_on_a_hung_api_and_names_the_wait(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    poll: asyncio.Task[int] | None = None
    try:
        await stack.engine.start()
        await stack.engine.submit(VIDEO)
        emu.inject_fault(path=TASKS, delay_s=60)  # the tasks endpoint takes the request and does not answer
        poll = asyncio.create_task(stack.engine.poll_once())
        await eventually(lambda: len(lookups(emu)) == 1)
        clock.advance(stack.engine.poll_interval_s * 4)  # far past three intervals without a finished tick
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 200, body  # the loop is not stuck: it waits on the provider
        assert body["unhealthy"] == [] and "reason" not in body
        assert body["api_problem"].startswith("a poll has been waiting for the API for 240 s")
    finally:
        if poll is not None:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
        await stack.engine.stop()
        await stack.web.stop()


async def test_healthz_is_503_when_a_tick_is_stuck_outside_the_api(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """The API answers at once, but finishing the job waits on the store, which another program holds locked."""
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    holder = sqlite3.connect(store.location, isolation_level=None)
    poll: asyncio.Task[int] | None = None
    try:
        await stack.engine.start()
        job_id = await stack.engine.submit(VIDEO)
        clock.advance(700)  # the task is done at the API; saving that needs the store's write lock
        holder.execute("BEGIN IMMEDIATE")
        poll = asyncio.create_task(stack.engine.poll_once())
        await eventually(lambda: len(lookups(emu)) == 1)
        await asyncio.sleep(0.2)  # the answer is in; the tick now waits on SQLite (up to its busy timeout)
        assert not poll.done()
        clock.advance(stack.engine.poll_interval_s * 4)
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 503, body
        assert body["unhealthy"] == ["engine"] and "stuck for 240 s since the API answered" in body["reason"]
        assert body["api_problem"] is None  # the API did answer
        holder.execute("ROLLBACK")
        assert await poll == 1
        assert stack.events.types(job_id)[-1] is JobEventType.SUCCEEDED
    finally:
        holder.close()
        if poll is not None and not poll.done():
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
        await stack.engine.stop()
        await stack.web.stop()


def test_callback_url_helpers() -> None:
    assert callback_url_for("https://bot.example.com/", "s3cret") == "https://bot.example.com/acedata/callback/s3cret"
    assert callback_url_for("https://x.io/mj", "a/b") == "https://x.io/mj/acedata/callback/a%2Fb"
    assert callback_path_prefix("https://x.io/mj/") == "/mj"
    assert callback_path_prefix("https://x.io") == ""
    assert callback_path_prefix(None) == ""


async def test_a_callback_that_beats_the_submit_answer_is_not_lost(stack: Stack, emu: Emulator, store: Store) -> None:
    emu.settings.video_duration_s = 0.0  # the result is POSTed as soon as the task exists
    job_ids = [await stack.engine.submit(VIDEO) for _ in range(5)]
    for job_id in job_ids:
        assert (await stack.engine.wait(job_id, timeout=5)).status is JobStatus.SUCCEEDED


class SlowToSave(JobRepository):
    """Job rows on which the API's callback overtakes the saving of the task id."""

    emulator: Emulator

    async def mark_submitted(self, job_id: str, task_id: str) -> Job:
        self.emulator.finish(task_id)
        await self.emulator.wait_callbacks()
        return await super().mark_submitted(job_id, task_id)


async def test_a_callback_before_the_task_id_is_saved_is_applied_after_it(
    client: AceDataClient, tmp_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    slow = await Store.open(tmp_path / "slow.sqlite3", clock=clock)
    slow.jobs = SlowToSave(slow._db)
    slow.jobs.emulator = emu
    stack = await open_stack(client, slow, clock)
    try:
        job_id = await stack.engine.submit(VIDEO)
        done = await stack.engine.wait(job_id, timeout=5)
        assert done.status is JobStatus.SUCCEEDED
        await stack.events.settle()
        assert stack.events.types(job_id) == [JobEventType.SUBMITTED, JobEventType.SUCCEEDED]
        [delivery] = emu.task(done.task_id).callbacks  # type: ignore[arg-type, union-attr]
        assert delivery.status == 200
    finally:
        await stack.web.stop()
        await slow.close()


# -- a callback is a hint: the API's answer decides ---------------------------------------------------------


async def test_a_forged_success_callback_does_not_finish_a_running_job(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    forged = {
        "success": True,
        "task_id": job.task_id,
        "progress": 100,
        "video_id": "forged-video",
        "video_urls": ["http://10.0.0.7/forged.mp4"] * 4,
    }

    assert await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", forged) == (200, {"ok": True})
    await eventually(lambda: len(lookups(emu)) == 1)  # the bot asked the API ...
    await asyncio.sleep(0.1)
    running = await store.jobs.get_job(job_id)  # ... which says the task is still running
    assert running is not None and running.status is JobStatus.RUNNING and running.video_id is None
    assert stack.engine.tracked_count == 1

    emu.finish(job.task_id)  # the API's own callback; the answer to its lookup finishes the job
    done = await stack.engine.wait(job_id, timeout=5)
    assert done.status is JobStatus.SUCCEEDED
    assert done.video_id == emu.task(job.task_id).video_id != "forged-video"  # type: ignore[union-attr]
    assert unsigned(done.video_urls) == api_video_urls(emu, job.task_id)
    assert stack.events.types(job_id).count(JobEventType.SUCCEEDED) == 1


async def test_a_forged_failure_callback_does_not_fail_a_running_job(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.jobs.get_job(job_id)
    assert job is not None and job.task_id
    forged = {"success": False, "task_id": job.task_id, "error": {"code": "failed", "message": "forged failure"}}

    assert await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", forged) == (200, {"ok": True})
    await eventually(lambda: len(lookups(emu)) == 1)
    await asyncio.sleep(0.1)

    after = await store.jobs.get_job(job_id)
    assert after is not None and after.status is JobStatus.RUNNING and after.error_message is None
    assert JobEventType.FAILED not in stack.events.types(job_id)


async def test_a_callback_for_an_unknown_task_costs_no_api_call(
    stack: Stack, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    await stack.engine.submit(VIDEO)
    url = f"{stack.base_url}/acedata/callback/{SECRET}"
    for task_id in ("no-such-task", "3f1c2a9e-0000-4000-8000-000000000000"):
        assert await post(http, url, {"task_id": task_id, "success": True, "progress": 100}) == (200, {"ok": False})
    await asyncio.sleep(0.1)
    assert lookups(emu) == []


async def test_callbacks_arriving_together_share_one_lookup(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_ids = [await stack.engine.submit(VIDEO) for _ in range(40)]
    task_ids = [job.task_id for job in (await store.jobs.jobs_by_ids(job_ids)).values()]
    url = f"{stack.base_url}/acedata/callback/{SECRET}"

    answers = await asyncio.gather(*(post(http, url, {"task_id": task_id}) for task_id in task_ids))

    assert answers == [(200, {"ok": True})] * len(task_ids)
    await eventually(lambda: sum(len(request.body["ids"]) for request in lookups(emu)) >= len(task_ids))
    await asyncio.sleep(0.1)
    asked = [task_id for request in lookups(emu) for task_id in request.body["ids"]]
    assert sorted(asked) == sorted(task_ids)  # each task asked about once ...
    assert len(lookups(emu)) <= 4  # ... in a few requests, not one per callback


async def test_a_steady_stream_of_callbacks_shares_lookups(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_ids = [await stack.engine.submit(VIDEO) for _ in range(100)]
    task_ids = [job.task_id for job in (await store.jobs.jobs_by_ids(job_ids)).values()]
    url = f"{stack.base_url}/acedata/callback/{SECRET}"

    for task_id in task_ids:  # 100 callbacks in about a second, one every 10 ms
        assert await post(http, url, {"task_id": task_id}) == (200, {"ok": True})
        await asyncio.sleep(0.01)
    await eventually(lambda: sum(len(request.body["ids"]) for request in lookups(emu)) >= len(task_ids))

    asked = [task_id for request in lookups(emu) for task_id in request.body["ids"]]
    assert sorted(asked) == sorted(task_ids)
    assert len(lookups(emu)) <= 50  # requests start at least 25 ms apart


async def test_a_flood_of_callbacks_costs_about_one_lookup_per_task_per_second(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_ids = [await stack.engine.submit(VIDEO) for _ in range(3)]
    task_ids = [job.task_id for job in (await store.jobs.jobs_by_ids(job_ids)).values()]
    url = f"{stack.base_url}/acedata/callback/{SECRET}"

    began = time.monotonic()
    for round_ in range(60):
        progress = {"success": True, "progress": round_, "video_urls": []}
        await asyncio.gather(*(post(http, url, {**progress, "task_id": task_id}) for task_id in task_ids))
        await asyncio.sleep(0.02)
    flood_s = time.monotonic() - began
    await asyncio.sleep(1.2)  # the last deferred lookup

    seconds = int(flood_s) + 1
    for task_id in task_ids:
        asked = sum(request.body["ids"].count(task_id) for request in lookups(emu))
        assert 1 <= asked <= seconds + 1, (asked, flood_s)
    assert len(lookups(emu)) <= seconds + 1  # the three tasks share each request
    assert all(job.status is JobStatus.RUNNING for job in (await store.jobs.jobs_by_ids(job_ids)).values())


async def test_ndjson_progress_callbacks_are_hints_too(
    tmp_path: Path, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    """The emulator's ``ndjson + callback`` mode POSTs a snapshot at every step: each one may start a lookup,
    at most one a second, and the progress shown is the API's."""
    emulator = Emulator(EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=1.2, video_duration_s=1.2))
    await emulator.start()
    store = await Store.open(tmp_path / "ndjson.sqlite3", clock=clock)
    client = AceDataClient(http, token=TOKEN, base_url=emulator.url, retry=RetryPolicy(attempts=2), sleep=no_sleep)
    stack = await open_stack(client, store, clock)
    try:
        job = await store.jobs.create_job(NewJob(JobKind.VIDEO, "generate", VIDEO.prompt, params=VIDEO.to_body()))
        body = {**VIDEO.to_body(), "callback_url": f"{stack.base_url}/acedata/callback/{SECRET}"}
        headers = {"authorization": f"Bearer {TOKEN}", "accept": "application/x-ndjson"}
        async with http.post(f"{emulator.url}/midjourney/videos", json=body, headers=headers) as answer:
            task_id = (await answer.json())["task_id"]
        await store.jobs.mark_submitted(job.id, task_id)
        await stack.engine.start()  # follows the job; its safety-net poll is a minute away

        done = await stack.engine.wait(job.id, timeout=6)

        assert done.status is JobStatus.SUCCEEDED and unsigned(done.video_urls) == api_video_urls(emulator, task_id)
        await emulator.wait_callbacks()
        snapshots = emulator.task(task_id).callbacks  # type: ignore[union-attr]
        assert len(snapshots) == 6 and all(delivery.status == 200 for delivery in snapshots)
        # Six callbacks in 1.2 s: the start-up poll, then at most one lookup a second (at 0, 1 and 2 s).
        assert len(lookups(emulator)) <= 4
        shown = [event.job.progress for event in stack.events.of(job.id, JobEventType.PROGRESS)]
        assert shown and all(0 < value < 100 for value in shown)
    finally:
        await stack.engine.stop()
        await stack.web.stop()
        await store.close()
        await emulator.stop()


# -- what the listener does with bodies it cannot use ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 100_000, 400),
        (b'{"task_id": "t", "progress": ' + b"[" * 100_000, 400),
        (b"{" + b'"a":{' * 50_000, 400),
        (b"x" * (2 << 20), 413),
        (b'{"task_id": "\xff\xfe"}', 400),
        (b"\xef\xbb\xbf\x00\xd8", 400),
        (b'["a list", {"task_id": "t"}]', 400),
        (b'"a string"', 400),
        (b"12", 400),
        (b"null", 400),
        (b'{"success": true, "progress": 100}', 400),
        (b'{"task_id": {"nested": ["t"]}}', 400),
        (b'{"task_id": "' + b"t" * 5000 + b'"}', 400),
        (b'{"task_id": "t\\nINFO forged log line"}', 400),
        (b"", 400),
    ],
    ids=lambda value: str(value)[:24] if isinstance(value, bytes) else str(value),
)
async def test_bodies_it_cannot_use_get_a_clear_4xx_and_no_traceback(
    stack: Stack,
    emu: Emulator,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    expected: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    status, answer = await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", body)

    assert status == expected
    if status == 400:
        assert answer["ok"] is False and answer["error"].startswith("the callback")
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    assert lookups(emu) == []


@pytest.mark.parametrize(
    "body",
    [
        {"task_id": "t", "progress": [[["deep"]]], "video_urls": {"a": 1}, "error": [1]},
        {"task_id": "t", "success": "yes", "image_width": "wide", "actions": 7, "sub_image_urls": "x"},
        {"task_id": "t", "error": {"code": {"x": 1}, "message": ["m"]}, "progress": 1e308},
    ],
)
async def test_odd_fields_beside_a_task_id_are_answered_not_crashed_on(
    stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, body: dict[str, Any]
) -> None:
    status, _ = await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", body)
    assert status in (200, 400)
    assert not [record for record in caplog.records if record.exc_info]


async def test_a_task_search_hung_on_the_api_is_the_apis_problem_not_a_stuck_loop(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    poll: asyncio.Task[int] | None = None
    try:
        await stack.engine.start()
        emu.inject_fault(path="/midjourney/videos", drop=True, count=5)  # the submit's answer is lost: unconfirmed
        with contextlib.suppress(AceDataError):
            await stack.engine.submit(VIDEO)
        clock.advance(30)
        emu.inject_fault(path=TASKS, delay_s=60, count=50)  # then the API hangs, the task search with it
        before = len(lookups(emu))
        poll = asyncio.create_task(stack.engine.poll_once())
        await eventually(lambda: len(lookups(emu)) > before)
        clock.advance(stack.engine.poll_interval_s * 4)
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 200, body  # restarting the bot would not mend the provider
        assert body["unhealthy"] == [] and "waiting for the API" in body["api_problem"]
    finally:
        if poll is not None:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
        await stack.engine.stop()
        await stack.web.stop()
